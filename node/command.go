package node

import (
	"sort"
	"strings"
)

// Flag describes how a command behaves, for dispatch checks and COMMAND
// INFO (names follow Redis 7's command flags).
type Flag uint32

// Command flags.
const (
	FlagWrite        Flag = 1 << iota // modifies the dataset
	FlagReadonly                      // only reads data
	FlagDenyOOM                       // may grow memory: refused over maxmemory
	FlagAdmin                         // administrative
	FlagPubSub                        // pub/sub related
	FlagNoScript                      // not allowed in scripts
	FlagBlocking                      // may block the client
	FlagLoading                       // allowed while loading the dataset
	FlagStale                         // allowed on a replica with a broken link
	FlagSkipMonitor                   // not shown in MONITOR
	FlagSkipSlowlog                   // not logged in SLOWLOG
	FlagFast                          // O(1) or O(log N)
	FlagNoAuth                        // allowed before AUTH
	FlagMayReplicate                  // may generate replication traffic
	FlagNoMulti                       // not allowed in MULTI
	FlagAllowBusy                     // allowed while a script is busy
	FlagNoMandatoryKeys
	// FlagOKInPubSub marks the commands a RESP2 client in subscribed mode
	// may still send.
	FlagOKInPubSub
	// FlagTxControl marks MULTI/EXEC/DISCARD/WATCH/QUIT/RESET: executed
	// immediately inside MULTI instead of queued.
	FlagTxControl
	// FlagNoPropagate suppresses verbatim propagation even when the
	// command changed the dataset (the handler propagates explicitly).
	FlagNoPropagate
)

var flagNames = []struct {
	f    Flag
	name string
}{
	{FlagWrite, "write"}, {FlagReadonly, "readonly"}, {FlagDenyOOM, "denyoom"},
	{FlagAdmin, "admin"}, {FlagPubSub, "pubsub"}, {FlagNoScript, "noscript"},
	{FlagBlocking, "blocking"}, {FlagLoading, "loading"}, {FlagStale, "stale"},
	{FlagSkipMonitor, "skip_monitor"}, {FlagSkipSlowlog, "skip_slowlog"},
	{FlagFast, "fast"}, {FlagNoAuth, "no_auth"}, {FlagMayReplicate, "may_replicate"},
	{FlagNoMulti, "no_multi"}, {FlagAllowBusy, "allow_busy"},
	{FlagNoMandatoryKeys, "no_mandatory_keys"},
}

// Names lists the flag names as COMMAND INFO shows them.
func (f Flag) Names() []string {
	var out []string
	for _, fn := range flagNames {
		if f&fn.f != 0 {
			out = append(out, fn.name)
		}
	}
	return out
}

// Command is one entry of the command table.
type Command struct {
	// Name is the lower-case command name; subcommands are "parent|sub".
	Name string
	// Arity follows Redis: N means exactly N arguments including the
	// name, -N means at least N.
	Arity int
	Flags Flag
	// FirstKey, LastKey and KeyStep locate key arguments (LastKey -1 means
	// the last argument, -2 the one before it).
	FirstKey, LastKey, KeyStep int
	// Keys overrides FirstKey/LastKey/KeyStep for commands whose key
	// positions depend on their arguments (ZUNIONSTORE, SORT, ...); it
	// returns argument indexes.
	Keys func(args [][]byte) []int
	// ACL categories without the '@' (for COMMAND INFO).
	Categories []string
	// Docs for COMMAND DOCS.
	Group, Since, Summary, Complexity string
	// Handler runs the command under the keyspace lock.
	Handler func(c *Ctx)
	// Subcommands, keyed by lower-case subcommand name.
	Subcommands map[string]*Command

	parent *Command
	stats  commandStats
}

type commandStats struct {
	calls, usec, rejected, failed int64
}

// FullName is the name used in error messages ("config|get").
func (cmd *Command) FullName() string { return cmd.Name }

// IsWrite reports whether the command may modify the dataset.
func (cmd *Command) IsWrite() bool { return cmd.Flags&FlagWrite != 0 }

// KeyIndexes returns the positions of key arguments in args.
func (cmd *Command) KeyIndexes(args [][]byte) []int {
	if cmd.Keys != nil {
		return cmd.Keys(args)
	}
	first, last, step := cmd.keyRange(len(args))
	var out []int
	for i := first; i <= last; i += step {
		out = append(out, i)
	}
	return out
}

// keyRange is where a command with fixed key positions (no Keys func)
// finds its keys among n arguments: first to last, every step; empty
// (last < first) for a command without keys.
func (cmd *Command) keyRange(n int) (first, last, step int) {
	if cmd.FirstKey <= 0 {
		return 1, 0, 1
	}
	last = cmd.LastKey
	if last < 0 {
		last += n
	}
	return cmd.FirstKey, min(last, n-1), max(cmd.KeyStep, 1)
}

// commandTable is the server's set of commands, built from each family's
// list at server creation (no package-level registry).
type commandTable struct {
	byName map[string]*Command
}

func newCommandTable(families ...[]*Command) *commandTable {
	t := &commandTable{byName: make(map[string]*Command)}
	for _, fam := range families {
		for _, cmd := range fam {
			t.add(cmd)
		}
	}
	return t
}

func (t *commandTable) add(cmd *Command) {
	for name, sub := range cmd.Subcommands {
		sub.parent = cmd
		if sub.Name == "" {
			sub.Name = cmd.Name + "|" + name
		}
	}
	t.byName[cmd.Name] = cmd
}

// lookup finds a command by its (any case) name without allocating.
// Clients send names in either case (redis-benchmark and most libraries
// upper case), so the name is lowered first and looked up once.
func (t *commandTable) lookup(name []byte) *Command {
	var buf [32]byte
	if len(name) > len(buf) {
		return t.byName[strings.ToLower(string(name))]
	}
	for i, c := range name {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return t.byName[string(buf[:len(name)])]
}

// sorted returns the top-level commands by name.
func (t *commandTable) sorted() []*Command {
	out := make([]*Command, 0, len(t.byName))
	for _, c := range t.byName {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
