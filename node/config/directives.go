package config

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/vigilkv/vigil/internal/glob"
)

// Directive is one setting: its Redis name, how CONFIG GET shows it and
// how a value (from a file, a flag, the environment or CONFIG SET) is
// applied.
type Directive struct {
	Name    string
	Aliases []string
	// Immutable settings can only be given at start-up.
	Immutable bool
	Get       func(c *Config) string
	// Set applies the directive's arguments (one for most directives).
	Set func(c *Config, args []string) error
}

var errNeedsOne = errors.New("wrong number of arguments")

func one(args []string) (string, error) {
	if len(args) != 1 {
		return "", errNeedsOne
	}
	return args[0], nil
}

func boolDir(name string, f func(c *Config) *bool, aliases ...string) *Directive {
	return &Directive{Name: name, Aliases: aliases,
		Get: func(c *Config) string { return yesNo(*f(c)) },
		Set: func(c *Config, args []string) error {
			v, err := one(args)
			if err != nil {
				return err
			}
			switch strings.ToLower(v) {
			case "yes":
				*f(c) = true
			case "no":
				*f(c) = false
			default:
				return errors.New("argument must be 'yes' or 'no'")
			}
			return nil
		}}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func intDir(name string, lo, hi int64, f func(c *Config) *int, aliases ...string) *Directive {
	return &Directive{Name: name, Aliases: aliases,
		Get: func(c *Config) string { return strconv.Itoa(*f(c)) },
		Set: func(c *Config, args []string) error {
			v, err := one(args)
			if err != nil {
				return err
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return errors.New("argument couldn't be parsed into an integer")
			}
			if n < lo || n > hi {
				return fmt.Errorf("argument must be between %d and %d inclusive", lo, hi)
			}
			*f(c) = int(n)
			return nil
		}}
}

func int64Dir(name string, lo, hi int64, f func(c *Config) *int64) *Directive {
	return &Directive{Name: name,
		Get: func(c *Config) string { return strconv.FormatInt(*f(c), 10) },
		Set: func(c *Config, args []string) error {
			v, err := one(args)
			if err != nil {
				return err
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return errors.New("argument couldn't be parsed into an integer")
			}
			if n < lo || n > hi {
				return fmt.Errorf("argument must be between %d and %d inclusive", lo, hi)
			}
			*f(c) = n
			return nil
		}}
}

func memDir(name string, lo int64, f func(c *Config) *int64, aliases ...string) *Directive {
	return &Directive{Name: name, Aliases: aliases,
		Get: func(c *Config) string { return strconv.FormatInt(*f(c), 10) },
		Set: func(c *Config, args []string) error {
			v, err := one(args)
			if err != nil {
				return err
			}
			n, ok := ParseMemory(v)
			if !ok {
				return errors.New("argument must be a memory value")
			}
			if n < lo {
				return fmt.Errorf("argument must be a memory value greater than or equal to %d", lo)
			}
			*f(c) = n
			return nil
		}}
}

func strDir(name string, f func(c *Config) *string, aliases ...string) *Directive {
	return &Directive{Name: name, Aliases: aliases,
		Get: func(c *Config) string { return *f(c) },
		Set: func(c *Config, args []string) error {
			v, err := one(args)
			if err != nil {
				return err
			}
			*f(c) = v
			return nil
		}}
}

func enumDir(name string, values []string, f func(c *Config) *string) *Directive {
	return &Directive{Name: name,
		Get: func(c *Config) string { return *f(c) },
		Set: func(c *Config, args []string) error {
			v, err := one(args)
			if err != nil {
				return err
			}
			v = strings.ToLower(v)
			for _, ok := range values {
				if v == ok {
					*f(c) = v
					return nil
				}
			}
			return fmt.Errorf("argument(s) must be one of the following: %s", strings.Join(values, ", "))
		}}
}

// ParseMemory parses a memory amount as redis.conf does: a plain number
// of bytes or one with a k, kb, m, mb, g or gb suffix (case-insensitive;
// k is 1000, kb is 1024).
func ParseMemory(s string) (int64, bool) {
	l := strings.ToLower(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"g", 1e9}, {"m", 1e6}, {"k", 1e3}, {"b", 1}} {
		if strings.HasSuffix(l, u.suffix) {
			l = strings.TrimSuffix(l, u.suffix)
			mult = u.mult
			break
		}
	}
	n, err := strconv.ParseInt(l, 10, 64)
	if err != nil || n < 0 || (n > 0 && mult > math.MaxInt64/n) {
		return 0, false
	}
	return n * mult, true
}

// directives builds the table of every setting vigil understands.
func directives() []*Directive {
	imm := func(d *Directive) *Directive { d.Immutable = true; return d }
	return []*Directive{
		intDir("port", 0, 65535, func(c *Config) *int { return &c.Port }),
		{Name: "bind", Get: func(c *Config) string { return strings.Join(c.Bind, " ") },
			Set: func(c *Config, args []string) error {
				if len(args) == 0 || len(args) > 16 {
					return errors.New("Too many bind addresses specified.")
				}
				c.Bind = append([]string(nil), args...)
				return nil
			}},
		boolDir("protected-mode", func(c *Config) *bool { return &c.ProtectedMode }),
		intDir("tcp-keepalive", 0, math.MaxInt32, func(c *Config) *int { return &c.TCPKeepalive }),
		intDir("timeout", 0, math.MaxInt32, func(c *Config) *int { return &c.Timeout }),
		intDir("maxclients", 1, math.MaxInt32, func(c *Config) *int { return &c.MaxClients }),
		strDir("requirepass", func(c *Config) *string { return &c.RequirePass }),
		memDir("proto-max-bulk-len", 1<<20, func(c *Config) *int64 { return &c.ProtoMaxBulkLen }),
		memDir("client-query-buffer-limit", 1<<20, func(c *Config) *int64 { return &c.ClientQueryBufferLimit }),
		{Name: "client-output-buffer-limit", Get: func(c *Config) string {
			return fmt.Sprintf("normal 0 0 0 slave %d %d 60 pubsub %d %d 60", c.ClientOutputBufferLimitReplica, c.ClientOutputBufferLimitReplica/4, c.ClientOutputBufferLimitPubSubHard, c.ClientOutputBufferLimitPubSubHard/4)
		}, Set: setOutputBufferLimits},
		imm(intDir("databases", 1, math.MaxInt32, func(c *Config) *int { return &c.Databases })),
		imm(intDir("io-threads", 1, 128, func(c *Config) *int { return &c.IOThreads })),
		intDir("hz", 0, math.MaxInt32, func(c *Config) *int { return &c.Hz }),
		boolDir("activerehashing", func(c *Config) *bool { return &c.ActiveRehashing }),
		memDir("maxmemory", 0, func(c *Config) *int64 { return &c.MaxMemory }),
		enumDir("maxmemory-policy", []string{"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"},
			func(c *Config) *string { return &c.MaxMemoryPolicy }),
		intDir("maxmemory-samples", 1, 64, func(c *Config) *int { return &c.MaxMemorySamples }),
		intDir("lfu-log-factor", 0, math.MaxInt32, func(c *Config) *int { return &c.LFULogFactor }),
		intDir("lfu-decay-time", 0, math.MaxInt32, func(c *Config) *int { return &c.LFUDecayTime }),
		{Name: "notify-keyspace-events", Get: func(c *Config) string { return c.NotifyKeyspaceEvent },
			Set: func(c *Config, args []string) error {
				v, err := one(args)
				if err != nil {
					return err
				}
				canon, ok := canonicalNotifyFlags(v)
				if !ok {
					return errors.New("Invalid event class character. Use 'Ag$lshzxeKEtmd'.")
				}
				c.NotifyKeyspaceEvent = canon
				return nil
			}},
		intDir("list-max-listpack-size", math.MinInt32, math.MaxInt32, func(c *Config) *int { return &c.ListMaxListpackSize }, "list-max-ziplist-size"),
		intDir("list-compress-depth", 0, math.MaxInt32, func(c *Config) *int { return &c.ListCompressDepth }),
		intDir("hash-max-listpack-entries", 0, math.MaxInt32, func(c *Config) *int { return &c.HashMaxListpackEntries }, "hash-max-ziplist-entries"),
		intDir("hash-max-listpack-value", 0, math.MaxInt32, func(c *Config) *int { return &c.HashMaxListpackValue }, "hash-max-ziplist-value"),
		intDir("set-max-intset-entries", 0, math.MaxInt32, func(c *Config) *int { return &c.SetMaxIntsetEntries }),
		intDir("set-max-listpack-entries", 0, math.MaxInt32, func(c *Config) *int { return &c.SetMaxListpackEntries }),
		intDir("set-max-listpack-value", 0, math.MaxInt32, func(c *Config) *int { return &c.SetMaxListpackValue }),
		intDir("zset-max-listpack-entries", 0, math.MaxInt32, func(c *Config) *int { return &c.ZSetMaxListpackEntries }, "zset-max-ziplist-entries"),
		intDir("zset-max-listpack-value", 0, math.MaxInt32, func(c *Config) *int { return &c.ZSetMaxListpackValue }, "zset-max-ziplist-value"),
		int64Dir("slowlog-log-slower-than", -1, math.MaxInt64, func(c *Config) *int64 { return &c.SlowlogLogSlowerThan }),
		intDir("slowlog-max-len", 0, math.MaxInt32, func(c *Config) *int { return &c.SlowlogMaxLen }),
		enumDir("loglevel", []string{"debug", "verbose", "notice", "warning"}, func(c *Config) *string { return &c.LogLevel }),
		imm(enumDir("log-format", []string{"console", "json"}, func(c *Config) *string { return &c.LogFormat })),
		imm(strDir("logfile", func(c *Config) *string { return &c.LogFile })),
		imm(enumDir("enable-debug-command", []string{"yes", "no", "local"}, func(c *Config) *string { return &c.EnableDebugCommand })),
		strDir("dir", func(c *Config) *string { return &c.Dir }),
		strDir("dbfilename", func(c *Config) *string { return &c.DBFilename }),
		{Name: "save", Get: func(c *Config) string { return c.Save }, Set: setSave},
		boolDir("appendonly", func(c *Config) *bool { return &c.AppendOnly }),
		enumDir("appendfsync", []string{"always", "everysec", "no"}, func(c *Config) *string { return &c.AppendFsync }),
		boolDir("stop-writes-on-bgsave-error", func(c *Config) *bool { return &c.StopWritesOnBgsaveError }),
		boolDir("rdbcompression", func(c *Config) *bool { return &c.RDBCompression }),
		boolDir("rdbchecksum", func(c *Config) *bool { return &c.RDBChecksum }),
		strDir("appendfilename", func(c *Config) *string { return &c.AppendFilename }),
		strDir("appenddirname", func(c *Config) *string { return &c.AppendDirname }),
		intDir("auto-aof-rewrite-percentage", 0, math.MaxInt32, func(c *Config) *int { return &c.AutoAOFRewritePercentage }),
		memDir("auto-aof-rewrite-min-size", 0, func(c *Config) *int64 { return &c.AutoAOFRewriteMinSize }),
		boolDir("aof-load-truncated", func(c *Config) *bool { return &c.AOFLoadTruncated }),
		boolDir("aof-use-rdb-preamble", func(c *Config) *bool { return &c.AOFUseRDBPreamble }),
		boolDir("aof-io-uring", func(c *Config) *bool { return &c.AOFIOUring }),
		boolDir("aof-timestamp-enabled", func(c *Config) *bool { return &c.AOFTimestampEnabled }),
		{Name: "replicaof", Aliases: []string{"slaveof"}, Get: func(c *Config) string { return c.ReplicaOf },
			Set: func(c *Config, args []string) error {
				if len(args) == 1 {
					// "--replicaof 'host port'" from a command line.
					args = strings.Fields(args[0])
				}
				if len(args) != 2 {
					return errNeedsOne
				}
				if strings.EqualFold(args[0], "no") && strings.EqualFold(args[1], "one") {
					c.ReplicaOf = ""
					return nil
				}
				if _, err := strconv.Atoi(args[1]); err != nil {
					return errors.New("Invalid master port")
				}
				c.ReplicaOf = args[0] + " " + args[1]
				return nil
			}},
		boolDir("replica-read-only", func(c *Config) *bool { return &c.ReplicaReadOnly }, "slave-read-only"),
		intDir("replica-priority", 0, math.MaxInt32, func(c *Config) *int { return &c.ReplicaPriority }, "slave-priority"),
		boolDir("replica-serve-stale-data", func(c *Config) *bool { return &c.ReplicaServeStale }, "slave-serve-stale-data"),
		memDir("repl-backlog-size", 1, func(c *Config) *int64 { return &c.ReplBacklogSize }),
		intDir("repl-backlog-ttl", 0, math.MaxInt32, func(c *Config) *int { return &c.ReplBacklogTTL }),
		intDir("min-replicas-to-write", 0, math.MaxInt32, func(c *Config) *int { return &c.MinReplicasToWrite }, "min-slaves-to-write"),
		intDir("min-replicas-max-lag", 0, math.MaxInt32, func(c *Config) *int { return &c.MinReplicasMaxLag }, "min-slaves-max-lag"),
		intDir("sync-replicas", 0, math.MaxInt32, func(c *Config) *int { return &c.SyncReplicas }),
		boolDir("master-lease", func(c *Config) *bool { return &c.MasterLease }),
		intDir("sync-replicas-timeout", 1, math.MaxInt32, func(c *Config) *int { return &c.SyncReplicasTimeout }),
		intDir("upgrade-pause-timeout", 1, math.MaxInt32, func(c *Config) *int { return &c.UpgradePauseTimeout }),
		intDir("repl-ping-replica-period", 1, math.MaxInt32, func(c *Config) *int { return &c.ReplPingPeriod }, "repl-ping-slave-period"),
		intDir("repl-timeout", 1, math.MaxInt32, func(c *Config) *int { return &c.ReplTimeout }),
		boolDir("repl-diskless-sync", func(c *Config) *bool { return &c.ReplDisklessSync }),
		intDir("repl-diskless-sync-delay", 0, math.MaxInt32, func(c *Config) *int { return &c.ReplDisklessDelay }),
		enumDir("repl-diskless-load", []string{"disabled", "on-empty-db", "swapdb"}, func(c *Config) *string { return &c.ReplDisklessLoad }),
		strDir("masterauth", func(c *Config) *string { return &c.MasterAuth }),
		strDir("masteruser", func(c *Config) *string { return &c.MasterUser }),
		strDir("replica-announce-ip", func(c *Config) *string { return &c.ReplicaAnnounceIP }, "slave-announce-ip"),
		intDir("replica-announce-port", 0, 65535, func(c *Config) *int { return &c.ReplicaAnnouncePort }, "slave-announce-port"),
	}
}

func setSave(c *Config, args []string) error {
	appendTo := ""
	if len(args) > 0 && args[0] == "__append__" {
		// A further save line of a config file adds to the first.
		appendTo, args = c.Save, args[1:]
	}
	if len(args) == 1 && args[0] == "" {
		c.Save = ""
		return nil
	}
	if len(args) == 1 {
		args = strings.Fields(args[0])
	}
	if len(args)%2 != 0 {
		return errors.New("Invalid save parameters")
	}
	for _, a := range args {
		if n, err := strconv.ParseInt(a, 10, 64); err != nil || n < 0 {
			return errors.New("Invalid save parameters")
		}
	}
	c.Save = strings.TrimSpace(appendTo + " " + strings.Join(args, " "))
	return nil
}

func setOutputBufferLimits(c *Config, args []string) error {
	if len(args) == 1 {
		args = strings.Fields(args[0])
	}
	if len(args)%4 != 0 {
		return errors.New("Wrong number of arguments in buffer limit configuration.")
	}
	for i := 0; i < len(args); i += 4 {
		hard, ok1 := ParseMemory(args[i+1])
		_, ok2 := ParseMemory(args[i+2])
		_, err := strconv.Atoi(args[i+3])
		if !ok1 || !ok2 || err != nil {
			return errors.New("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
		}
		switch strings.ToLower(args[i]) {
		case "normal":
		case "slave", "replica":
			c.ClientOutputBufferLimitReplica = hard
		case "pubsub":
			c.ClientOutputBufferLimitPubSubHard = hard
		default:
			return errors.New("Invalid client class specified in buffer limit configuration.")
		}
	}
	return nil
}

// canonicalNotifyFlags validates notify-keyspace-events letters and
// returns them in the order CONFIG GET shows them.
func canonicalNotifyFlags(s string) (string, bool) {
	const classes = "g$lshzxetd"
	has := map[byte]bool{}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch == 'A' {
			for j := 0; j < len(classes); j++ {
				has[classes[j]] = true
			}
			continue
		}
		if !strings.ContainsRune(classes+"KEmn", rune(ch)) {
			return "", false
		}
		has[ch] = true
	}
	var b []byte
	all := true
	for j := 0; j < len(classes); j++ {
		all = all && has[classes[j]]
	}
	if all {
		b = append(b, 'A')
	} else {
		for j := 0; j < len(classes); j++ {
			if has[classes[j]] {
				b = append(b, classes[j])
			}
		}
		if has['n'] {
			b = append(b, 'n')
		}
	}
	for _, ch := range []byte("KEm") {
		if has[ch] {
			b = append(b, ch)
		}
	}
	return string(b), true
}

// registry indexes the directive table by name and alias.
type registry struct {
	list   []*Directive
	byName map[string]*Directive
}

func newRegistry() *registry {
	r := &registry{list: directives(), byName: map[string]*Directive{}}
	for _, d := range r.list {
		r.byName[d.Name] = d
		for _, a := range d.Aliases {
			r.byName[a] = d
		}
	}
	return r
}

func (r *registry) lookup(name string) *Directive { return r.byName[strings.ToLower(name)] }

// Names lists every directive name, sorted.
func Names() []string {
	var out []string
	for _, d := range directives() {
		out = append(out, d.Name)
	}
	sort.Strings(out)
	return out
}

// Get returns the name/value pairs of the settings matching any of the
// glob patterns, in table order, each at most once (CONFIG GET).
func (c *Config) Get(patterns ...string) [][2]string {
	r := newRegistry()
	var out [][2]string
	seen := map[string]bool{}
	for _, d := range r.list {
		names := append([]string{d.Name}, d.Aliases...)
		for _, n := range names {
			for _, p := range patterns {
				if seen[n] || !glob.MatchString(strings.ToLower(p), n, true) {
					continue
				}
				// An alias is shown only when asked for by its exact name,
				// as Redis does.
				if n != d.Name && !strings.EqualFold(p, n) {
					continue
				}
				seen[n] = true
				out = append(out, [2]string{n, d.Get(c)})
			}
		}
	}
	return out
}

// SetError is a CONFIG SET failure, naming the argument at fault.
type SetError struct {
	Name    string
	Unknown bool
	Reason  string
}

func (e *SetError) Error() string {
	if e.Unknown {
		return "Unknown option or number of arguments for CONFIG SET - '" + e.Name + "'"
	}
	return "CONFIG SET failed (possibly related to argument '" + e.Name + "') - " + e.Reason
}

// Set applies name/value pairs all or nothing (CONFIG SET).
func (c *Config) Set(pairs [][2]string) error {
	r := newRegistry()
	next := *c
	next.Bind = append([]string(nil), c.Bind...)
	seen := map[*Directive]bool{}
	for _, p := range pairs {
		d := r.lookup(p[0])
		if d == nil {
			return &SetError{Name: p[0], Unknown: true}
		}
		if seen[d] {
			return &SetError{Name: p[0], Reason: "duplicate parameter"}
		}
		seen[d] = true
		if d.Immutable {
			return &SetError{Name: p[0], Reason: "can't set immutable config"}
		}
		args := []string{p[1]}
		if d.Name == "bind" || d.Name == "replicaof" {
			args = strings.Fields(p[1])
		}
		if err := d.Set(&next, args); err != nil {
			return &SetError{Name: p[0], Reason: err.Error()}
		}
	}
	*c = next
	return nil
}

// Diff compares a running configuration with a freshly loaded one: the
// settings that changed and can be applied at runtime (name and new
// value, ready for Set), and the ones that only take effect on a
// restart.
func Diff(running, loaded *Config) (changed [][2]string, restart []string) {
	for _, d := range newRegistry().list {
		now, next := d.Get(running), d.Get(loaded)
		if now == next {
			continue
		}
		// replicaof is a role change, made with REPLICAOF, not a setting.
		if d.Immutable || d.Name == "replicaof" {
			restart = append(restart, d.Name)
			continue
		}
		changed = append(changed, [2]string{d.Name, next})
	}
	return changed, restart
}
