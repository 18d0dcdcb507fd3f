package persistence

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

// smallFS mounts a tmpfs of size bytes for the test, or skips when the
// test may not mount (not root).
func smallFS(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (root needed): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// TestDiskFullRefusesWritesAndRecovers fills the AOF's filesystem: writes
// are refused with MISCONF while reads keep working, and writing resumes
// by itself once space is freed; nothing acknowledged is lost.
// It runs with the AOF written through io_uring and with plain system
// calls.
func TestDiskFullRefusesWritesAndRecovers(t *testing.T) {
	for _, ring := range []string{"yes", "no"} {
		t.Run("aof-io-uring="+ring, func(t *testing.T) { diskFullRefusesWritesAndRecovers(t, ring) })
	}
}

func diskFullRefusesWritesAndRecovers(t *testing.T, ring string) {
	dir := smallFS(t, "4m")
	// A filler takes most of the space; deleting it is the "disk recovers".
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 3<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testutil.StartVigil(t, "--dir", dir, "--appendonly", "yes", "--appendfsync", "always", "--aof-io-uring", ring)
	c := p.Client(func(o *redis.Options) { o.MaxRetries = -1; o.ReadTimeout = 3 * time.Second })
	ctx := context.Background()
	value := strings.Repeat("v", 1000)
	acked := 0
	var refusal error
	for i := 0; i < 5000; i++ {
		err := c.Set(ctx, "k"+strconv.Itoa(i), value, 0).Err()
		if err != nil {
			refusal = err
			break
		}
		acked++
	}
	if refusal == nil {
		t.Fatal("the disk never filled up")
	}
	// The write that hit the full disk may still wait for the disk; the
	// next ones are refused with MISCONF.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := c.Set(ctx, "refused", "x", 0).Err()
		if err != nil && strings.HasPrefix(err.Error(), "MISCONF Errors writing to the AOF file") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes not refused with MISCONF on a full disk: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := c.Get(ctx, "k0").Val(); v != value {
		t.Fatal("reads stopped working on a full disk")
	}
	info := c.Info(ctx, "persistence").Val()
	if !strings.Contains(info, "aof_last_write_status:err") {
		t.Errorf("INFO does not show the write error:\n%s", info)
	}
	os.Remove(filler)
	deadline = time.Now().Add(10 * time.Second)
	for c.Set(ctx, "after", "recovered", 0).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("writes did not resume after space was freed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.Kill()
	p.Restart()
	c2 := p.Client()
	for i := 0; i < acked; i++ {
		if c2.Exists(ctx, "k"+strconv.Itoa(i)).Val() != 1 {
			t.Fatalf("acknowledged k%d lost", i)
		}
	}
	if c2.Get(ctx, "after").Val() != "recovered" {
		t.Fatal("the write after recovery was lost")
	}
	t.Logf("%d writes acknowledged before the disk filled; refused with MISCONF until space was freed", acked)
}
