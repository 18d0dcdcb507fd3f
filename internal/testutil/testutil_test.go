package testutil

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

func TestStartRedisLifecycle(t *testing.T) {
	p := StartRedis(t)
	if p.Port == 0 || p.Pid == 0 || !strings.HasPrefix(p.Addr, "127.0.0.1:") {
		t.Fatalf("bad process description: addr %q port %d pid %d", p.Addr, p.Port, p.Pid)
	}
	c := p.Raw()
	c.Expect("+PONG\r\n", "PING")
	c.Expect("+OK\r\n", "SET", "k", "v")
	c.Expect("$1\r\nv\r\n", "GET", "k")
	if v := c.DoValue("CONFIG", "GET", "save"); len(v.Elems) != 2 || v.Elems[1].Text() != "" {
		t.Errorf("save should be disabled, CONFIG GET save = %v", v)
	}
	if p.RSS() <= 0 {
		t.Error("RSS should be positive")
	}

	// A frozen process keeps its socket but does not answer.
	p.Freeze()
	c.Timeout = 200 * time.Millisecond
	if err := c.TrySend("PING"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.TryRead(); err == nil {
		t.Fatal("a frozen server answered")
	}
	p.Thaw()
	c.Timeout = 0
	if got := c.Read(); string(got) != "+PONG\r\n" {
		t.Fatalf("after thaw: %q", got)
	}

	// Restart keeps the port; data is gone because persistence is off.
	oldPid := p.Pid
	p.Restart()
	if p.Pid == oldPid {
		t.Error("Restart kept the pid")
	}
	c2 := p.Raw()
	c2.Expect("$-1\r\n", "GET", "k")

	p.Kill()
	if p.Running() {
		t.Error("still running after Kill")
	}
	if _, _, err := c2.TryRead(); err == nil {
		t.Error("connection survived Kill")
	}
}

// TestStartRedisArgs checks that a config file goes first and that
// caller arguments override the file and the standard ones.
func TestStartRedisArgs(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "redis.conf")
	if err := os.WriteFile(conf, []byte("maxmemory 5mb\nhz 20\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := StartRedis(t, conf, "--maxmemory", "10mb")
	c := p.Client()
	got, err := c.ConfigGet(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"maxmemory": "10485760", "hz": "20", "appendonly": "no", "dir": p.Dir}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestBinaryFromBinDir(t *testing.T) {
	t.Setenv(EnvBinDir, t.TempDir())
	if _, err := Binary("vigil-server", "./cmd/server"); err == nil || !strings.Contains(err.Error(), "make build") {
		t.Errorf("missing prebuilt binary: error %v, want a hint to run make build", err)
	}
}

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "server")); err != nil {
		t.Errorf("ModuleRoot %q does not hold cmd/server: %v", root, err)
	}
}
