package proc_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/deploy/proc"
	"github.com/vigilkv/vigil/internal/testutil"
)

func redisSpec(t *testing.T, port int) proc.Spec {
	testutil.RequireRedis(t)
	path, _ := exec.LookPath("redis-server")
	dir := t.TempDir()
	return proc.Spec{
		Name:         "redis-server",
		Path:         path,
		Args:         []string{"--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"},
		Port:         port,
		Dir:          dir,
		LogPath:      filepath.Join(dir, "log"),
		ReadyTimeout: 5 * time.Second,
		StopTimeout:  2 * time.Second,
	}
}

func TestTakenPort(t *testing.T) {
	first, err := proc.Start(context.Background(), redisSpec(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Stop()
	second, err := proc.Start(context.Background(), redisSpec(t, first.Port))
	if err == nil {
		second.Stop()
		t.Fatal("a second server started on a taken port")
	}
	if !strings.Contains(err.Error(), "already in use") {
		t.Errorf("error does not say why: %v", err)
	}
}

func TestStopFrozen(t *testing.T) {
	p, err := proc.Start(context.Background(), redisSpec(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Freeze(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := p.Stop(); err != nil {
		t.Fatalf("Stop of a frozen process: %v", err)
	}
	if p.Running() {
		t.Fatal("still running")
	}
	if time.Since(start) > time.Second {
		t.Errorf("Stop took %v: the frozen process should have been thawed and exited on SIGTERM", time.Since(start))
	}
	if err := p.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := p.Kill(); err != nil {
		t.Errorf("Kill after Stop: %v", err)
	}
}

func TestStartFailureShowsLog(t *testing.T) {
	spec := redisSpec(t, 0)
	spec.Args = append(spec.Args, "--no-such-directive", "x")
	_, err := proc.Start(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), "no-such-directive") {
		t.Fatalf("error should quote the log: %v", err)
	}
}

func TestReadRSS(t *testing.T) {
	p, err := proc.Start(context.Background(), redisSpec(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	rss, err := p.RSS()
	if err != nil || rss < 1<<20 {
		t.Errorf("RSS = %d, %v", rss, err)
	}
}

// TestAdoptUpgraded follows a vigil-server through an in-place upgrade:
// the process Start launched exits and a new one serves on the same
// port; after Adopt, Running and Stop act on the new one.
func TestAdoptUpgraded(t *testing.T) {
	dir := t.TempDir()
	p, err := proc.Start(context.Background(), proc.Spec{Name: "vigil-server", Path: testutil.ServerBinary(t),
		Args: testutil.StandardArgs(dir), Dir: dir, LogPath: filepath.Join(dir, "log")})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	old := p.Pid
	c := redis.NewClient(&redis.Options{Addr: p.Addr, DisableIdentity: true, MaxRetries: -1, ReadTimeout: time.Minute})
	defer c.Close()
	if err := c.Do(context.Background(), "UPGRADE").Err(); err != nil {
		t.Fatalf("UPGRADE: %v", err)
	}
	select {
	case <-p.Exited():
	case <-time.After(30 * time.Second):
		t.Fatal("the old process did not exit after the upgrade")
	}
	info := c.Info(context.Background(), "server").Val()
	_, rest, _ := strings.Cut(info, "process_id:")
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(rest, "\n", 2)[0]))
	if err != nil || pid == old {
		t.Fatalf("process_id after the upgrade %d (%v), before %d", pid, err, old)
	}
	if err := p.Adopt(pid); err != nil {
		t.Fatal(err)
	}
	if !p.Running() || p.Pid != pid {
		t.Fatalf("after Adopt: running %v, pid %d, want %d", p.Running(), p.Pid, pid)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("Stop of the adopted process: %v", err)
	}
	if p.Running() {
		t.Fatal("the adopted process still runs after Stop")
	}
	if err := proc.Ping(context.Background(), p.Addr); err == nil {
		t.Fatal("something still answers on the port after Stop")
	}
	if err := p.Adopt(pid); err == nil {
		t.Error("Adopt of an exited process succeeded")
	}
}
