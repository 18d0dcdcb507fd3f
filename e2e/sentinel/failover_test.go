// Package sentinel tests vigil-sentinel against real vigil-server
// processes.
package sentinel

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/deploy/proc"
	"github.com/vigilkv/vigil/deploy/rollout"
	"github.com/vigilkv/vigil/internal/testutil"
	"github.com/vigilkv/vigil/internal/writeload"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// startSentinels starts n vigil-sentinels monitoring the master on
// loopback.
func startSentinels(t *testing.T, n int, masterPort int, downAfterMs int) []*testutil.Proc {
	t.Helper()
	return testutil.StartSentinels(t, n, "127.0.0.1", masterPort, downAfterMs)
}

func fields(v []any) map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(v); i += 2 {
		out[fmt.Sprint(v[i])] = fmt.Sprint(v[i+1])
	}
	return out
}

// TestSentinelFailover: three vigil-sentinels, a vigil master and two
// replicas. Killing the master, the sentinels agree, elect a leader and
// promote a replica; a go-redis FailoverClient discovers it and keeps
// writing; nothing acknowledged before the kill is lost; the old master
// comes back as a replica.
func TestSentinelFailover(t *testing.T) { sentinelFailover(t, testutil.StartVigil) }

// TestSentinelFailoverRedisNodes is the same with real redis-server data
// nodes: a user may keep Redis and use vigil's sentinels.
func TestSentinelFailoverRedisNodes(t *testing.T) {
	testutil.RequireRedis(t)
	sentinelFailover(t, testutil.StartRedis)
}

func sentinelFailover(t *testing.T, start func(testing.TB, ...string) *testutil.Proc) {
	ctx := context.Background()
	master := start(t)
	replicaArgs := []string{"--replicaof", fmt.Sprintf("127.0.0.1 %d", master.Port)}
	replicas := []*testutil.Proc{start(t, replicaArgs...), start(t, replicaArgs...)}
	sents := startSentinels(t, 3, master.Port, 1000)
	var addrs []string
	var clients []*redis.Client
	for _, s := range sents {
		addrs = append(addrs, s.Addr)
		c := redis.NewClient(&redis.Options{Addr: s.Addr, Protocol: 2})
		t.Cleanup(func() { c.Close() })
		clients = append(clients, c)
	}
	for i, c := range clients {
		testutil.WaitFor(t, 20*time.Second, fmt.Sprintf("sentinel %d to see the replicas and its peers", i), func() (bool, string) {
			v, err := c.Do(ctx, "SENTINEL", "MASTER", "mymaster").Slice()
			if err != nil {
				return false, err.Error()
			}
			f := fields(v)
			return f["num-slaves"] == "2" && f["num-other-sentinels"] == "2", fmt.Sprint(f)
		})
	}
	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "mymaster", SentinelAddrs: addrs, MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 500 * time.Millisecond})
	t.Cleanup(func() { fc.Close() })
	for i := 0; i < 100; i++ {
		if err := fc.Set(ctx, fmt.Sprint("k", i), i, 0).Err(); err != nil {
			t.Fatalf("write through the FailoverClient: %v", err)
		}
	}
	testutil.WaitFor(t, 10*time.Second, "the replicas to have every write", func() (bool, string) {
		for _, r := range replicas {
			if r.Client().Get(ctx, "k99").Val() != "99" {
				return false, "not yet"
			}
		}
		return true, ""
	})
	switches := clients[0].Subscribe(ctx, "+switch-master")
	t.Cleanup(func() { switches.Close() })
	if _, err := switches.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	master.Kill()
	var msg *redis.Message
	select {
	case msg = <-switches.Channel():
	case <-time.After(30 * time.Second):
		t.Fatal("no +switch-master within 30s")
	}
	t.Logf("+switch-master %v after the kill (at %s): %s", time.Since(killed).Round(time.Millisecond), killed.Format("15:04:05.000"), msg.Payload)
	if os.Getenv("VIGIL_SENTINEL_LOGS") != "" {
		time.Sleep(200 * time.Millisecond)
		for i, s := range sents {
			t.Logf("sentinel %d:\n%s", i, proc.LogTail(s.LogPath, 8192))
		}
	}
	f := strings.Fields(msg.Payload)
	var promoted *testutil.Proc
	for _, r := range replicas {
		if len(f) == 5 && strconv.Itoa(r.Port) == f[4] {
			promoted = r
		}
	}
	if promoted == nil {
		t.Fatalf("+switch-master %q does not name a replica", msg.Payload)
	}
	for i, c := range clients {
		testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("sentinel %d to report the new master", i), func() (bool, string) {
			a, err := c.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").StringSlice()
			return err == nil && len(a) == 2 && a[1] == f[4], fmt.Sprint(a, err)
		})
	}
	testutil.WaitFor(t, 10*time.Second, "the FailoverClient to write to the new master", func() (bool, string) {
		err := fc.Set(ctx, "after", "1", 0).Err()
		return err == nil, fmt.Sprint(err)
	})
	for i := 0; i < 100; i++ {
		if promoted.Client().Get(ctx, fmt.Sprint("k", i)).Val() != strconv.Itoa(i) {
			t.Fatalf("k%d, acknowledged before the kill, is missing on the new master", i)
		}
	}
	master.Restart()
	testutil.WaitFor(t, 30*time.Second, "the old master to be converted to a replica", func() (bool, string) {
		info := master.Client().Info(ctx, "replication").Val()
		return strings.Contains(info, "role:slave") && strings.Contains(info, "master_port:"+f[4]), info
	})
}

// TestLoneSentinelDoesNotFailOver: with two of three sentinels gone, the
// last one sees the master down but cannot reach the quorum, so nothing
// is promoted. A restarted sentinel keeps its id and epoch.
func TestLoneSentinelDoesNotFailOver(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t)
	replica := testutil.StartVigil(t, "--replicaof", fmt.Sprintf("127.0.0.1 %d", master.Port))
	sents := startSentinels(t, 3, master.Port, 500)
	c := redis.NewClient(&redis.Options{Addr: sents[0].Addr, Protocol: 2})
	t.Cleanup(func() { c.Close() })
	testutil.WaitFor(t, 20*time.Second, "the sentinels to find each other", func() (bool, string) {
		v, err := c.Do(ctx, "SENTINEL", "MASTER", "mymaster").Slice()
		if err != nil {
			return false, err.Error()
		}
		f := fields(v)
		return f["num-other-sentinels"] == "2" && f["num-slaves"] == "1", fmt.Sprint(f)
	})
	id := c.Do(ctx, "SENTINEL", "MYID").Val()
	sents[1].Kill()
	sents[2].Kill()
	master.Kill()
	testutil.WaitFor(t, 10*time.Second, "the lone sentinel to see the master down", func() (bool, string) {
		v, _ := c.Do(ctx, "SENTINEL", "MASTER", "mymaster").Slice()
		f := fields(v)
		return strings.Contains(f["flags"], "s_down"), f["flags"]
	})
	time.Sleep(3 * time.Second)
	v, _ := c.Do(ctx, "SENTINEL", "MASTER", "mymaster").Slice()
	if f := fields(v); strings.Contains(f["flags"], "o_down") || f["port"] != strconv.Itoa(master.Port) {
		t.Fatalf("a lone sentinel acted: %v", f)
	}
	if strings.Contains(replica.Client().Info(ctx, "replication").Val(), "role:master") {
		t.Fatal("the replica was promoted without a quorum")
	}
	testutil.WaitFor(t, 15*time.Second, "the lone sentinel to refuse to name a master", func() (bool, string) {
		err := c.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").Err()
		return err != nil && strings.HasPrefix(err.Error(), "NOQUORUM"), fmt.Sprint(err)
	})
	sents[0].Restart()
	c2 := redis.NewClient(&redis.Options{Addr: sents[0].Addr, Protocol: 2})
	t.Cleanup(func() { c2.Close() })
	if got := c2.Do(ctx, "SENTINEL", "MYID").Val(); got != id {
		t.Fatalf("the restarted sentinel's id changed: %v, was %v", got, id)
	}
}

// TestSentinelFailoverCommand: SENTINEL FAILOVER on a healthy master uses
// the data node's coordinated FAILOVER: under a write load, no
// acknowledged write is lost and the roles swap.
func TestSentinelFailoverCommand(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t)
	replica := testutil.StartVigil(t, "--replicaof", fmt.Sprintf("127.0.0.1 %d", master.Port))
	sents := startSentinels(t, 3, master.Port, 1000)
	c := redis.NewClient(&redis.Options{Addr: sents[0].Addr, Protocol: 2})
	t.Cleanup(func() { c.Close() })
	testutil.WaitFor(t, 20*time.Second, "the sentinels to find each other", func() (bool, string) {
		v, err := c.Do(ctx, "SENTINEL", "MASTER", "mymaster").Slice()
		if err != nil {
			return false, err.Error()
		}
		f := fields(v)
		return f["num-other-sentinels"] == "2" && f["num-slaves"] == "1", fmt.Sprint(f)
	})
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
			if mc.Set(ctx, fmt.Sprint("k", i), i, 0).Err() == nil {
				acked = append(acked, fmt.Sprint("k", i))
			}
		}
	}()
	time.Sleep(200 * time.Millisecond)
	// NOGOODSLAVE until the sentinel has reached the replica: asked again.
	if err := rollout.RequestFailover(ctx, c, "mymaster"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 20*time.Second, "the sentinel to name the replica", func() (bool, string) {
		a, err := c.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").StringSlice()
		return err == nil && len(a) == 2 && a[1] == strconv.Itoa(replica.Port), fmt.Sprint(a, err)
	})
	time.Sleep(200 * time.Millisecond)
	close(stop)
	<-done
	rc := replica.Client()
	for _, k := range acked {
		if rc.Exists(ctx, k).Val() != 1 {
			t.Fatalf("acknowledged %s lost (%d acknowledged)", k, len(acked))
		}
	}
	t.Logf("%d writes acknowledged during SENTINEL FAILOVER, none lost", len(acked))
}

// TestTiltAfterAStall: a sentinel frozen past the TILT trigger enters
// TILT when it wakes: it says so in INFO and refuses to name a master;
// CKQUORUM reports the usable sentinels.
func TestTiltAfterAStall(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t)
	sents := startSentinels(t, 3, master.Port, 5000)
	c := redis.NewClient(&redis.Options{Addr: sents[0].Addr, Protocol: 2})
	t.Cleanup(func() { c.Close() })
	testutil.WaitFor(t, 20*time.Second, "the sentinels to find each other", func() (bool, string) {
		err := c.Do(ctx, "SENTINEL", "CKQUORUM", "mymaster").Err()
		return err == nil, fmt.Sprint(err)
	})
	sents[0].Freeze()
	time.Sleep(3 * time.Second)
	sents[0].Thaw()
	testutil.WaitFor(t, 5*time.Second, "TILT", func() (bool, string) {
		info := c.Info(ctx, "sentinel").Val()
		return strings.Contains(info, "sentinel_tilt:1"), info
	})
	if err := c.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").Err(); err == nil || !strings.HasPrefix(err.Error(), "TILT") {
		t.Fatalf("GET-MASTER-ADDR-BY-NAME in TILT: %v", err)
	}
}

// TestFreezeDrillLease is the split-brain drill: the master is frozen
// (SIGSTOP) past down-after while a stale client keeps writing to it
// directly. The sentinels promote a replica; when the old master wakes up
// its lease has expired, so it acknowledges none of the writes waiting in
// its sockets, and it is demoted within about a second. Every write it
// acknowledged before the freeze is on the new master.
func TestFreezeDrillLease(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t)
	replicaArgs := []string{"--replicaof", fmt.Sprintf("127.0.0.1 %d", master.Port), "--sync-replicas", "0"}
	replicas := []*testutil.Proc{testutil.StartVigil(t, replicaArgs...), testutil.StartVigil(t, replicaArgs...)}
	sents := startSentinels(t, 3, master.Port, 1000)
	c := redis.NewClient(&redis.Options{Addr: sents[0].Addr, Protocol: 2})
	t.Cleanup(func() { c.Close() })
	testutil.WaitFor(t, 20*time.Second, "the sentinels to know the topology", func() (bool, string) {
		v, err := c.Do(ctx, "SENTINEL", "MASTER", "mymaster").Slice()
		if err != nil {
			return false, err.Error()
		}
		f := fields(v)
		return f["num-other-sentinels"] == "2" && f["num-slaves"] == "2", fmt.Sprint(f)
	})
	testutil.WaitFor(t, 5*time.Second, "the master lease", func() (bool, string) {
		info := master.Client().Info(ctx, "replication").Val()
		return strings.Contains(info, "master_lease:ok"), info
	})
	stale := redis.NewClient(&redis.Options{Addr: master.Addr, MaxRetries: -1, ReadTimeout: 10 * time.Second, PoolSize: 4})
	t.Cleanup(func() { stale.Close() })
	// frozenAt is set once the freeze has surely taken effect: any write
	// sent later can only be processed after the master wakes up.
	var frozenAt atomic.Int64
	var acked, ackedAfterFreeze []string
	load := writeload.Start(ctx, stale, "w", 0, func(k string, sent, _ time.Time) {
		if f := frozenAt.Load(); f != 0 && sent.UnixNano() > f {
			ackedAfterFreeze = append(ackedAfterFreeze, k)
		} else {
			acked = append(acked, k)
		}
	})
	time.Sleep(300 * time.Millisecond)
	master.Freeze()
	time.Sleep(50 * time.Millisecond)
	frozenAt.Store(time.Now().UnixNano())
	testutil.WaitFor(t, 20*time.Second, "a replica to be promoted", func() (bool, string) {
		a, err := c.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").StringSlice()
		return err == nil && len(a) == 2 && a[1] != strconv.Itoa(master.Port), fmt.Sprint(a, err)
	})
	time.Sleep(time.Second)
	woke := time.Now()
	master.Thaw()
	testutil.WaitFor(t, 5*time.Second, "the old master to be demoted", func() (bool, string) {
		info := master.Client().Info(ctx, "replication").Val()
		return strings.Contains(info, "role:slave"), info
	})
	t.Logf("old master demoted %v after waking up", time.Since(woke).Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond)
	load.Stop()
	if len(ackedAfterFreeze) > 0 {
		t.Fatalf("the old master acknowledged %d writes sent after it was frozen (first %s): split brain", len(ackedAfterFreeze), ackedAfterFreeze[0])
	}
	a, _ := c.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").StringSlice()
	var newMaster *testutil.Proc
	for _, r := range replicas {
		if strconv.Itoa(r.Port) == a[1] {
			newMaster = r
		}
	}
	if newMaster == nil {
		t.Fatalf("new master %v is not a replica", a)
	}
	nm := newMaster.Client()
	lost := 0
	for _, k := range acked {
		if nm.Exists(ctx, k).Val() != 1 {
			lost++
		}
	}
	t.Logf("%d writes acknowledged before the freeze, %d of them missing on the new master (replication is asynchronous without sync-replicas)", len(acked), lost)
}
