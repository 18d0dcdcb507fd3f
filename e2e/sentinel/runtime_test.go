package sentinel

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

// sentinelClient is a RESP2 client of a sentinel, closed with the test.
func sentinelClient(t *testing.T, p *testutil.Proc) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: p.Addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// masterInfo is SENTINEL MASTER name as a map.
func masterInfo(ctx context.Context, c *redis.Client, name string) (map[string]string, error) {
	v, err := c.Do(ctx, "SENTINEL", "MASTER", name).Slice()
	if err != nil {
		return nil, err
	}
	return fields(v), nil
}

// eventLog collects every event a sentinel publishes, in order.
type eventLog struct {
	mu  sync.Mutex
	evs []string // "channel payload"
}

func (l *eventLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.evs...)
}

// subscribeAll subscribes to every event of the sentinel (PSUBSCRIBE *).
func subscribeAll(t *testing.T, c *redis.Client) *eventLog {
	t.Helper()
	ps := c.PSubscribe(context.Background(), "*")
	t.Cleanup(func() { ps.Close() })
	if _, err := ps.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	l := &eventLog{}
	go func() {
		for m := range ps.Channel() {
			l.mu.Lock()
			l.evs = append(l.evs, m.Channel+" "+m.Payload)
			l.mu.Unlock()
		}
	}()
	return l
}

// TestRuntimeMonitorFailover: three sentinels started without any group
// are told to monitor one with SENTINEL MONITOR and tuned with SENTINEL
// SET; after a kill -9 of its master they fail it over. SENTINEL REMOVE
// then stops the monitoring.
func TestRuntimeMonitorFailover(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t)
	replica := testutil.StartVigil(t, "--replicaof", fmt.Sprintf("127.0.0.1 %d", master.Port))
	sents := testutil.StartSentinelsWith(t, 3)
	var clients []*redis.Client
	for _, s := range sents {
		c := sentinelClient(t, s)
		clients = append(clients, c)
		if err := c.Do(ctx, "SENTINEL", "MONITOR", "rt", "127.0.0.1", master.Port, 2).Err(); err != nil {
			t.Fatalf("SENTINEL MONITOR: %v", err)
		}
		if err := c.Do(ctx, "SENTINEL", "SET", "rt", "down-after-milliseconds", 1000, "failover-timeout", 10000).Err(); err != nil {
			t.Fatalf("SENTINEL SET: %v", err)
		}
	}
	for i, c := range clients {
		testutil.WaitFor(t, 20*time.Second, fmt.Sprintf("sentinel %d to know the replica and its peers", i), func() (bool, string) {
			f, err := masterInfo(ctx, c, "rt")
			if err != nil {
				return false, err.Error()
			}
			return f["num-slaves"] == "1" && f["num-other-sentinels"] == "2" && f["down-after-milliseconds"] == "1000", fmt.Sprint(f)
		})
	}
	events := subscribeAll(t, clients[0])
	master.Kill()
	want := fmt.Sprintf("+switch-master rt 127.0.0.1 %d 127.0.0.1 %d", master.Port, replica.Port)
	testutil.WaitFor(t, 30*time.Second, "+switch-master of the runtime group", func() (bool, string) {
		for _, e := range events.all() {
			if e == want {
				return true, ""
			}
		}
		return false, strings.Join(events.all(), "\n")
	})
	for i, c := range clients {
		testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("sentinel %d to name the new master", i), func() (bool, string) {
			a, err := c.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "rt").StringSlice()
			return err == nil && len(a) == 2 && a[1] == strconv.Itoa(replica.Port), fmt.Sprint(a, err)
		})
	}
	if err := clients[0].Do(ctx, "SENTINEL", "REMOVE", "rt").Err(); err != nil {
		t.Fatalf("SENTINEL REMOVE: %v", err)
	}
	if v, err := clients[0].Do(ctx, "SENTINEL", "MASTERS").Slice(); err != nil || len(v) != 0 {
		t.Fatalf("SENTINEL MASTERS after REMOVE: %v %v", v, err)
	}
	if err := clients[0].Do(ctx, "SENTINEL", "MASTER", "rt").Err(); err == nil || err.Error() != "ERR No such master with that name" {
		t.Fatalf("SENTINEL MASTER after REMOVE: %v", err)
	}
	testutil.WaitFor(t, 5*time.Second, "the -monitor event", func() (bool, string) {
		for _, e := range events.all() {
			if e == fmt.Sprintf("-monitor master rt 127.0.0.1 %d", replica.Port) {
				return true, ""
			}
		}
		return false, strings.Join(events.all(), "\n")
	})
	if info := clients[0].Info(ctx, "sentinel").Val(); !strings.Contains(info, "sentinel_masters:0") {
		t.Fatalf("INFO after REMOVE:\n%s", info)
	}
}

// TestSetPersistsAcrossRestart: what SENTINEL SET, CONFIG SET, MONITOR
// and REMOVE changed survives a restart with the same flags.
func TestSetPersistsAcrossRestart(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t)
	other := testutil.StartVigil(t)
	sents := testutil.StartSentinelsWith(t, 1, "--monitor", fmt.Sprintf("mymaster 127.0.0.1 %d 1", master.Port),
		"--down-after-milliseconds", "5000", "--monitor", fmt.Sprintf("gone 127.0.0.1 %d 1", other.Port))
	c := sentinelClient(t, sents[0])
	for _, cmd := range [][]any{
		{"SENTINEL", "SET", "mymaster", "down-after-milliseconds", 4321, "quorum", 3, "parallel-syncs", 2, "failover-timeout", 60000},
		{"SENTINEL", "CONFIG", "SET", "resolve-hostnames", "yes"},
		{"SENTINEL", "MONITOR", "added", "127.0.0.1", other.Port, 1},
		{"SENTINEL", "SET", "added", "down-after-milliseconds", 2222},
		{"SENTINEL", "REMOVE", "gone"},
		// With resolve-hostnames, a hostname: kept as given only with
		// announce-hostnames, else replaced by its address.
		{"SENTINEL", "MONITOR", "byaddr", "localhost", other.Port, 1},
		{"SENTINEL", "CONFIG", "SET", "announce-hostnames", "yes"},
		{"SENTINEL", "MONITOR", "byname", "localhost", other.Port, 1},
	} {
		if err := c.Do(ctx, cmd...).Err(); err != nil {
			t.Fatalf("%v: %v", cmd, err)
		}
	}
	for name, want := range map[string]string{"byaddr": "127.0.0.1", "byname": "localhost"} {
		if f, err := masterInfo(ctx, c, name); err != nil || f["ip"] != want {
			t.Errorf("SENTINEL MASTER %s: ip %q (%v), want %q", name, f["ip"], err, want)
		}
	}
	sents[0].Kill() // no graceful shutdown: the state file was written before each reply
	sents[0].Restart()
	c = sentinelClient(t, sents[0])
	f, err := masterInfo(ctx, c, "mymaster")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"down-after-milliseconds": "4321", "quorum": "3", "parallel-syncs": "2", "failover-timeout": "60000"} {
		if f[k] != want {
			t.Errorf("after a restart %s = %q, want %q", k, f[k], want)
		}
	}
	if f, err := masterInfo(ctx, c, "added"); err != nil || f["down-after-milliseconds"] != "2222" || f["port"] != strconv.Itoa(other.Port) {
		t.Errorf("the group added at runtime after a restart: %v %v", f, err)
	}
	if err := c.Do(ctx, "SENTINEL", "MASTER", "gone").Err(); err == nil {
		t.Error("the group removed at runtime is back after a restart")
	}
	if v, err := c.Do(ctx, "SENTINEL", "CONFIG", "GET", "resolve-hostnames").StringSlice(); err != nil || len(v) != 2 || v[1] != "yes" {
		t.Errorf("CONFIG GET resolve-hostnames after a restart: %v %v", v, err)
	}
}

// TestParallelSyncsReconfEvents: with parallel-syncs 1 and two replicas
// to re-point after the promotion, the leader re-points one, waits until
// it has synced, then the other, and publishes Redis's events in that
// order, ending with +failover-end.
func TestParallelSyncsReconfEvents(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t)
	replicaArgs := []string{"--replicaof", fmt.Sprintf("127.0.0.1 %d", master.Port)}
	var replicas []*testutil.Proc
	for i := 0; i < 3; i++ {
		replicas = append(replicas, testutil.StartVigil(t, replicaArgs...))
	}
	// Some data, so each sync has something to carry.
	mc := master.Client()
	for i := 0; i < 2000; i++ {
		mc.Set(ctx, fmt.Sprint("k", i), strings.Repeat("v", 100), 0)
	}
	sents := startSentinels(t, 3, master.Port, 1000)
	var logs []*eventLog
	for i, s := range sents {
		c := sentinelClient(t, s)
		testutil.WaitFor(t, 20*time.Second, fmt.Sprintf("sentinel %d to know the replicas and its peers", i), func() (bool, string) {
			f, err := masterInfo(ctx, c, "mymaster")
			if err != nil {
				return false, err.Error()
			}
			return f["num-slaves"] == "3" && f["num-other-sentinels"] == "2" && f["parallel-syncs"] == "1", fmt.Sprint(f)
		})
		logs = append(logs, subscribeAll(t, c))
	}
	master.Kill()
	// The leader is the sentinel that publishes +failover-end.
	var leader []string
	testutil.WaitFor(t, 60*time.Second, "+failover-end", func() (bool, string) {
		var all []string
		for _, l := range logs {
			evs := l.all()
			for _, e := range evs {
				if strings.HasPrefix(e, "+failover-end ") {
					leader = evs
					return true, ""
				}
			}
			all = append(all, strings.Join(evs, "\n"))
		}
		return false, strings.Join(all, "\n---\n")
	})
	t.Logf("leader's events:\n%s", strings.Join(leader, "\n"))
	index := func(prefix string) int {
		for i, e := range leader {
			if strings.HasPrefix(e, prefix) {
				return i
			}
		}
		t.Fatalf("no %q in the leader's events:\n%s", prefix, strings.Join(leader, "\n"))
		return -1
	}
	var promoted string
	for _, e := range leader {
		if strings.HasPrefix(e, "+promoted-slave ") {
			promoted = strings.Fields(e)[2] // "+promoted-slave slave <ip:port> ..."
		}
	}
	var others []string
	for _, r := range replicas {
		if r.Addr != promoted {
			others = append(others, r.Addr)
		}
	}
	if promoted == "" || len(others) != 2 {
		t.Fatalf("promoted %q, others %v", promoted, others)
	}
	suffix := fmt.Sprintf(" @ mymaster 127.0.0.1 %d", master.Port)
	msg := func(typ, addr string) string {
		host, port, _ := strings.Cut(addr, ":")
		return fmt.Sprintf("%s slave %s %s %s%s", typ, addr, host, port, suffix)
	}
	// Which of the two goes first is the sentinel's choice; the order
	// within each, and that the second starts only after the first is
	// done, is the point.
	first, second := others[0], others[1]
	if index(msg("+slave-reconf-sent", second)) < index(msg("+slave-reconf-sent", first)) {
		first, second = second, first
	}
	order := []string{
		msg("+slave-reconf-sent", first), msg("+slave-reconf-inprog", first), msg("+slave-reconf-done", first),
		msg("+slave-reconf-sent", second), msg("+slave-reconf-inprog", second), msg("+slave-reconf-done", second),
		fmt.Sprintf("+failover-end master mymaster 127.0.0.1 %d", master.Port),
	}
	last := -1
	for _, e := range order {
		i := index(e)
		if i < last {
			t.Fatalf("%q came before the event preceding it in %v", e, order)
		}
		last = i
	}
	if i := index("+replica-reconf-done"); i < index(msg("+slave-reconf-done", first)) {
		t.Fatal("+replica-reconf-done before the first +slave-reconf-done")
	}
	// Every replica follows the new master and has the data.
	for _, addr := range others {
		for _, r := range replicas {
			if r.Addr != addr {
				continue
			}
			info := r.Client().Info(ctx, "replication").Val()
			if !strings.Contains(info, "master_link_status:up") || !strings.Contains(info, "master_port:"+strings.Split(promoted, ":")[1]) {
				t.Fatalf("replica %s after +failover-end:\n%s", addr, info)
			}
		}
	}
}

// TestSetAuthPass: a sentinel that does not know the master's password
// sees it down (NOAUTH is not a valid reply); SENTINEL SET auth-pass
// reconnects with the password and the master is up again, without a
// restart.
func TestSetAuthPass(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t, "--requirepass", "s3cret")
	s := testutil.StartSentinelsWith(t, 1, "--monitor", fmt.Sprintf("mymaster 127.0.0.1 %d 2", master.Port), "--down-after-milliseconds", "1000")[0]
	c := sentinelClient(t, s)
	flags := func() (bool, string) {
		f, err := masterInfo(ctx, c, "mymaster")
		if err != nil {
			return false, err.Error()
		}
		return true, f["flags"]
	}
	testutil.WaitFor(t, 15*time.Second, "the master to be seen down without the password", func() (bool, string) {
		_, fl := flags()
		return strings.Contains(fl, "s_down"), fl
	})
	if err := c.Do(ctx, "SENTINEL", "SET", "mymaster", "auth-pass", "s3cret").Err(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 15*time.Second, "the master to be up with the password", func() (bool, string) {
		_, fl := flags()
		return fl == "master", fl
	})
}

// TestSimulateFailureCrashAfterElection: with SENTINEL SIMULATE-FAILURE
// crash-after-election, the sentinel that wins the election exits with
// status 99 right after +elected-leader, as Redis Sentinel does.
func TestSimulateFailureCrashAfterElection(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t)
	testutil.StartVigil(t, "--replicaof", fmt.Sprintf("127.0.0.1 %d", master.Port))
	sents := startSentinels(t, 3, master.Port, 1000)
	for i, s := range sents {
		c := sentinelClient(t, s)
		testutil.WaitFor(t, 20*time.Second, fmt.Sprintf("sentinel %d to know the replica and its peers", i), func() (bool, string) {
			f, err := masterInfo(ctx, c, "mymaster")
			if err != nil {
				return false, err.Error()
			}
			return f["num-slaves"] == "1" && f["num-other-sentinels"] == "2", fmt.Sprint(f)
		})
		if err := c.Do(ctx, "SENTINEL", "SIMULATE-FAILURE", "crash-after-election").Err(); err != nil {
			t.Fatal(err)
		}
		if info := c.Info(ctx, "sentinel").Val(); !strings.Contains(info, "sentinel_simulate_failure_flags:1") {
			t.Fatalf("INFO after SIMULATE-FAILURE:\n%s", info)
		}
	}
	master.Kill()
	var crashed *testutil.Proc
	testutil.WaitFor(t, 30*time.Second, "the elected sentinel to crash", func() (bool, string) {
		for _, s := range sents {
			if !s.Running() {
				crashed = s
				return true, ""
			}
		}
		return false, "all running"
	})
	if err := crashed.ExitErr(); err == nil || !strings.Contains(err.Error(), "exit status 99") {
		t.Fatalf("exit: %v", err)
	}
	if log := crashed.Log(); !strings.Contains(log, "+elected-leader") || !strings.Contains(log, "Simulated crash") {
		t.Fatalf("the crashed sentinel's log:\n%s", log)
	}
}

// TestFixSlaveConfig: a replica frozen during the failover is skipped
// while the others are re-pointed; when it wakes it still follows the dead
// old master, and once it has been up for twice failover-timeout the
// sentinels re-point it (+fix-slave-config), as Redis Sentinel does.
func TestFixSlaveConfig(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t)
	replicaArgs := []string{"--replicaof", fmt.Sprintf("127.0.0.1 %d", master.Port)}
	a := testutil.StartVigil(t, replicaArgs...)
	b := testutil.StartVigil(t, replicaArgs...)
	sents := testutil.StartSentinelsWith(t, 3, "--monitor", fmt.Sprintf("mymaster 127.0.0.1 %d 2", master.Port),
		"--down-after-milliseconds", "1000", "--failover-timeout", "3000")
	var logs []*eventLog
	for i, s := range sents {
		c := sentinelClient(t, s)
		testutil.WaitFor(t, 20*time.Second, fmt.Sprintf("sentinel %d to know the replicas and its peers", i), func() (bool, string) {
			f, err := masterInfo(ctx, c, "mymaster")
			if err != nil {
				return false, err.Error()
			}
			return f["num-slaves"] == "2" && f["num-other-sentinels"] == "2", fmt.Sprint(f)
		})
		logs = append(logs, subscribeAll(t, c))
	}
	b.Freeze()
	time.Sleep(1500 * time.Millisecond) // b is down for the sentinels
	master.Kill()
	c := sentinelClient(t, sents[0])
	testutil.WaitFor(t, 30*time.Second, "a to be promoted", func() (bool, string) {
		addr, err := c.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").StringSlice()
		return err == nil && len(addr) == 2 && addr[1] == strconv.Itoa(a.Port), fmt.Sprint(addr, err)
	})
	testutil.WaitFor(t, 30*time.Second, "+failover-end", func() (bool, string) {
		for _, l := range logs {
			for _, e := range l.all() {
				if strings.HasPrefix(e, "+failover-end ") {
					return true, ""
				}
			}
		}
		return false, ""
	})
	b.Thaw()
	testutil.WaitFor(t, 30*time.Second, "b to be re-pointed at the new master", func() (bool, string) {
		info := b.Client().Info(ctx, "replication").Val()
		return strings.Contains(info, fmt.Sprintf("master_port:%d", a.Port)) && strings.Contains(info, "master_link_status:up"), info
	})
	want := fmt.Sprintf("+fix-slave-config slave %s 127.0.0.1 %d @ mymaster 127.0.0.1 %d", b.Addr, b.Port, a.Port)
	found := false
	for _, l := range logs {
		for _, e := range l.all() {
			found = found || e == want
		}
	}
	if !found {
		t.Fatalf("no %q among the events", want)
	}
}

// TestConfigSetAnnounce: SENTINEL CONFIG SET announce-ip/announce-port
// changes the address a sentinel gives its peers at once: the other
// sentinel lists it in SENTINEL SENTINELS.
func TestConfigSetAnnounce(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t)
	sents := startSentinels(t, 2, master.Port, 5000)
	c0, c1 := sentinelClient(t, sents[0]), sentinelClient(t, sents[1])
	peerAddr := func() (bool, string) {
		v, err := c0.Do(ctx, "SENTINEL", "SENTINELS", "mymaster").Slice()
		if err != nil || len(v) != 1 {
			return false, fmt.Sprint(v, err)
		}
		f := fields(v[0].([]any))
		return true, f["ip"] + ":" + f["port"]
	}
	testutil.WaitFor(t, 20*time.Second, "the sentinels to find each other", func() (bool, string) { return peerAddr() })
	for _, kv := range [][2]string{{"announce-ip", "10.9.8.7"}, {"announce-port", "12345"}} {
		if err := c1.Do(ctx, "SENTINEL", "CONFIG", "SET", kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, 20*time.Second, "the peer to learn the announced address", func() (bool, string) {
		_, addr := peerAddr()
		return addr == "10.9.8.7:12345", addr
	})
	v, err := c1.Do(ctx, "SENTINEL", "CONFIG", "GET", "announce-*").StringSlice()
	if want := []string{"announce-hostnames", "no", "announce-ip", "10.9.8.7", "announce-port", "12345"}; err != nil || strings.Join(v, " ") != strings.Join(want, " ") {
		t.Fatalf("CONFIG GET announce-*: %v %v", v, err)
	}
}

// TestDemotedMasterIsReplaced: the master is demoted behind the
// sentinel's back (its replica promoted by hand, the master made its
// replica). As in Redis, a master that reports role:slave for down-after
// plus two INFO periods is down, and the failover names the node that
// really is the master.
func TestDemotedMasterIsReplaced(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t)
	replica := testutil.StartVigil(t, "--replicaof", fmt.Sprintf("127.0.0.1 %d", master.Port))
	s := testutil.StartSentinelsWith(t, 1, "--monitor", fmt.Sprintf("mymaster 127.0.0.1 %d 1", master.Port),
		"--down-after-milliseconds", "1000", "--failover-timeout", "10000")[0]
	c := sentinelClient(t, s)
	testutil.WaitFor(t, 20*time.Second, "the sentinel to know the replica", func() (bool, string) {
		f, err := masterInfo(ctx, c, "mymaster")
		if err != nil {
			return false, err.Error()
		}
		return f["num-slaves"] == "1", fmt.Sprint(f)
	})
	if err := replica.Client().SlaveOf(ctx, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	if err := master.Client().SlaveOf(ctx, "127.0.0.1", strconv.Itoa(replica.Port)).Err(); err != nil {
		t.Fatal(err)
	}
	// down-after + 2 INFO periods (20 s) + the failover.
	testutil.WaitFor(t, 60*time.Second, "the sentinel to name the real master", func() (bool, string) {
		a, err := c.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").StringSlice()
		return err == nil && len(a) == 2 && a[1] == strconv.Itoa(replica.Port), fmt.Sprint(a, err)
	})
	if info := master.Client().Info(ctx, "replication").Val(); !strings.Contains(info, "role:slave") {
		t.Fatalf("the demoted master:\n%s", info)
	}
}
