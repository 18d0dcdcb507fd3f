package persistence

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/faultfs"
	"github.com/vigilkv/vigil/internal/testutil"
)

// TestFailedFsyncLosesNothing runs the AOF on a disk whose fsyncs fail for
// a while, losing what was written since the last good fsync, as Linux
// may after a writeback error. A write whose fsync fails gets an explicit
// NOTCONFIRMED instead of its reply (appendfsync always), later writes are
// refused with MISCONF while the disk fails, writing resumes by itself
// once it heals, and after a kill -9 every acknowledged write is in the
// AOF, which loads.
func TestFailedFsyncLosesNothing(t *testing.T) {
	for _, tc := range []struct{ fsync, ring string }{
		{"everysec", "yes"}, {"everysec", "no"}, {"always", "yes"}, {"always", "no"},
	} {
		t.Run("appendfsync="+tc.fsync+",aof-io-uring="+tc.ring, func(t *testing.T) { failedFsyncLosesNothing(t, tc.fsync, tc.ring) })
	}
}

func failedFsyncLosesNothing(t *testing.T, fsync, ring string) {
	ffs := mountFaultFS(t)
	args := []string{"--appendonly", "yes", "--appendfsync", fsync, "--aof-io-uring", ring}
	p := testutil.StartVigil(t, append([]string{"--dir", ffs.Dir}, args...)...)
	c := p.Client(func(o *redis.Options) { o.MaxRetries = -1; o.ReadTimeout = 5 * time.Second })
	ctx := context.Background()
	testutil.WaitInfo(t, c, "persistence", "aof_rewrite_in_progress:0")

	// One writer; acked holds the keys it was told were written.
	var acked []string
	refused, unconfirmed := 0, 0
	set := func(i int) error {
		k := "k" + strconv.Itoa(i)
		err := c.Set(ctx, k, strconv.Itoa(i), 0).Err()
		switch {
		case err == nil:
			acked = append(acked, k)
		case strings.HasPrefix(err.Error(), "MISCONF "):
			refused++
		case strings.HasPrefix(err.Error(), "NOTCONFIRMED ") && fsync == "always":
			unconfirmed++
		default:
			t.Fatalf("SET %s: %v", k, err)
		}
		return err
	}
	i := 0
	for ; i < 300; i++ {
		set(i)
	}
	ffs.FailSyncs(syscall.EIO)
	// Write until the failure shows: under everysec that takes up to the
	// next fsync, and what was acknowledged meanwhile is what the disk
	// loses.
	var refusal error
	testutil.WaitFor(t, 10*time.Second, "writes refused with MISCONF", func() (bool, string) {
		i++
		refusal = set(i)
		return refusal != nil && strings.HasPrefix(refusal.Error(), "MISCONF "), fmt.Sprint("last write: ", refusal)
	})
	// Redis's text: the OS error as strerror says it.
	if want := "MISCONF Errors writing to the AOF file: Input/output error"; refusal.Error() != want {
		t.Errorf("refused with %q, want %q", refusal, want)
	}
	if fsync == "always" && unconfirmed == 0 {
		t.Error("no write waiting for its fsync was told it failed")
	}
	if info := c.Info(ctx, "persistence").Val(); !strings.Contains(info, "aof_last_write_status:err") {
		t.Errorf("INFO does not show the write error:\n%s", info)
	}
	// The disk stays bad for a while: the writer's retries fail too.
	time.Sleep(500 * time.Millisecond)
	if c.Get(ctx, "k0").Val() != "0" {
		t.Fatal("reads stopped working while the disk fails")
	}
	ffs.Heal()
	testutil.WaitFor(t, 10*time.Second, "writes to resume after the disk heals", func() (bool, string) {
		i++
		err := set(i)
		return err == nil, "still refused"
	})
	for n := i + 100; i < n; i++ {
		set(i)
	}
	// WAITAOF: everything acknowledged is fsynced (everysec's acks come
	// before their fsync).
	if n, err := c.Do(ctx, "WAITAOF", 1, 0, 5000).Slice(); err != nil || n[0] != int64(1) {
		t.Fatalf("WAITAOF 1 0: %v %v", n, err)
	}
	p.Kill()

	// Load what is on the "disk", not through the mount.
	p2 := testutil.StartVigil(t, append([]string{"--dir", ffs.Backing}, args...)...)
	c2 := p2.Client()
	for _, k := range acked {
		if v, err := c2.Get(ctx, k).Result(); err != nil || "k"+v != k {
			t.Fatalf("acknowledged %s lost after the failed fsync (%q, %v)", k, v, err)
		}
	}
	t.Logf("%d fsyncs failed; %d writes acknowledged, %d NOTCONFIRMED, %d refused with MISCONF", ffs.FailedSyncs(), len(acked), unconfirmed, refused)
}

// TestFailedFsyncBeforeEarlyFlush: under appendfsync always, the replies a
// connection flushes early (before a blocking command waits, before a
// protocol error closes it) wait for the fsync like any other, and a
// write whose fsync failed is answered NOTCONFIRMED there too, never OK.
func TestFailedFsyncBeforeEarlyFlush(t *testing.T) {
	ffs := mountFaultFS(t)
	p := testutil.StartVigil(t, "--dir", ffs.Dir, "--appendonly", "yes", "--appendfsync", "always")
	c := p.Client()
	ctx := context.Background()
	testutil.WaitInfo(t, c, "persistence", "aof_rewrite_in_progress:0")
	const notConfirmed = "-NOTCONFIRMED The write was applied in memory but not written to the AOF: Input/output error\r\n"
	for _, tc := range []struct {
		name, pipeline, then string
	}{
		{"a blocking command", "SET a 1\r\nBLPOP nolist 0.1\r\n", "*-1\r\n"},
		{"a protocol error", "SET b 1\r\n*1\r\n$x\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ffs.FailSyncs(syscall.EIO)
			conn := testutil.DialRaw(t, p.Addr)
			defer conn.Close()
			conn.Write([]byte(tc.pipeline))
			if got := string(conn.Read()); got != notConfirmed {
				t.Errorf("the write's reply is %q, want %q", got, notConfirmed)
			}
			if got := string(conn.Read()); got != tc.then {
				t.Errorf("then %q, want %q", got, tc.then)
			}
			ffs.Heal()
			testutil.WaitFor(t, 10*time.Second, "writes to resume", func() (bool, string) {
				err := c.Set(ctx, "probe", "1", 0).Err()
				return err == nil, fmt.Sprint(err)
			})
		})
	}
}

// mountFaultFS mounts a fresh faultfs for the test, or skips it where FUSE
// cannot be used.
func mountFaultFS(t *testing.T) *faultfs.FS {
	t.Helper()
	if err := faultfs.Available(); err != nil {
		t.Skipf("FUSE unavailable: %v", err)
	}
	ffs, err := faultfs.Mount(t.TempDir(), t.TempDir())
	if err != nil {
		t.Skipf("cannot mount a FUSE file system: %v", err)
	}
	t.Cleanup(func() { ffs.Unmount() })
	return ffs
}
