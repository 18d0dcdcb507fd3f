package node

import (
	"go.uber.org/zap"

	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigilkv/vigil/internal/glob"
	"github.com/vigilkv/vigil/node/keyspace"
)

// serverCommands: INFO COMMAND DBSIZE FLUSHDB FLUSHALL SWAPDB TIME LASTSAVE
// ROLE MEMORY DEBUG SHUTDOWN SLOWLOG MONITOR.
func serverCommands() []*Command {
	adm := []string{"admin", "slow", "dangerous"}
	srv := func(cmd *Command) *Command {
		if cmd.Group == "" {
			cmd.Group = "server"
		}
		return cmd
	}
	sub := func(parent, name string, arity int, flags Flag, cats []string, summary string, h func(*Ctx)) *Command {
		return srv(&Command{Name: parent + "|" + name, Arity: arity, Flags: flags, Categories: cats,
			Since: "2.8.13", Summary: summary, Complexity: "O(1)", Handler: h})
	}
	cmdCats := []string{"slow", "connection"}
	return []*Command{
		srv(&Command{Name: "info", Arity: -1, Flags: FlagLoading | FlagStale, Categories: []string{"slow", "dangerous"}, Since: "1.0.0",
			Summary: "Get information and statistics about the server", Complexity: "O(1)", Handler: cmdInfo}),
		srv(&Command{Name: "dbsize", Arity: 1, Flags: FlagReadonly | FlagFast, Categories: []string{"keyspace", "read", "fast"}, Since: "1.0.0",
			Summary: "Return the number of keys in the selected database", Complexity: "O(1)", Handler: func(c *Ctx) { c.W.Int(int64(c.DB.Len())) }}),
		srv(&Command{Name: "flushdb", Arity: -1, Flags: FlagWrite, Categories: []string{"keyspace", "write", "slow", "dangerous"}, Since: "1.0.0",
			Summary: "Remove all keys from the current database", Complexity: "O(N) where N is the number of keys in the selected database", Handler: func(c *Ctx) { flushGeneric(c, false) }}),
		srv(&Command{Name: "flushall", Arity: -1, Flags: FlagWrite, Categories: []string{"keyspace", "write", "slow", "dangerous"}, Since: "1.0.0",
			Summary: "Remove all keys from all databases", Complexity: "O(N) where N is the total number of keys in all databases", Handler: func(c *Ctx) { flushGeneric(c, true) }}),
		srv(&Command{Name: "swapdb", Arity: 3, Flags: FlagWrite | FlagFast, Categories: []string{"keyspace", "write", "fast", "dangerous"}, Since: "4.0.0",
			Summary: "Swaps two Redis databases", Complexity: "O(N) where N is the count of clients watching or blocking on keys from both databases.", Handler: cmdSwapDB}),
		srv(&Command{Name: "time", Arity: 1, Flags: FlagLoading | FlagStale | FlagFast, Categories: []string{"fast"}, Since: "2.6.0",
			Summary: "Return the current server time", Complexity: "O(1)", Handler: cmdTime}),
		srv(&Command{Name: "lastsave", Arity: 1, Flags: FlagLoading | FlagStale | FlagFast, Categories: []string{"fast", "dangerous"}, Since: "1.0.0",
			Summary: "Get the UNIX time stamp of the last successful save to disk", Complexity: "O(1)", Handler: func(c *Ctx) { c.W.Int(c.Srv.lastSave.Unix()) }}),
		srv(&Command{Name: "role", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast, Categories: []string{"admin", "fast", "dangerous"}, Since: "2.8.12",
			Summary: "Return the role of the instance in the context of replication", Complexity: "O(1)", Handler: cmdRole}),
		srv(&Command{Name: "shutdown", Arity: -1, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagNoMulti | FlagAllowBusy, Categories: adm, Since: "1.0.0",
			Summary: "Synchronously save the dataset to disk and then shut down the server", Complexity: "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)", Handler: cmdShutdown}),
		srv(&Command{Name: "monitor", Arity: 1, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale, Categories: adm, Since: "1.0.0",
			Summary: "Listen for all requests received by the server in real time", Complexity: "", Handler: cmdMonitor}),
		srv(&Command{Name: "command", Arity: -1, Flags: FlagLoading | FlagStale, Categories: cmdCats, Since: "2.8.13",
			Summary: "Get array of Redis command details", Complexity: "O(N) where N is the total number of Redis commands", Handler: cmdCommandAll,
			Subcommands: map[string]*Command{
				"count":           sub("command", "count", 2, FlagLoading|FlagStale, cmdCats, "Get total number of Redis commands", func(c *Ctx) { c.W.Int(int64(len(c.Srv.cmds.byName))) }),
				"info":            sub("command", "info", -2, FlagLoading|FlagStale, cmdCats, "Get array of specific Redis command details, or all when no argument is given.", cmdCommandInfo),
				"docs":            sub("command", "docs", -2, FlagLoading|FlagStale, cmdCats, "Get array of specific Redis command documentation", cmdCommandDocs),
				"list":            sub("command", "list", -2, FlagLoading|FlagStale, cmdCats, "Get an array of Redis command names", cmdCommandList),
				"getkeys":         sub("command", "getkeys", -3, FlagLoading|FlagStale, cmdCats, "Extract keys given a full Redis command", cmdCommandGetKeys),
				"help":            sub("command", "help", 2, FlagLoading|FlagStale, cmdCats, "Show helpful text about the different subcommands", cmdCommandHelp),
				"getkeysandflags": sub("command", "getkeysandflags", -3, FlagLoading|FlagStale, cmdCats, "Extract keys and access flags given a full Redis command", cmdCommandGetKeys),
			}}),
		srv(&Command{Name: "memory", Arity: -2, Categories: []string{"slow"}, Since: "4.0.0", Summary: "A container for memory diagnostics commands",
			Complexity: "Depends on subcommand.", Subcommands: map[string]*Command{
				"usage": {Name: "memory|usage", Arity: -3, Flags: FlagReadonly, FirstKey: 2, LastKey: 2, KeyStep: 1, Categories: []string{"read", "slow"}, Group: "server", Since: "4.0.0", Summary: "Estimate the memory usage of a key", Complexity: "O(N) where N is the number of samples.", Handler: cmdMemoryUsage},
				"stats": sub("memory", "stats", 2, 0, []string{"slow"}, "Show memory usage details", cmdMemoryStats),
				"doctor": sub("memory", "doctor", 2, 0, []string{"slow"}, "Outputs memory problems report", func(c *Ctx) {
					c.W.Verbatim("txt", "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.")
				}),
				"purge": sub("memory", "purge", 2, 0, []string{"slow"}, "Ask the allocator to release memory", func(c *Ctx) { c.Srv.mem.purge(); c.W.OK() }),
				"help": sub("memory", "help", 2, FlagLoading|FlagStale, []string{"slow"}, "Show helpful text about the different subcommands", func(c *Ctx) {
					c.ReplyHelp("DOCTOR", "    Return memory problems reports.", "MALLOC-STATS",
						"    Return internal statistics report from the memory allocator.", "PURGE",
						"    Attempt to purge dirty pages for reclamation by the allocator.", "STATS",
						"    Return information about the memory usage of the server.",
						"USAGE <key> [SAMPLES <count>]",
						"    Return memory in bytes used by <key> and its value. Nested values are",
						"    sampled up to <count> times (default: 5, 0 means sample all).")
				}),
			}}),
		srv(&Command{Name: "debug", Arity: -2, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale, Categories: adm, Since: "1.0.0",
			Summary: "A container for debugging commands", Complexity: "Depends on subcommand.", Handler: cmdDebug}),
		srv(&Command{Name: "slowlog", Arity: -2, Categories: []string{"slow"}, Since: "2.2.12", Summary: "A container for slow log commands",
			Complexity: "Depends on subcommand.", Subcommands: map[string]*Command{
				"get":   sub("slowlog", "get", -2, FlagAdmin|FlagLoading|FlagStale, adm, "Get the slow log's entries", cmdSlowlogGet),
				"len":   sub("slowlog", "len", 2, FlagAdmin|FlagLoading|FlagStale, adm, "Get the slow log's length", func(c *Ctx) { c.W.Int(int64(len(c.Srv.diag.slowlog))) }),
				"reset": sub("slowlog", "reset", 2, FlagAdmin|FlagLoading|FlagStale, adm, "Clear all entries from the slow log", func(c *Ctx) { c.Srv.diag.slowlog = nil; c.W.OK() }),
				"help": sub("slowlog", "help", 2, FlagLoading|FlagStale, []string{"slow"}, "Show helpful text about the different subcommands", func(c *Ctx) {
					c.ReplyHelp("GET [<count>]",
						"    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
						"    Entries are made of:",
						"    id, timestamp, time in microseconds, arguments array, client IP and port,",
						"    client name",
						"LEN",
						"    Return the length of the slowlog.",
						"RESET",
						"    Reset the slowlog.")
				}),
			}}),
	}
}

func flushGeneric(c *Ctx, all bool) {
	if len(c.Args) > 2 || (len(c.Args) == 2 && !c.ArgIs(1, "async") && !c.ArgIs(1, "sync")) {
		c.SyntaxError()
		return
	}
	s := c.Srv
	dbs := []*keyspace.DB{c.DB}
	if all {
		dbs = s.ks.DBs
	}
	n := 0
	for _, db := range dbs {
		s.TouchAllInDB(db, nil)
		n += db.Flush()
	}
	c.Changed(int64(n))
	if n == 0 {
		// Redis propagates a flush even of an empty dataset.
		c.Propagate(c.Args...)
	}
	if all && len(parseSaveParams(s.cfg.Save)) > 0 && !s.persist.saving {
		// As Redis: with save points configured, FLUSHALL persists the
		// empty dataset at once.
		if s.saveSync() == nil {
			s.dirty -= int64(n)
		}
	}
	c.W.OK()
}

func cmdSwapDB(c *Ctx) {
	// Both parsed before either is range-checked, as in Redis.
	a, ok := c.Int32Err(1, "ERR invalid first DB index")
	if !ok {
		return
	}
	b, ok := c.Int32Err(2, "ERR invalid second DB index")
	if !ok {
		return
	}
	n := int64(len(c.Srv.ks.DBs))
	if a < 0 || a >= n || b < 0 || b >= n {
		c.Error(ErrDBIndex)
		return
	}
	if a != b {
		da, db := c.Srv.ks.DBs[a], c.Srv.ks.DBs[b]
		c.Srv.TouchAllInDB(da, db)
		da.SwapContents(db)
		c.Srv.blocking.signalAllIn(int(a), int(b))
	}
	c.Changed(1)
	c.W.OK()
}

func cmdTime(c *Ctx) {
	now := c.Srv.clock()
	c.W.Array(2)
	c.W.BulkString(strconv.FormatInt(now.Unix(), 10))
	c.W.BulkString(strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
}

func cmdRole(c *Ctx) {
	s := c.Srv
	if s.repl.isReplica() {
		c.W.Array(5)
		c.W.BulkString("slave")
		c.W.BulkString(s.repl.masterHost)
		c.W.Int(int64(s.repl.masterPort))
		c.W.BulkString(s.repl.linkState())
		c.W.Int(s.repl.Offset())
		return
	}
	c.W.Array(3)
	c.W.BulkString("master")
	c.W.Int(s.repl.Offset())
	c.W.Array(s.repl.visibleReplicas())
	for _, ri := range s.repl.replicas {
		if ri.hidden {
			continue
		}
		ip := ri.ip
		if ip == "" {
			ip = hostOf(ri.cl.Addr())
		}
		c.W.Array(3)
		c.W.BulkString(ip)
		c.W.BulkString(strconv.Itoa(ri.listenPort))
		c.W.BulkString(strconv.FormatInt(ri.ackOffset, 10))
	}
}

func cmdShutdown(c *Ctx) {
	for i := 1; i < len(c.Args); i++ {
		switch {
		case c.ArgIs(i, "nosave"), c.ArgIs(i, "save"), c.ArgIs(i, "now"), c.ArgIs(i, "force"):
		case c.ArgIs(i, "abort"):
			c.Error("ERR No shutdown in progress.")
			return
		default:
			c.SyntaxError()
			return
		}
	}
	s := c.Srv
	save := len(parseSaveParams(s.cfg.Save)) > 0
	for i := 1; i < len(c.Args); i++ {
		if c.ArgIs(i, "nosave") {
			save = false
		} else if c.ArgIs(i, "save") {
			save = true
		}
	}
	s.log.Warn("User requested shutdown...")
	if save {
		s.log.Info("saving the final RDB snapshot before exiting")
		if err := s.saveSync(); err != nil {
			s.log.Warn("error trying to save the DB, can't exit", zap.Error(err))
			c.Error("ERR Errors trying to SHUTDOWN. Check logs.")
			return
		}
	}
	// The connection closes without a reply, as in Redis.
	c.Client.Flags |= ClientCloseAfterReply
	go c.Srv.Shutdown()
}

func cmdMonitor(c *Ctx) {
	cl := c.Client
	if cl.Flags&ClientMonitor != 0 {
		c.W.OK()
		return
	}
	cl.Flags |= ClientMonitor
	c.Srv.diag.monitors = append(c.Srv.diag.monitors, cl)
	c.W.OK()
	cl.enableAsync()
}

// commandNames lists top-level commands sorted by name.
func cmdCommandAll(c *Ctx) {
	cmds := c.Srv.cmds.sorted()
	c.W.Array(len(cmds))
	for _, cmd := range cmds {
		writeCommandInfo(c, cmd)
	}
}

func cmdCommandInfo(c *Ctx) {
	if len(c.Args) == 2 {
		cmdCommandAll(c)
		return
	}
	c.W.Array(len(c.Args) - 2)
	for i := 2; i < len(c.Args); i++ {
		cmd := c.Srv.lookupCommandPath(c.Str(i))
		if cmd == nil {
			c.W.NullArray()
			continue
		}
		writeCommandInfo(c, cmd)
	}
}

// lookupCommandPath finds "get" or "config|get".
func (s *Server) lookupCommandPath(name string) *Command {
	name = strings.ToLower(name)
	parent, subName, hasSub := strings.Cut(name, "|")
	cmd := s.cmds.byName[parent]
	if cmd == nil || !hasSub {
		return cmd
	}
	return cmd.Subcommands[subName]
}

func firstKeyInfo(cmd *Command) (first, last, step int) {
	if cmd.Keys != nil && cmd.FirstKey == 0 {
		return 0, 0, 0
	}
	return cmd.FirstKey, cmd.LastKey, cmd.KeyStep
}

func writeCommandInfo(c *Ctx, cmd *Command) {
	w := c.W
	w.Array(10)
	w.BulkString(cmd.Name)
	w.Int(int64(cmd.Arity))
	flags := cmd.Flags.Names()
	w.Set(len(flags))
	for _, f := range flags {
		w.Simple(f)
	}
	first, last, step := firstKeyInfo(cmd)
	w.Int(int64(first))
	w.Int(int64(last))
	w.Int(int64(step))
	w.Set(len(cmd.Categories))
	for _, cat := range cmd.Categories {
		w.Simple("@" + cat)
	}
	w.Array(0) // tips
	w.Array(0) // key specs
	subs := sortedSubcommands(cmd)
	w.Array(len(subs))
	for _, s := range subs {
		writeCommandInfo(c, s)
	}
}

func sortedSubcommands(cmd *Command) []*Command {
	out := make([]*Command, 0, len(cmd.Subcommands))
	for _, s := range cmd.Subcommands {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func cmdCommandDocs(c *Ctx) {
	var cmds []*Command
	if len(c.Args) == 2 {
		cmds = c.Srv.cmds.sorted()
	} else {
		for i := 2; i < len(c.Args); i++ {
			if cmd := c.Srv.lookupCommandPath(c.Str(i)); cmd != nil {
				cmds = append(cmds, cmd)
			}
		}
	}
	c.W.Map(len(cmds))
	for _, cmd := range cmds {
		c.W.BulkString(cmd.Name)
		writeCommandDoc(c, cmd)
	}
}

func writeCommandDoc(c *Ctx, cmd *Command) {
	w := c.W
	subs := sortedSubcommands(cmd)
	n := 4
	if len(subs) > 0 {
		n++
	}
	w.Map(n)
	w.BulkString("summary")
	w.BulkString(cmd.Summary)
	w.BulkString("since")
	w.BulkString(cmd.Since)
	w.BulkString("group")
	group := cmd.Group
	if group == "" {
		group = "server"
	}
	w.BulkString(group)
	w.BulkString("complexity")
	w.BulkString(cmd.Complexity)
	if len(subs) > 0 {
		w.BulkString("subcommands")
		w.Map(len(subs))
		for _, s := range subs {
			w.BulkString(s.Name)
			writeCommandDoc(c, s)
		}
	}
}

func cmdCommandList(c *Ctx) {
	var pattern, category string
	if len(c.Args) > 2 {
		if len(c.Args) != 5 || !c.ArgIs(2, "filterby") {
			c.SyntaxError()
			return
		}
		switch {
		case c.ArgIs(3, "pattern"):
			pattern = c.Str(4)
		case c.ArgIs(3, "aclcat"):
			category = strings.ToLower(c.Str(4))
		case c.ArgIs(3, "module"):
			c.W.Array(0)
			return
		default:
			c.SyntaxError()
			return
		}
	}
	var names []string
	add := func(cmd *Command) {
		if pattern != "" && !glob.MatchString(pattern, cmd.Name, true) {
			return
		}
		if category != "" {
			found := false
			for _, cat := range cmd.Categories {
				found = found || cat == category
			}
			if !found {
				return
			}
		}
		names = append(names, cmd.Name)
	}
	for _, cmd := range c.Srv.cmds.sorted() {
		add(cmd)
		for _, s := range sortedSubcommands(cmd) {
			add(s)
		}
	}
	c.W.Array(len(names))
	for _, n := range names {
		c.W.BulkString(n)
	}
}

func cmdCommandGetKeys(c *Ctx) {
	args := c.Args[2:]
	cmd := c.Srv.cmds.lookup(args[0])
	if cmd == nil {
		c.Error("ERR Invalid command specified")
		return
	}
	if cmd.Subcommands != nil && len(args) >= 2 {
		if sub := cmd.Subcommands[strings.ToLower(string(args[1]))]; sub != nil {
			cmd = sub
		}
	}
	if (cmd.Arity > 0 && len(args) != cmd.Arity) || len(args) < -cmd.Arity {
		c.Error("ERR Invalid number of arguments specified for command")
		return
	}
	idx := cmd.KeyIndexes(args)
	if len(idx) == 0 {
		c.Error("ERR The command has no key arguments")
		return
	}
	c.W.Array(len(idx))
	for _, i := range idx {
		c.W.Bulk(args[i])
	}
}

func cmdCommandHelp(c *Ctx) {
	c.ReplyHelp(
		"(no subcommand)",
		"    Return details about all Redis commands.",
		"COUNT",
		"    Return the total number of commands in this Redis server.",
		"LIST",
		"    Return a list of all commands in this Redis server.",
		"INFO [<command-name> ...]",
		"    Return details about multiple Redis commands.",
		"    If no command names are given, documentation details for all",
		"    commands are returned.",
		"DOCS [<command-name> ...]",
		"    Return documentation details about multiple Redis commands.",
		"    If no command names are given, documentation details for all",
		"    commands are returned.",
		"GETKEYS <full-command>",
		"    Return the keys from a full Redis command.",
		"GETKEYSANDFLAGS <full-command>",
		"    Return the keys and the access flags from a full Redis command.",
	)
}

func cmdMemoryUsage(c *Ctx) {
	for i := 3; i < len(c.Args); i += 2 {
		if !c.ArgIs(i, "samples") || i+1 >= len(c.Args) {
			c.SyntaxError()
			return
		}
		if _, ok := c.Int(i + 1); !ok {
			return
		}
	}
	key := c.Key(2)
	v := lookupNoTouch(c, key)
	if v == nil {
		c.W.Null()
		return
	}
	c.W.Int(int64(v.MemoryUsage(key)))
}

func cmdMemoryStats(c *Ctx) {
	s := c.Srv
	used := s.usedMemory()
	w := c.W
	keys := 0
	for _, db := range s.ks.DBs {
		keys += db.Len()
	}
	w.Map(6)
	w.BulkString("peak.allocated")
	w.Int(used)
	w.BulkString("total.allocated")
	w.Int(used)
	w.BulkString("startup.allocated")
	w.Int(baseMemory)
	w.BulkString("keys.count")
	w.Int(int64(keys))
	w.BulkString("dataset.bytes")
	w.Int(s.ks.UsedMemory())
	w.BulkString("rss")
	w.Int(processRSS())
}

// debugAllowed applies enable-debug-command.
func debugAllowed(c *Ctx) bool {
	switch c.Srv.cfg.EnableDebugCommand {
	case "yes":
		return true
	case "local":
		if c.Client.isLocal() {
			return true
		}
	}
	c.Error("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.")
	return false
}

func cmdDebug(c *Ctx) {
	if !debugAllowed(c) {
		return
	}
	s := c.Srv
	switch {
	case c.ArgIs(1, "help"):
		c.ReplyHelp("DIGEST", "    Output a hex signature representing the current DB content.",
			"DIGEST-VALUE <key> [<key> ...]", "    Output a hex signature of the values of all the specified keys.",
			"OBJECT <key>", "    Show low level info about the key and associated value.",
			"POPULATE <count> [<prefix>] [<size>]", "    Create <count> string keys named key:<num>. If <prefix> is specified then",
			"    it is used instead of the 'key' prefix. These are not propagated to",
			"    replicas. Cluster slots are not respected so keys not belonging to the",
			"    current node can be created in cluster mode.",
			"SET-ACTIVE-EXPIRE <0|1>", "    Setting it to 0 disables expiring keys in background when they are not",
			"    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
			"    default.",
			"LOADAOF", "    Flush the AOF buffers on disk and reload the AOF in memory.",
			"RELOAD", "    Save the RDB on disk and reload it back to memory.",
			"SLEEP <seconds>", "    Stop the server for <seconds>. Decimals allowed.",
			"CHANGE-REPL-ID", "    Change the replication IDs of the instance.",
			"    Dangerous: should be used only for testing the replication subsystem.")
	case c.ArgIs(1, "sleep") && len(c.Args) == 3:
		secs, ok := ParseFloat(c.Args[2])
		if !ok {
			c.Error(ErrNotFloat)
			return
		}
		// Like Redis, the whole server stops: the lock is held.
		time.Sleep(time.Duration(secs * float64(time.Second)))
		c.W.OK()
	case c.ArgIs(1, "reload"):
		debugReload(c)
	case c.ArgIs(1, "loadaof"):
		debugLoadAOF(c)
	case c.ArgIs(1, "set-active-expire") && len(c.Args) == 3:
		s.ks.Config.NoActiveExpire = c.ArgIs(2, "0")
		c.W.OK()
	case c.ArgIs(1, "object") && len(c.Args) == 3:
		key := c.Key(2)
		v := lookupNoTouch(c, key)
		if v == nil {
			c.Error(ErrNoSuchKey)
			return
		}
		c.W.Simple(fmt.Sprintf("Value at:%p refcount:%d encoding:%s serializedlength:%d lru:%d lru_seconds_idle:%d",
			v, objectRefcount(c, v), v.Encoding(), v.Len(), s.ks.LRUClock()&0xffffff, s.ks.IdleMs(v)/1000))
	case c.ArgIs(1, "digest") && len(c.Args) == 2:
		c.W.Simple(hex.EncodeToString(s.datasetDigest()))
	case c.ArgIs(1, "digest-value") && len(c.Args) >= 2:
		c.W.Array(len(c.Args) - 2)
		for i := 2; i < len(c.Args); i++ {
			v := lookupNoTouch(c, c.Key(i))
			var d [20]byte
			if v != nil {
				d = valueDigest(v)
			}
			c.W.Simple(hex.EncodeToString(d[:]))
		}
	case c.ArgIs(1, "populate") && len(c.Args) >= 3 && len(c.Args) <= 5:
		n, ok := c.Int(2)
		if !ok {
			return
		}
		if n < 0 {
			c.Error("ERR count can't be negative")
			return
		}
		prefix := "key"
		if len(c.Args) >= 4 {
			prefix = c.Str(3)
		}
		size := int64(-1)
		if len(c.Args) == 5 {
			if size, ok = c.Int(4); !ok {
				return
			}
		}
		for i := int64(0); i < n; i++ {
			key := prefix + ":" + strconv.FormatInt(i, 10)
			if c.DB.LookupWrite(key) != nil {
				continue
			}
			val := "value:" + strconv.FormatInt(i, 10)
			if size >= 0 {
				b := make([]byte, size)
				copy(b, val)
				val = string(b)
			}
			c.DB.Add(key, keyspace.NewString(val))
		}
		c.W.OK()
	case c.ArgIs(1, "change-repl-id"):
		s.repl.changeReplID()
		c.W.OK()
	case c.ArgIs(1, "quicklist-packed-threshold"), c.ArgIs(1, "stringmatch-len"):
		c.W.OK()
	default:
		c.Error("ERR unknown subcommand '" + truncArg(c.Args[1], 128) + "'. Try DEBUG HELP.")
	}
}

// datasetDigest is DEBUG DIGEST: an order-independent checksum of every
// key, value and expiry (all zeros for an empty dataset), equal on two
// nodes holding the same data whatever their encodings.
func (s *Server) datasetDigest() []byte {
	var acc [20]byte
	empty := true
	for _, db := range s.ks.DBs {
		db.ForEach(func(key string, v *keyspace.Value) bool {
			if db.IsLogicallyExpired(key) {
				return true
			}
			empty = false
			h := sha1.New()
			var n [8]byte
			binary.LittleEndian.PutUint64(n[:], uint64(db.ID))
			h.Write(n[:])
			h.Write([]byte(key))
			d := valueDigest(v)
			h.Write(d[:])
			if at, ok := db.Expire(key); ok {
				binary.LittleEndian.PutUint64(n[:], uint64(at))
				h.Write(n[:])
			}
			var sum [20]byte
			h.Sum(sum[:0])
			for i := range acc {
				acc[i] ^= sum[i]
			}
			return true
		})
	}
	if empty {
		return make([]byte, 20)
	}
	return acc[:]
}

// valueDigest digests a value's logical content: element order matters for
// lists, not for hashes and sets (XOR of per-element digests), and sorted
// sets by member and score.
func valueDigest(v *keyspace.Value) [20]byte {
	h := sha1.New()
	h.Write([]byte{byte(v.Type())})
	xorOf := func(each func(add func(parts ...[]byte))) {
		var acc [20]byte
		each(func(parts ...[]byte) {
			eh := sha1.New()
			for _, p := range parts {
				var l [8]byte
				binary.LittleEndian.PutUint64(l[:], uint64(len(p)))
				eh.Write(l[:])
				eh.Write(p)
			}
			var sum [20]byte
			eh.Sum(sum[:0])
			for i := range acc {
				acc[i] ^= sum[i]
			}
		})
		h.Write(acc[:])
	}
	switch v.Type() {
	case keyspace.TypeString:
		h.Write(v.Bytes())
	case keyspace.TypeList:
		it := v.List().Iter(0, false)
		for {
			e, ok := it.Next()
			if !ok {
				break
			}
			var l [8]byte
			binary.LittleEndian.PutUint64(l[:], uint64(len(e)))
			h.Write(l[:])
			h.Write(e)
		}
	case keyspace.TypeHash:
		xorOf(func(add func(parts ...[]byte)) {
			v.Hash().ForEach(func(f, val []byte) bool { add(f, val); return true })
		})
	case keyspace.TypeSet:
		xorOf(func(add func(parts ...[]byte)) {
			v.Set().ForEach(func(m string) bool { add([]byte(m)); return true })
		})
	case keyspace.TypeZSet:
		xorOf(func(add func(parts ...[]byte)) {
			v.ZSet().ForEach(func(m []byte, score float64) bool {
				add(m, []byte(strconv.FormatFloat(score, 'g', 17, 64)))
				return true
			})
		})
	}
	var out [20]byte
	h.Sum(out[:0])
	return out
}

func cmdSlowlogGet(c *Ctx) {
	count := int64(10)
	if len(c.Args) == 3 {
		n, ok := c.IntErr(2, "ERR count should be greater than or equal to -1")
		if !ok {
			return
		}
		if n < -1 {
			c.Error("ERR count should be greater than or equal to -1")
			return
		}
		count = n
	} else if len(c.Args) > 3 {
		c.WrongArity()
		return
	}
	log := c.Srv.diag.slowlog
	if count == -1 || count > int64(len(log)) {
		count = int64(len(log))
	}
	c.W.Array(int(count))
	for i := 0; i < int(count); i++ {
		e := log[len(log)-1-i] // newest first
		c.W.Array(6)
		c.W.Int(e.id)
		c.W.Int(e.time)
		c.W.Int(e.usec)
		c.W.Array(len(e.args))
		for _, a := range e.args {
			c.W.BulkString(a)
		}
		c.W.BulkString(e.addr)
		c.W.BulkString(e.name)
	}
}
