package proc_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
