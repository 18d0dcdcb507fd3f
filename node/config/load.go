package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/viper"

	"github.com/vigilkv/vigil/internal/resp"
)

// ignoredDirectives are redis.conf directives vigil accepts and ignores:
// they tune mechanisms vigil does not have (fork, jemalloc, io threads,
// lazy freeing, cluster, modules) or that do not apply to it.
var ignoredDirectives = []string{
	"daemonize", "supervised", "pidfile", "syslog-enabled", "syslog-ident", "syslog-facility",
	"crash-log-enabled", "crash-memcheck-enabled", "always-show-logo", "set-proc-title", "proc-title-template",
	"locale-collate", "tcp-backlog", "unixsocket", "unixsocketperm", "tls-port", "tls-cert-file", "tls-key-file",
	"tls-ca-cert-file", "tls-ca-cert-dir", "tls-auth-clients", "tls-replication", "tls-cluster",
	"rdb-del-sync-files", "sanitize-dump-payload",
	"repl-diskless-sync-max-replicas", "repl-disable-tcp-nodelay",
	"replica-lazy-flush", "slave-lazy-flush",
	"lazyfree-lazy-eviction", "lazyfree-lazy-expire", "lazyfree-lazy-server-del", "lazyfree-lazy-user-del",
	"lazyfree-lazy-user-flush", "io-threads-do-reads", "oom-score-adj", "oom-score-adj-values",
	"disable-thp", "no-appendfsync-on-rewrite", "auto-aof-rewrite-percentage",
	"aof-timestamp-enabled",
	"aof-rewrite-incremental-fsync", "rdb-save-incremental-fsync", "lua-time-limit", "busy-reply-threshold",
	"cluster-enabled", "cluster-config-file", "cluster-node-timeout", "latency-monitor-threshold",
	"latency-tracking", "latency-tracking-info-percentiles", "stream-node-max-bytes", "stream-node-max-entries",
	"hll-sparse-max-bytes", "activedefrag", "active-defrag-ignore-bytes", "active-defrag-threshold-lower",
	"active-defrag-threshold-upper", "active-defrag-cycle-min", "active-defrag-cycle-max",
	"active-defrag-max-scan-fields", "jemalloc-bg-thread", "dynamic-hz", "maxmemory-eviction-tenacity",
	"maxmemory-clients", "replica-ignore-maxmemory", "slave-ignore-maxmemory", "active-expire-effort",
	"acllog-max-len", "aclfile", "enable-protected-configs", "enable-module-command", "loadmodule",
	"tracking-table-max-keys", "lazyfree-lazy-user-del", "shutdown-timeout", "shutdown-on-sigint",
	"shutdown-on-sigterm", "propagation-error-behavior", "replica-ignore-disk-write-errors", "ignore-warnings",
	"cluster-announce-ip", "user", "rename-command",
}

// IgnoredDirectives lists the redis.conf directives vigil accepts but
// ignores (documented in the README).
func IgnoredDirectives() []string {
	out := append([]string(nil), ignoredDirectives...)
	sort.Strings(out)
	return out
}

func isIgnored(name string) bool {
	for _, d := range ignoredDirectives {
		if d == name {
			return true
		}
	}
	return false
}

// Load builds the configuration from the command line (an optional
// redis.conf-style file first, then --config file.yaml and --directive
// values) and the environment (VIGIL_<DIRECTIVE>), with precedence flags >
// environment > YAML > redis.conf > defaults. It returns the names of
// ignored directives that were set, for a start-up log line.
func Load(args []string, getenv func(string) string) (*Config, []string, error) {
	cfg := Default()
	r := newRegistry()
	var ignored []string
	apply := func(source, name string, vals []string) error {
		name = strings.ToLower(name)
		if isIgnored(name) {
			ignored = append(ignored, name)
			return nil
		}
		d := r.lookup(name)
		if d == nil {
			return fmt.Errorf("%s: unknown directive '%s'", source, name)
		}
		if err := d.Set(cfg, vals); err != nil {
			return fmt.Errorf("%s: bad value for '%s': %v", source, name, err)
		}
		return nil
	}
	// The redis.conf file.
	if len(args) > 0 && !strings.HasPrefix(args[0], "--") {
		path := args[0]
		args = args[1:]
		abs, err := filepath.Abs(path)
		if err == nil {
			path = abs
		}
		if err := readConfFile(path, apply, 0); err != nil {
			return nil, nil, err
		}
		cfg.File = path
	}
	// Flags: --name v1 v2 ... until the next --name; --config is the YAML.
	type flag struct {
		name string
		vals []string
	}
	var flags []flag
	yamlFile := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			return nil, nil, fmt.Errorf("command line: unexpected argument '%s' (directives are given as --name value)", a)
		}
		f := flag{name: strings.TrimPrefix(a, "--")}
		for i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			f.vals = append(f.vals, args[i+1])
			i++
		}
		if f.name == "config" {
			if len(f.vals) != 1 {
				return nil, nil, errors.New("command line: --config needs one file name")
			}
			yamlFile = f.vals[0]
			continue
		}
		// "--save ''": a flag with an empty value.
		if len(f.vals) == 0 {
			f.vals = []string{""}
		}
		flags = append(flags, f)
	}
	if yamlFile != "" {
		if err := readYAML(yamlFile, apply); err != nil {
			return nil, nil, err
		}
		if cfg.File == "" {
			cfg.File, _ = filepath.Abs(yamlFile)
		}
	}
	if getenv != nil {
		for _, d := range r.list {
			names := append([]string{d.Name}, d.Aliases...)
			for _, n := range names {
				env := "VIGIL_" + strings.ToUpper(strings.ReplaceAll(n, "-", "_"))
				if v := getenv(env); v != "" {
					vals := []string{v}
					if d.Name == "bind" || d.Name == "replicaof" {
						vals = strings.Fields(v)
					}
					if err := apply("environment variable "+env, d.Name, vals); err != nil {
						return nil, nil, err
					}
				}
			}
		}
	}
	for _, f := range flags {
		if err := apply("command line flag --"+f.name, f.name, f.vals); err != nil {
			return nil, nil, err
		}
	}
	return cfg, ignored, nil
}

// readConfFile reads a redis.conf-style file: one directive per line,
// arguments split with Redis's quoting rules, '#' comments, include.
func readConfFile(path string, apply func(source, name string, vals []string) error, depth int) error {
	if depth > 10 {
		return fmt.Errorf("%s: include nesting too deep", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config file: %w", err)
	}
	saveSeen := false
	for i, line := range strings.Split(string(data), "\n") {
		src := fmt.Sprintf("%s:%d", path, i+1)
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		argv, ok := SplitArgs(line)
		if !ok {
			return fmt.Errorf("%s: unbalanced quotes in configuration line", src)
		}
		if len(argv) == 0 {
			continue
		}
		name := strings.ToLower(argv[0])
		vals := argv[1:]
		if name == "include" {
			if len(vals) != 1 {
				return fmt.Errorf("%s: include needs one file", src)
			}
			inc := vals[0]
			if !filepath.IsAbs(inc) {
				inc = filepath.Join(filepath.Dir(path), inc)
			}
			if err := readConfFile(inc, apply, depth+1); err != nil {
				return err
			}
			continue
		}
		if name == "save" && len(vals) == 2 && saveSeen {
			// Repeated save lines accumulate, as in Redis.
			vals = []string{"__append__", vals[0], vals[1]}
		}
		if name == "save" {
			saveSeen = true
		}
		if len(vals) == 0 {
			return fmt.Errorf("%s: directive '%s' needs an argument", src, name)
		}
		if err := apply(src, name, vals); err != nil {
			return err
		}
	}
	return nil
}

func readYAML(path string, apply func(source, name string, vals []string) error) error {
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return fmt.Errorf("reading YAML config %s: %w", path, err)
	}
	keys := v.AllKeys()
	sort.Strings(keys)
	for _, k := range keys {
		var vals []string
		switch x := v.Get(k).(type) {
		case []any:
			for _, e := range x {
				vals = append(vals, fmt.Sprint(e))
			}
		case bool:
			vals = []string{yesNo(x)}
		default:
			vals = []string{fmt.Sprint(x)}
		}
		if err := apply(YAMLSource(path, k), k, vals); err != nil {
			return err
		}
	}
	return nil
}

// YAMLSource names a YAML setting for an error message: "file:line:
// setting 'key'" (viper keeps no positions, so the line is found by the
// key at the start of a line; without it, "file: setting 'key'").
func YAMLSource(path, key string) string {
	data, err := os.ReadFile(path)
	if err == nil {
		last := key[strings.LastIndexByte(key, '.')+1:]
		for i, line := range strings.Split(string(data), "\n") {
			t := strings.TrimSpace(line)
			if name, _, ok := strings.Cut(t, ":"); ok && strings.EqualFold(strings.Trim(strings.TrimSpace(name), `"'`), last) {
				return fmt.Sprintf("%s:%d: setting '%s'", path, i+1, key)
			}
		}
	}
	return fmt.Sprintf("%s: setting '%s'", path, key)
}

// SplitArgs splits a config line into arguments with sdssplitargs's
// rules (resp.SplitArgs, which inline commands use too). It reports false
// on unbalanced quotes.
func SplitArgs(line string) ([]string, bool) {
	args, ok := resp.SplitArgs([]byte(line), nil)
	if !ok {
		return nil, false
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = string(a)
	}
	return out, true
}

// Rewrite writes the live settings back to the config file (CONFIG
// REWRITE): lines of known directives are updated in place, comments and
// everything else kept, settings that differ from the defaults and have no
// line yet appended. The file is replaced atomically.
func (c *Config) Rewrite() error {
	if c.File == "" {
		return errors.New("The server is running without a config file")
	}
	data, err := os.ReadFile(c.File)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("reading %s: %w", c.File, err)
	}
	r := newRegistry()
	def := Default()
	written := map[*Directive]bool{}
	var out []string
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || t[0] == '#' {
			out = append(out, line)
			continue
		}
		argv, ok := SplitArgs(t)
		if !ok || len(argv) == 0 {
			out = append(out, line)
			continue
		}
		d := r.lookup(argv[0])
		if d == nil {
			out = append(out, line)
			continue
		}
		if written[d] {
			continue // a repeated directive collapses into one line
		}
		written[d] = true
		out = append(out, formatDirective(d, c))
	}
	var added []string
	for _, d := range r.list {
		if written[d] || d.Get(c) == d.Get(def) {
			continue
		}
		added = append(added, formatDirective(d, c))
	}
	if len(added) > 0 {
		out = append(out, "# Generated by CONFIG REWRITE")
		out = append(out, added...)
	}
	return writeFileAtomic(c.File, []byte(strings.Join(out, "\n")+"\n"))
}

func formatDirective(d *Directive, c *Config) string {
	v := d.Get(c)
	switch d.Name {
	case "bind", "save", "replicaof", "client-output-buffer-limit":
		if v == "" {
			return d.Name + ` ""`
		}
		return d.Name + " " + v
	}
	return d.Name + " " + quoteArg(v)
}

func quoteArg(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"'\\\n\r") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(ch)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(ch)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// writeFileAtomic writes data to path through a temporary file, fsyncs
// it, renames it into place and fsyncs the directory, so a crash leaves
// the old file or the new one.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating temporary file: %w", err)
	}
	name := tmp.Name()
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		os.Remove(name)
		return fmt.Errorf("writing %s: %v", name, errors.Join(werr, cerr))
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("renaming %s: %w", name, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
