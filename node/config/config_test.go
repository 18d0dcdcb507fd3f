package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		line string
		want []string
		ok   bool
	}{
		{`save 900 1`, []string{"save", "900", "1"}, true},
		{`requirepass "a b\x41\n"`, []string{"requirepass", "a bA\n"}, true},
		{`x 'it\'s'`, []string{"x", "it's"}, true},
		{`save ""`, []string{"save", ""}, true},
		{`x "unbalanced`, nil, false},
		{`x "a"b`, nil, false},
	}
	for _, tt := range tests {
		got, ok := SplitArgs(tt.line)
		if ok != tt.ok || strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("SplitArgs(%q) = %q, %v", tt.line, got, ok)
		}
	}
}

func TestParseMemory(t *testing.T) {
	tests := map[string]int64{"100": 100, "1k": 1000, "1kb": 1024, "2MB": 2 << 20, "1g": 1e9, "1Gb": 1 << 30}
	for in, want := range tests {
		if got, ok := ParseMemory(in); !ok || got != want {
			t.Errorf("ParseMemory(%q) = %d, %v", in, got, ok)
		}
	}
	for _, bad := range []string{"", "x", "-1", "1t"} {
		if _, ok := ParseMemory(bad); ok {
			t.Errorf("ParseMemory(%q) accepted", bad)
		}
	}
}

func TestLoadRedisConfAndPrecedence(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "redis.conf")
	inc := filepath.Join(dir, "extra.conf")
	os.WriteFile(inc, []byte("maxmemory 10mb\n"), 0o644)
	os.WriteFile(conf, []byte("# comment\nport 7000\nsave 900 1\nsave 300 10\ninclude extra.conf\nhash-max-ziplist-entries 64\nio-threads-do-reads yes\nio-threads 4\nmaxmemory-policy allkeys-lru\n"), 0o644)
	yaml := filepath.Join(dir, "v.yaml")
	os.WriteFile(yaml, []byte("maxmemory-policy: allkeys-lfu\ntimeout: 30\n"), 0o644)
	env := map[string]string{"VIGIL_TIMEOUT": "40", "VIGIL_HZ": "20"}
	cfg, ignored, err := Load([]string{conf, "--config", yaml, "--hz", "50", "--bind", "127.0.0.1", "::1"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]string{
		"port": "7000", "save": "900 1 300 10", "maxmemory": "10485760", "hash-max-listpack-entries": "64",
		"maxmemory-policy": "allkeys-lfu", "timeout": "40", "hz": "50", "bind": "127.0.0.1 ::1",
	}
	for k, want := range checks {
		if got := cfg.Get(k); len(got) != 1 || got[0][1] != want {
			t.Errorf("%s = %v, want %q", k, got, want)
		}
	}
	if cfg.IOThreads != 4 {
		t.Errorf("io-threads = %d, want 4", cfg.IOThreads)
	}
	if len(ignored) != 1 || ignored[0] != "io-threads-do-reads" {
		t.Errorf("ignored = %v", ignored)
	}
}

func TestLoadErrorsNameTheSource(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "bad.conf")
	os.WriteFile(conf, []byte("port 7000\n\nnosuchthing 1\n"), 0o644)
	_, _, err := Load([]string{conf}, nil)
	if err == nil || !strings.Contains(err.Error(), "bad.conf:3") || !strings.Contains(err.Error(), "nosuchthing") {
		t.Errorf("unknown directive: %v", err)
	}
	_, _, err = Load([]string{"--maxmemory-policy", "sometimes"}, nil)
	if err == nil || !strings.Contains(err.Error(), "--maxmemory-policy") {
		t.Errorf("bad flag: %v", err)
	}
	_, _, err = Load(nil, func(k string) string {
		if k == "VIGIL_PORT" {
			return "http"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), "VIGIL_PORT") {
		t.Errorf("bad env: %v", err)
	}
}

func TestLoadsRedisDefaultConf(t *testing.T) {
	if _, _, err := Load([]string{"testdata/redis-7.0.conf"}, nil); err != nil {
		t.Fatalf("Redis 7.0's own redis.conf: %v", err)
	}
}

func TestGetAndSet(t *testing.T) {
	c := Default()
	got := c.Get("maxmemory*")
	if len(got) != 3 || got[0][0] != "maxmemory" {
		t.Errorf("Get(maxmemory*) = %v", got)
	}
	if err := c.Set([][2]string{{"maxmemory", "1mb"}, {"maxmemory-policy", "bogus"}}); err == nil ||
		err.Error() != "CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction" {
		t.Errorf("Set bad policy: %v", err)
	}
	if c.MaxMemory != 0 {
		t.Errorf("failed Set changed maxmemory: not atomic")
	}
	if err := c.Set([][2]string{{"nope", "1"}}); err == nil || err.Error() != "Unknown option or number of arguments for CONFIG SET - 'nope'" {
		t.Errorf("Set unknown: %v", err)
	}
	if err := c.Set([][2]string{{"databases", "4"}}); err == nil || !strings.Contains(err.Error(), "can't set immutable config") {
		t.Errorf("Set immutable: %v", err)
	}
	if err := c.Set([][2]string{{"notify-keyspace-events", "KEA"}}); err != nil || c.NotifyKeyspaceEvent != "AKE" {
		t.Errorf("notify: %v %q", err, c.NotifyKeyspaceEvent)
	}
}

func TestRewriteKeepsComments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.conf")
	os.WriteFile(path, []byte("# my settings\nport 7000\n# keep me\nmaxmemory 1mb\n"), 0o644)
	c, _, err := Load([]string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set([][2]string{{"maxmemory", "2mb"}, {"hz", "20"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Rewrite(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	want := "# my settings\nport 7000\n# keep me\nmaxmemory 2097152\n# Generated by CONFIG REWRITE\nhz 20\n"
	if string(b) != want {
		t.Fatalf("rewritten file:\n%s\nwant:\n%s", b, want)
	}
	c2, _, err := Load([]string{path}, nil)
	if err != nil || c2.MaxMemory != 2<<20 || c2.Hz != 20 {
		t.Fatalf("reloading rewritten file: %v", err)
	}
}
