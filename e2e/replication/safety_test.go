package replication

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

// TestSyncReplicasNoLoss: with sync-replicas 1 a write is acknowledged
// only once a replica has it. The master is killed after a burst of
// pipelined and concurrent writes; the promoted replica has every
// acknowledged one. A frozen replica turns writes into an explicit error.
func TestSyncReplicasNoLoss(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t, "--sync-replicas", "1", "--sync-replicas-timeout", "500")
	replica := testutil.StartVigil(t)
	replicate(t, replica, master)
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := master.Client(func(o *redis.Options) { o.MaxRetries = -1 })
			for i := 0; i < 50; i++ {
				// Pipelines of 20 writes: one ack releases all of them.
				cmds, _ := c.Pipelined(ctx, func(p redis.Pipeliner) error {
					for j := 0; j < 20; j++ {
						p.Set(ctx, fmt.Sprintf("w%d-%d-%d", w, i, j), "v", 0)
					}
					return nil
				})
				mu.Lock()
				for _, cmd := range cmds {
					if cmd.Err() == nil {
						acked[cmd.Args()[1].(string)] = true
					}
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	if len(acked) != 8*50*20 {
		t.Fatalf("%d of %d writes acknowledged with a healthy replica", len(acked), 8*50*20)
	}
	master.Kill()
	rc := replica.Client()
	rc.SlaveOf(ctx, "NO", "ONE")
	missing := 0
	for k := range acked {
		if rc.Exists(ctx, k).Val() != 1 {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d acknowledged writes missing on the promoted replica", missing)
	}

	// A frozen replica: the write is refused explicitly, not silently.
	master.Restart()
	replicate(t, replica, master)
	mc := master.Client()
	if err := mc.Set(ctx, "ok", "1", 0).Err(); err != nil {
		t.Fatalf("write with a healthy replica: %v", err)
	}
	replica.Freeze()
	start := time.Now()
	err := mc.Set(ctx, "frozen", "1", 0).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "NOTCONFIRMED") {
		t.Fatalf("write with a frozen replica: %v", err)
	}
	if d := time.Since(start); d < 400*time.Millisecond || d > 5*time.Second {
		t.Errorf("the unconfirmed write returned after %v, sync-replicas-timeout is 500ms", d)
	}

	// Lowering sync-replicas lets writes already waiting go at once.
	mc.ConfigSet(ctx, "sync-replicas-timeout", "20000")
	released := make(chan error, 1)
	go func() { released <- mc.Set(ctx, "lowered", "1", 0).Err() }()
	time.Sleep(200 * time.Millisecond)
	if err := master.Client().ConfigSet(ctx, "sync-replicas", "0").Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-released:
		if err != nil {
			t.Fatalf("write waiting when sync-replicas fell to 0: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a waiting write was not let go when sync-replicas fell to 0")
	}
	mc.ConfigSet(ctx, "sync-replicas", "1")
	mc.ConfigSet(ctx, "sync-replicas-timeout", "500")

	replica.Thaw()
	deadline := time.Now().Add(10 * time.Second)
	for mc.Set(ctx, "thawed", "1", 0).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("writes not confirmed again after the replica thawed")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A replica killed while a write waits for it: the writer is let go
	// by its timeout, with the explicit refusal, and the master goes on.
	killed := make(chan error, 1)
	go func() { killed <- mc.Set(ctx, "killed", "1", 0).Err() }()
	replica.Kill()
	select {
	case err := <-killed:
		// The ack may have come just before the kill.
		if err != nil && !strings.HasPrefix(err.Error(), "NOTCONFIRMED") {
			t.Fatalf("write as its replica was killed: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a write waiting for a killed replica was never answered")
	}
	if err := mc.Set(ctx, "alone", "1", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOTCONFIRMED") {
		t.Fatalf("write with the replica dead: %v", err)
	}
	if v, err := mc.Get(ctx, "alone").Result(); err != nil || v != "1" {
		t.Fatalf("the unconfirmed write is not applied on the master: %q, %v", v, err)
	}
}

// TestMinReplicasAndStaleData: min-replicas-to-write refuses writes
// without enough good replicas; replica-serve-stale-data no answers
// MASTERDOWN while the link is down.
func TestMinReplicasAndStaleData(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t, "--min-replicas-to-write", "1", "--min-replicas-max-lag", "2")
	mc := master.Client()
	if err := mc.Set(ctx, "k", "v", 0).Err(); err == nil || err.Error() != "NOREPLICAS Not enough good replicas to write." {
		t.Fatalf("write without replicas: %v", err)
	}
	replica := testutil.StartVigil(t, "--replica-serve-stale-data", "no")
	replicate(t, replica, master)
	deadline := time.Now().Add(5 * time.Second)
	for mc.Set(ctx, "k", "v", 0).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("writes still refused with a good replica")
		}
		time.Sleep(50 * time.Millisecond)
	}
	master.Kill()
	rc := replica.Client()
	testutil.WaitInfo(t, rc, "replication", "master_link_status:down")
	if err := rc.Get(ctx, "k").Err(); err == nil || !strings.HasPrefix(err.Error(), "MASTERDOWN") {
		t.Fatalf("read on a replica with its link down: %v", err)
	}
	if err := rc.Info(ctx, "replication").Err(); err != nil {
		t.Fatalf("INFO must still work: %v", err)
	}
}

// TestCoordinatedFailover: FAILOVER under a write load swaps the roles
// of the master and its replica with no acknowledged write lost; the old
// master continues as a replica with a partial resync.
func TestCoordinatedFailover(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t)
	replica := testutil.StartVigil(t)
	replicate(t, replica, master)
	mc := master.Client(func(o *redis.Options) { o.MaxRetries = -1 })
	var acked []string
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			k := fmt.Sprint("k", i)
			if mc.Set(ctx, k, i, 0).Err() == nil {
				acked = append(acked, k)
			}
		}
	}()
	time.Sleep(200 * time.Millisecond)
	if err := master.Client().Do(ctx, "FAILOVER", "TIMEOUT", "5000").Err(); err != nil {
		t.Fatalf("FAILOVER: %v", err)
	}
	testutil.WaitInfo(t, replica.Client(), "replication", "role:master")
	testutil.WaitInfo(t, master.Client(), "replication", "master_link_status:up")
	time.Sleep(100 * time.Millisecond)
	close(stop)
	<-done
	rc := replica.Client()
	for _, k := range acked {
		if rc.Exists(ctx, k).Val() != 1 {
			t.Fatalf("acknowledged %s lost in the failover (%d acknowledged)", k, len(acked))
		}
	}
	if n := infoInt(rc.Info(ctx, "stats").Val(), "sync_partial_ok"); n != 1 {
		t.Errorf("the old master should have continued with a partial resync (sync_partial_ok %d)", n)
	}
	if err := master.Client().Set(ctx, "x", "y", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "READONLY") {
		t.Errorf("the old master still takes writes: %v", err)
	}
	t.Logf("%d writes acknowledged across the failover, none lost", len(acked))
}
