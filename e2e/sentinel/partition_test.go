package sentinel

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/deploy/proc"
	"github.com/vigilkv/vigil/internal/netns"
	"github.com/vigilkv/vigil/internal/testutil"
	"github.com/vigilkv/vigil/internal/writeload"
)

// TestPartitionDrill cuts the master off from the sentinels and the
// replicas with a real network partition (the master runs in its own
// network namespace and the link is taken down) while a client inside the
// namespace still reaches it. The master must stop acknowledging writes
// before the sentinels' failover begins (its lease runs out first), and
// with sync-replicas 1 no acknowledged write is lost after healing.
func TestPartitionDrill(t *testing.T) {
	if err := netns.Available(); err != nil {
		t.Skip(err)
	}
	for i, syncReplicas := range []int{0, 1} {
		t.Run(fmt.Sprint("sync-replicas ", syncReplicas), func(t *testing.T) {
			partitionDrill(t, syncReplicas, 20+os.Getpid()%100*2+i)
		})
	}
}

func partitionDrill(t *testing.T, syncReplicas, subnet int) {
	ctx := context.Background()
	ns, err := netns.New(fmt.Sprint("vp", subnet), subnet)
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { ns.Close() })
	dir := t.TempDir()
	sr := strconv.Itoa(syncReplicas)
	path, args := ns.Command(testutil.ServerBinary(t), "--bind", "0.0.0.0", "--protected-mode", "no", "--dir", dir,
		"--save", "", "--loglevel", "notice", "--sync-replicas", sr)
	master := testutil.StartProcess(t, proc.Spec{Name: "master (in " + ns.Name + ")", Path: path, Args: args, Dir: dir,
		Host: ns.IP, LogPath: filepath.Join(dir, "master.log")})
	replicaArgs := []string{"--bind", "127.0.0.1", ns.HostIP, "--protected-mode", "no", "--replica-announce-ip", ns.HostIP,
		"--replicaof", fmt.Sprintf("%s %d", ns.IP, master.Port), "--sync-replicas", sr}
	replicas := []*testutil.Proc{testutil.StartVigil(t, replicaArgs...), testutil.StartVigil(t, replicaArgs...)}
	sents := testutil.StartSentinels(t, 3, ns.IP, master.Port, 1000)
	sc := redis.NewClient(&redis.Options{Addr: sents[0].Addr, Protocol: 2})
	t.Cleanup(func() { sc.Close() })
	testutil.WaitFor(t, 30*time.Second, "the sentinels to know the topology", func() (bool, string) {
		v, err := sc.Do(ctx, "SENTINEL", "MASTER", "mymaster").Slice()
		if err != nil {
			return false, err.Error()
		}
		f := fields(v)
		return f["num-other-sentinels"] == "2" && f["num-slaves"] == "2", fmt.Sprint(f)
	})
	// The client inside the namespace: it reaches the master through the
	// namespace's loopback, which the partition does not touch.
	inside := func() *redis.Client {
		return redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", master.Port), Dialer: ns.Dial,
			MaxRetries: -1, PoolSize: 1, ReadTimeout: 5 * time.Second, DisableIdentity: true})
	}
	stale := inside()
	t.Cleanup(func() { stale.Close() })
	testutil.WaitFor(t, 10*time.Second, "the master lease", func() (bool, string) {
		info := stale.Info(ctx, "replication").Val()
		return strings.Contains(info, "master_lease:ok"), info
	})

	// Every sentinel's events, with when they arrived.
	var evMu sync.Mutex
	var failoverBegan, switched time.Time
	for _, s := range sents {
		c := redis.NewClient(&redis.Options{Addr: s.Addr, Protocol: 2})
		t.Cleanup(func() { c.Close() })
		ps := c.PSubscribe(ctx, "*")
		t.Cleanup(func() { ps.Close() })
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatal(err)
		}
		go func() {
			for m := range ps.Channel() {
				now := time.Now()
				evMu.Lock()
				switch m.Channel {
				case "+try-failover", "+elected-leader", "+failover-state-select-slave", "+selected-slave", "+promoted-slave",
					"+failover-state-send-slaveof-noone", "+switch-master":
					if failoverBegan.IsZero() {
						failoverBegan = now
					}
				}
				if m.Channel == "+switch-master" && switched.IsZero() {
					switched = now
				}
				evMu.Unlock()
			}
		}()
	}

	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "mymaster", SentinelAddrs: []string{sents[0].Addr, sents[1].Addr, sents[2].Addr},
		MaxRetries: -1, DialTimeout: 200 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond})
	t.Cleanup(func() { fc.Close() })
	var mu sync.Mutex
	var acked []string
	var lastStaleAck time.Time
	staleAcksAfterCut := 0
	var cutAt time.Time
	followed := writeload.Start(ctx, fc, "fc:", 2*time.Millisecond, func(k string, _, _ time.Time) {
		mu.Lock()
		acked = append(acked, k)
		mu.Unlock()
	})
	pinned := writeload.Start(ctx, stale, "stale:", 0, func(k string, _, now time.Time) {
		mu.Lock()
		acked = append(acked, k)
		lastStaleAck = now
		if !cutAt.IsZero() {
			staleAcksAfterCut++
		}
		mu.Unlock()
	})
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	cutAt = time.Now()
	mu.Unlock()
	if err := ns.Cut(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, "+switch-master", func() (bool, string) {
		evMu.Lock()
		defer evMu.Unlock()
		return !switched.IsZero(), ""
	})
	time.Sleep(time.Second)
	mu.Lock()
	last, began, afterCut := lastStaleAck, failoverBegan, staleAcksAfterCut
	mu.Unlock()
	t.Logf("cut at 0; the isolated master's last acknowledgement at %v (%d after the cut); failover began at %v; +switch-master at %v",
		last.Sub(cutAt).Round(time.Millisecond), afterCut, began.Sub(cutAt).Round(time.Millisecond), switched.Sub(cutAt).Round(time.Millisecond))
	if !last.Before(began) {
		t.Errorf("the isolated master acknowledged a write %v after the failover began", last.Sub(began))
	}
	if err := ns.Heal(); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	probe := inside()
	t.Cleanup(func() { probe.Close() })
	testutil.WaitFor(t, 20*time.Second, "the old master to be demoted after healing", func() (bool, string) {
		info := probe.Info(ctx, "replication").Val()
		return strings.Contains(info, "role:slave"), info
	})
	t.Logf("old master demoted %v after healing", time.Since(healed).Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond)
	followed.Stop()
	pinned.Stop()

	a, err := sc.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").StringSlice()
	if err != nil || len(a) != 2 {
		t.Fatalf("master address: %v %v", a, err)
	}
	var nm *redis.Client
	for _, r := range replicas {
		if strconv.Itoa(r.Port) == a[1] {
			nm = r.Client()
		}
	}
	if nm == nil {
		t.Fatalf("the new master %v is not one of the replicas", a)
	}
	lost := 0
	for _, k := range acked {
		if nm.Exists(ctx, k).Val() != 1 {
			lost++
		}
	}
	t.Logf("%d writes acknowledged, %d missing on the new master", len(acked), lost)
	if syncReplicas > 0 && lost > 0 {
		t.Errorf("%d acknowledged writes lost with sync-replicas %d", lost, syncReplicas)
	}
}
