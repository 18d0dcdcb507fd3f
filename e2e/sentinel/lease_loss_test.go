package sentinel

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

// TestSentinelLossDrill: with one of three sentinels down the lease holds
// (a majority still renews it) and writes go on; with two down writes stop
// with -NOLEASE, and they resume when one sentinel returns.
func TestSentinelLossDrill(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t)
	testutil.StartVigil(t, "--replicaof", "127.0.0.1 "+strconv.Itoa(master.Port))
	sents := testutil.StartSentinels(t, 3, "127.0.0.1", master.Port, 1000)
	c := master.Client(func(o *redis.Options) { o.MaxRetries = -1 })
	testutil.WaitFor(t, 20*time.Second, "the master lease", func() (bool, string) {
		info := c.Info(ctx, "replication").Val()
		return strings.Contains(info, "master_lease:ok"), info
	})
	// writesFor writes for d and returns how many failed and one error.
	writesFor := func(d time.Duration) (ok, failed int, last error) {
		for end := time.Now().Add(d); time.Now().Before(end); {
			if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
				failed++
				last = err
				time.Sleep(5 * time.Millisecond)
				continue
			}
			ok++
		}
		return ok, failed, last
	}

	sents[0].Kill()
	if ok, failed, err := writesFor(3 * time.Second); failed > 0 {
		t.Fatalf("one sentinel of three down: %d writes failed (%v), %d succeeded", failed, err, ok)
	}

	sents[1].Kill()
	time.Sleep(time.Second) // the lease (down-after/2) runs out
	_, failed, err := writesFor(time.Second)
	if failed == 0 || err == nil || !strings.HasPrefix(err.Error(), "NOLEASE") {
		t.Fatalf("two sentinels of three down: writes went on (last error %v)", err)
	}
	if v := c.Get(ctx, "k").Val(); v != "v" {
		t.Errorf("reads stopped too: GET k = %q", v)
	}

	sents[1].Restart()
	testutil.WaitFor(t, 20*time.Second, "writes to resume with two sentinels back", func() (bool, string) {
		err := c.Set(ctx, "k", "v2", 0).Err()
		return err == nil, errString(err)
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestRestartedOldMasterTakesNoWrites: an old master killed -9 and
// restarted with its original command line (as a master) while the
// sentinels fail over takes no write from a client still pointed at it:
// it remembers that sentinels manage it and waits for a lease they never
// give it, until they demote it.
func TestRestartedOldMasterTakesNoWrites(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t)
	replicaArgs := []string{"--replicaof", "127.0.0.1 " + strconv.Itoa(master.Port)}
	testutil.StartVigil(t, replicaArgs...)
	testutil.StartVigil(t, replicaArgs...)
	sents := testutil.StartSentinels(t, 3, "127.0.0.1", master.Port, 1000)
	sc := redis.NewClient(&redis.Options{Addr: sents[0].Addr, Protocol: 2})
	t.Cleanup(func() { sc.Close() })
	testutil.WaitFor(t, 20*time.Second, "the sentinels to know the topology", func() (bool, string) {
		v, err := sc.Do(ctx, "SENTINEL", "MASTER", "mymaster").Slice()
		if err != nil {
			return false, err.Error()
		}
		f := fields(v)
		return f["num-other-sentinels"] == "2" && f["num-slaves"] == "2", fmt.Sprint(f)
	})
	mc := master.Client(func(o *redis.Options) { o.MaxRetries = -1 })
	testutil.WaitFor(t, 10*time.Second, "the master lease", func() (bool, string) {
		info := mc.Info(ctx, "replication").Val()
		return strings.Contains(info, "master_lease:ok"), info
	})
	// The node records that it is managed once its lease first comes into
	// force, in a file written (with fsyncs) off the write path: a kill
	// before that file is in place is a restart the node cannot know of.
	testutil.WaitFor(t, 10*time.Second, "the node to record that sentinels manage it", func() (bool, string) {
		_, err := os.Stat(filepath.Join(master.Dir, "vigil-managed"))
		return err == nil, fmt.Sprint(err)
	})
	master.Kill()
	testutil.WaitFor(t, 20*time.Second, "a replica to be promoted", func() (bool, string) {
		a, err := sc.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").StringSlice()
		return err == nil && len(a) == 2 && a[1] != strconv.Itoa(master.Port), fmt.Sprint(a, err)
	})
	master.Restart()
	stale := master.Client(func(o *redis.Options) { o.MaxRetries = -1 })
	acked := 0
	var lastErr error
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
		if v, _ := stale.Do(ctx, "ROLE").Slice(); len(v) > 0 && v[0] == "slave" {
			break
		}
		if err := stale.Set(ctx, "stale", "1", 0).Err(); err == nil {
			acked++
		} else {
			lastErr = err
			time.Sleep(2 * time.Millisecond)
		}
	}
	if acked > 0 {
		t.Fatalf("the restarted old master acknowledged %d writes before it was demoted", acked)
	}
	t.Logf("restarted old master refused every write until demoted (last error: %v)", lastErr)
	testutil.WaitFor(t, 10*time.Second, "the restarted old master to be demoted", func() (bool, string) {
		v, err := stale.Do(ctx, "ROLE").Slice()
		return err == nil && len(v) > 0 && v[0] == "slave", fmt.Sprint(v, err)
	})
}
