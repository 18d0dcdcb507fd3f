package sentinel

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/deploy/proc"
	"github.com/vigilkv/vigil/internal/testutil"
)

// TestSentinelReloadOnSIGHUP: SIGHUP re-reads sentinel.conf: a changed
// setting applies, a new group is monitored, the state file is kept (same
// id), and a bad file changes nothing.
func TestSentinelReloadOnSIGHUP(t *testing.T) {
	ctx := context.Background()
	a, b := testutil.StartVigil(t), testutil.StartVigil(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	groupA := fmt.Sprintf("sentinel monitor alpha 127.0.0.1 %d 1\n", a.Port)
	write(groupA + "sentinel down-after-milliseconds alpha 30000\n")
	gossip, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := testutil.StartProcess(t, proc.Spec{Name: "vigil-sentinel", Path: testutil.SentinelBinary(t),
		Args: []string{conf, "--bind", "127.0.0.1", "--dir", dir, "--gossip-port", fmt.Sprint(gossip)}, Dir: dir, LogPath: filepath.Join(dir, "sentinel.log")})
	c := redis.NewClient(&redis.Options{Addr: s.Addr, Protocol: 2})
	t.Cleanup(func() { c.Close() })
	id := c.Do(ctx, "SENTINEL", "MYID").Val()
	master := func(name string) map[string]string {
		v, err := c.Do(ctx, "SENTINEL", "MASTER", name).Slice()
		if err != nil {
			return map[string]string{"error": err.Error()}
		}
		return fields(v)
	}
	if got := master("alpha")["down-after-milliseconds"]; got != "30000" {
		t.Fatalf("down-after-milliseconds %s before the reload", got)
	}

	write(groupA + "sentinel down-after-milliseconds alpha 2000\n" +
		fmt.Sprintf("sentinel monitor beta 127.0.0.1 %d 1\n", b.Port))
	if err := syscall.Kill(s.Pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the reload to apply", func() (bool, string) {
		m, n := master("alpha"), master("beta")
		return m["down-after-milliseconds"] == "2000" && n["name"] == "beta", fmt.Sprint(m, n)
	})
	if got := c.Do(ctx, "SENTINEL", "MYID").Val(); got != id {
		t.Errorf("the sentinel's id changed across the reload: %v -> %v", id, got)
	}

	write("sentinel monitor alpha nonsense\n")
	syscall.Kill(s.Pid, syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	if got := master("alpha")["down-after-milliseconds"]; got != "2000" {
		t.Errorf("a bad file changed down-after-milliseconds to %s", got)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Errorf("the sentinel stopped answering after a bad reload: %v", err)
	}
}
