// Package replication tests PSYNC replication between real processes:
// vigil with vigil, and vigil with redis-server in both directions.
package replication

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

var debugArgs = []string{"--enable-debug-command", "yes"}

// replicate points replica at master and waits until its link is up.
func replicate(t *testing.T, replica, master *testutil.Proc) {
	t.Helper()
	ctx := context.Background()
	host, port := splitAddr(master.Addr)
	if err := replica.Client().SlaveOf(ctx, host, port).Err(); err != nil {
		t.Fatalf("REPLICAOF: %v", err)
	}
	testutil.WaitInfo(t, replica.Client(), "replication", "master_link_status:up")
}

func splitAddr(addr string) (string, string) {
	i := strings.LastIndexByte(addr, ':')
	return addr[:i], addr[i+1:]
}

// waitSynced waits until the replica's link is up and its offset reaches
// the master's. The master's offset may be 0: a stream that began with
// this replica holds nothing until the first write or PING.
func waitSynced(t *testing.T, replica, master *redis.Client) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		m := infoInt(master.Info(ctx, "replication").Val(), "master_repl_offset")
		ri := replica.Info(ctx, "replication").Val()
		r := infoInt(ri, "slave_repl_offset")
		if m >= 0 && r >= m && strings.Contains(ri, "master_link_status:up") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("replica never caught up with the master")
}

func infoInt(info, field string) int64 {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}

// dataset reads every key of db 0 in a comparable form.
func dataset(t *testing.T, c *redis.Client) map[string]any {
	t.Helper()
	ctx := context.Background()
	out := map[string]any{}
	for _, k := range c.Keys(ctx, "*").Val() {
		var v any
		switch c.Type(ctx, k).Val() {
		case "string":
			v = c.Get(ctx, k).Val()
		case "list":
			v = c.LRange(ctx, k, 0, -1).Val()
		case "hash":
			v = c.HGetAll(ctx, k).Val()
		case "set":
			m := c.SMembers(ctx, k).Val()
			sort.Strings(m)
			v = m
		case "zset":
			v = c.ZRangeWithScores(ctx, k, 0, -1).Val()
		}
		out[k] = []any{v, c.TTL(ctx, k).Val() > 0}
	}
	return out
}

func populate(ctx context.Context, c *redis.Client, n int) {
	pipe := c.Pipeline()
	for i := 0; i < n; i++ {
		pipe.Set(ctx, fmt.Sprint("s", i), strings.Repeat("v", i%50), 0)
		if i%10 == 0 {
			pipe.RPush(ctx, fmt.Sprint("l", i%30), i)
			pipe.HSet(ctx, fmt.Sprint("h", i%30), fmt.Sprint("f", i), i)
			pipe.SAdd(ctx, fmt.Sprint("set", i%30), i)
			pipe.ZAdd(ctx, fmt.Sprint("z", i%30), redis.Z{Score: float64(i) / 3, Member: fmt.Sprint("m", i)})
		}
		if i%100 == 0 {
			pipe.Expire(ctx, fmt.Sprint("s", i), time.Hour)
		}
	}
	pipe.Exec(ctx)
}

// TestFullSyncUnderWritesAndStream: a replica attached while writers run
// ends up with exactly the master's dataset; later writes, expiries and
// deletes stream to it; it refuses writes.
func TestFullSyncUnderWritesAndStream(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t, debugArgs...)
	replica := testutil.StartVigil(t, debugArgs...)
	mc := master.Client()
	populate(ctx, mc, 20000)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := master.Client()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprint("s", (i*7+w)%20000)
				switch i % 4 {
				case 0:
					c.Set(ctx, k, fmt.Sprint("w", w, "-", i), 0)
				case 1:
					c.Del(ctx, k)
				case 2:
					c.RPush(ctx, fmt.Sprint("l", i%30), "x")
				case 3:
					c.Incr(ctx, "counter")
				}
			}
		}(w)
	}
	replicate(t, replica, master)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	rc := replica.Client()
	waitSynced(t, rc, mc)
	if want, got := mc.Do(ctx, "DEBUG", "DIGEST").Val(), rc.Do(ctx, "DEBUG", "DIGEST").Val(); want != got {
		t.Fatalf("digest differs after the full sync: master %v, replica %v", want, got)
	}
	if want, got := dataset(t, mc), dataset(t, rc); !reflect.DeepEqual(want, got) {
		t.Fatal("datasets differ after the full sync")
	}
	if err := rc.Set(ctx, "x", "y", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "READONLY") {
		t.Fatalf("a write on the replica: %v", err)
	}
	if n := mc.Wait(ctx, 1, 5*time.Second).Val(); n != 1 {
		t.Fatalf("WAIT 1: %d", n)
	}
}

// TestPartialResyncAfterLinkDrop: a dropped link resumes from the backlog
// without a full sync.
func TestPartialResyncAfterLinkDrop(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t, debugArgs...)
	replica := testutil.StartVigil(t, debugArgs...)
	mc, rc := master.Client(), replica.Client()
	populate(ctx, mc, 1000)
	replicate(t, replica, master)
	mc.Do(ctx, "CLIENT", "KILL", "TYPE", "replica")
	populate(ctx, mc, 500)
	testutil.WaitInfo(t, rc, "replication", "master_link_status:up")
	waitSynced(t, rc, mc)
	stats := mc.Info(ctx, "stats").Val()
	if infoInt(stats, "sync_full") != 1 || infoInt(stats, "sync_partial_ok") != 1 {
		t.Fatalf("want one full and one partial sync:\n%s", stats)
	}
	if want, got := mc.Do(ctx, "DEBUG", "DIGEST").Val(), rc.Do(ctx, "DEBUG", "DIGEST").Val(); want != got {
		t.Fatal("digest differs after the partial resync")
	}
}

// TestPromotionKeepsSiblingsPartial (PSYNC2): after REPLICAOF NO ONE on
// one replica, its sibling and the old master continue from it with a
// partial resync.
func TestPromotionKeepsSiblingsPartial(t *testing.T) {
	ctx := context.Background()
	// No PINGs from the old master: one sent after r1's promotion would
	// put r2 past r1's history, and a full resync would be right (CI saw
	// it on a loaded machine).
	master := testutil.StartVigil(t, append([]string{"--repl-ping-replica-period", "3600"}, debugArgs...)...)
	r1 := testutil.StartVigil(t, debugArgs...)
	r2 := testutil.StartVigil(t, debugArgs...)
	mc := master.Client()
	populate(ctx, mc, 1000)
	replicate(t, r1, master)
	replicate(t, r2, master)
	mc.Set(ctx, "before-failover", "1", 0)
	waitSynced(t, r1.Client(), mc)
	waitSynced(t, r2.Client(), mc)
	if err := r1.Client().SlaveOf(ctx, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	replicate(t, r2, r1)
	replicate(t, master, r1)
	r1.Client().Set(ctx, "after-failover", "2", 0)
	waitSynced(t, r2.Client(), r1.Client())
	waitSynced(t, master.Client(), r1.Client())
	stats := r1.Client().Info(ctx, "stats").Val()
	if infoInt(stats, "sync_partial_ok") != 2 || infoInt(stats, "sync_full") != 0 {
		t.Fatalf("the promoted replica should have served two partial resyncs:\n%s", stats)
	}
	for _, p := range []*testutil.Proc{r2, master} {
		if p.Client().Get(ctx, "after-failover").Val() != "2" {
			t.Fatal("write on the new master did not reach a sibling")
		}
	}
}

// TestInteropWithRedis replicates redis-server -> vigil and vigil ->
// redis-server, with a full sync, streamed writes and a partial resync.
func TestInteropWithRedis(t *testing.T) {
	testutil.RequireRedis(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name          string
		master, slave func(testing.TB, ...string) *testutil.Proc
		diskless      string
	}{
		{"redis master, vigil replica", testutil.StartRedis, testutil.StartVigil, "yes"},
		{"vigil master, redis replica", testutil.StartVigil, testutil.StartRedis, "yes"},
		{"redis master disk-based, vigil replica", testutil.StartRedis, testutil.StartVigil, "no"},
		{"vigil master disk-based, redis replica", testutil.StartVigil, testutil.StartRedis, "no"},
		{"vigil master disk-based, vigil replica", testutil.StartVigil, testutil.StartVigil, "no"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			master := tc.master(t, "--repl-diskless-sync-delay", "0", "--loglevel", "notice", "--repl-diskless-sync", tc.diskless)
			replica := tc.slave(t, "--loglevel", "notice")
			mc, rc := master.Client(), replica.Client()
			populate(ctx, mc, 3000)
			replicate(t, replica, master)
			populate(ctx, mc, 500)
			mc.IncrByFloat(ctx, "float", 1.25)
			mc.Do(ctx, "CLIENT", "KILL", "TYPE", "replica")
			mc.Set(ctx, "after-drop", "1", 0)
			testutil.WaitInfo(t, rc, "replication", "master_link_status:up")
			waitSynced(t, rc, mc)
			if want, got := dataset(t, mc), dataset(t, rc); !reflect.DeepEqual(want, got) {
				t.Fatal("datasets differ")
			}
			if n := infoInt(mc.Info(ctx, "stats").Val(), "sync_partial_ok"); n != 1 {
				t.Errorf("sync_partial_ok %d, want 1", n)
			}
		})
	}
}

// TestReplicaRestartResumesPartially: a replica restarted from its own
// RDB (which records the master's replication id and offset) continues
// with a partial resync; a SIGKILLed master's replica reconnects once it
// is back.
func TestReplicaRestartResumesPartially(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t, debugArgs...)
	host, port := splitAddr(master.Addr)
	replica := testutil.StartVigil(t, append([]string{"--replicaof", host + " " + port}, debugArgs...)...)
	mc, rc := master.Client(), replica.Client()
	populate(ctx, mc, 2000)
	testutil.WaitInfo(t, rc, "replication", "master_link_status:up")
	waitSynced(t, rc, mc)
	// The replica saves on the way down (SHUTDOWN SAVE) and restarts.
	rc.Do(ctx, "SHUTDOWN", "SAVE")
	populate(ctx, mc, 300)
	replica.Restart()
	rc = replica.Client()
	testutil.WaitInfo(t, rc, "replication", "master_link_status:up")
	waitSynced(t, rc, mc)
	stats := mc.Info(ctx, "stats").Val()
	if infoInt(stats, "sync_full") != 1 || infoInt(stats, "sync_partial_ok") != 1 {
		t.Fatalf("want the restart to resume with a partial resync:\n%s", stats)
	}
	if want, got := mc.Do(ctx, "DEBUG", "DIGEST").Val(), rc.Do(ctx, "DEBUG", "DIGEST").Val(); want != got {
		t.Fatal("digest differs after the replica's restart")
	}
	// The master dies: the link goes down, and comes back with it.
	master.Kill()
	testutil.WaitInfo(t, rc, "replication", "master_link_status:down")
	master.Restart()
	testutil.WaitInfo(t, rc, "replication", "master_link_status:up")
}

// A replica with appendonly yes killed -9 and restarted must not apply
// its master's writes twice: its AOF base records the replication
// position of when the base was written, and the incr files replayed
// after it already hold the later writes.
func TestAOFReplicaRestartAppliesWritesOnce(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t, debugArgs...)
	host, port := splitAddr(master.Addr)
	replica := testutil.StartVigil(t, append([]string{"--replicaof", host + " " + port, "--appendonly", "yes"}, debugArgs...)...)
	mc, rc := master.Client(), replica.Client()
	testutil.WaitInfo(t, rc, "replication", "master_link_status:up")
	for i := 0; i < 100; i++ {
		mc.Incr(ctx, "ctr")
	}
	waitSynced(t, rc, mc)
	replica.Kill()
	for i := 0; i < 50; i++ {
		mc.Incr(ctx, "ctr")
	}
	replica.Restart()
	rc = replica.Client()
	testutil.WaitInfo(t, rc, "replication", "master_link_status:up")
	waitSynced(t, rc, mc)
	if want, got := mc.Get(ctx, "ctr").Val(), rc.Get(ctx, "ctr").Val(); want != got {
		t.Fatalf("counter %s on the master, %s on the restarted replica", want, got)
	}
	if want, got := mc.Do(ctx, "DEBUG", "DIGEST").Val(), rc.Do(ctx, "DEBUG", "DIGEST").Val(); want != got {
		t.Fatal("digest differs after the replica's restart")
	}
}
