package sentinel

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

// dataGroup is one master group: a master, its replicas and a go-redis
// FailoverClient following it through the sentinels.
type dataGroup struct {
	name     string
	master   *testutil.Proc
	replicas []*testutil.Proc
	fc       *redis.Client
}

// startGroup starts a vigil master with n replicas.
func startGroup(t *testing.T, name string, n int) *dataGroup {
	g := &dataGroup{name: name, master: testutil.StartVigil(t)}
	for i := 0; i < n; i++ {
		g.replicas = append(g.replicas, testutil.StartVigil(t, "--replicaof", fmt.Sprintf("127.0.0.1 %d", g.master.Port)))
	}
	return g
}

// monitorArg is the --monitor flag of the group with quorum q.
func (g *dataGroup) monitorArg(q int) []string {
	return []string{"--monitor", fmt.Sprintf("%s 127.0.0.1 %d %d", g.name, g.master.Port, q)}
}

// follow opens the group's FailoverClient on the sentinels.
func (g *dataGroup) follow(t *testing.T, sents []*testutil.Proc) {
	var addrs []string
	for _, s := range sents {
		addrs = append(addrs, s.Addr)
	}
	g.fc = redis.NewFailoverClient(&redis.FailoverOptions{MasterName: g.name, SentinelAddrs: addrs, MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond})
	t.Cleanup(func() { g.fc.Close() })
}

// replicaPorts are the ports a failover of the group may name.
func (g *dataGroup) replicaPorts() map[string]bool {
	out := map[string]bool{}
	for _, r := range g.replicas {
		out[strconv.Itoa(r.Port)] = true
	}
	return out
}

// waitTopology waits until every sentinel knows each group's replicas and
// its n-1 peers.
func waitTopology(t *testing.T, clients []*redis.Client, groups []*dataGroup) {
	t.Helper()
	ctx := context.Background()
	for i, c := range clients {
		for _, g := range groups {
			testutil.WaitFor(t, 30*time.Second, fmt.Sprintf("sentinel %d to know group %s", i, g.name), func() (bool, string) {
				f, err := masterInfo(ctx, c, g.name)
				if err != nil {
					return false, err.Error()
				}
				return f["num-slaves"] == strconv.Itoa(len(g.replicas)) && f["num-other-sentinels"] == strconv.Itoa(len(clients)-1), fmt.Sprint(f)
			})
		}
	}
}

// waitFailedOver waits until every sentinel names the same replica of g
// as its master, with the same config epoch, and returns the port and
// epoch.
func waitFailedOver(t *testing.T, clients []*redis.Client, g *dataGroup) (port string, epoch int) {
	t.Helper()
	ctx := context.Background()
	ok := g.replicaPorts()
	testutil.WaitFor(t, 30*time.Second, "group "+g.name+" to fail over on every sentinel", func() (bool, string) {
		ports, epochs := map[string]bool{}, map[string]bool{}
		var seen []string
		for _, c := range clients {
			f, err := masterInfo(ctx, c, g.name)
			if err != nil {
				return false, err.Error()
			}
			ports[f["port"]], epochs[f["config-epoch"]] = true, true
			port = f["port"]
			epoch, _ = strconv.Atoi(f["config-epoch"])
			seen = append(seen, f["port"]+"@"+f["config-epoch"])
		}
		return len(ports) == 1 && len(epochs) == 1 && ok[port] && epoch > 0, strings.Join(seen, " ")
	})
	return port, epoch
}

// writes writes n keys through the group's FailoverClient.
func (g *dataGroup) writes(t *testing.T, prefix string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := g.fc.Set(context.Background(), fmt.Sprint(prefix, i), i, 0).Err(); err != nil {
			t.Fatalf("group %s: write through the FailoverClient: %v", g.name, err)
		}
	}
}

// TestFiveSentinelsQuorumThree: five sentinels with quorum 3 elect one
// leader and fail the master over; a go-redis FailoverClient moves to the
// new master, and every sentinel ends on the same master and config
// epoch. One promotion only: the leaders' +promoted-slave events are
// counted on every sentinel.
func TestFiveSentinelsQuorumThree(t *testing.T) {
	ctx := context.Background()
	g := startGroup(t, "mymaster", 2)
	sents := testutil.StartSentinelsWith(t, 5, append(g.monitorArg(3), "--down-after-milliseconds", "1000", "--failover-timeout", "10000")...)
	var clients []*redis.Client
	var logs []*eventLog
	for _, s := range sents {
		c := sentinelClient(t, s)
		clients = append(clients, c)
	}
	waitTopology(t, clients, []*dataGroup{g})
	for _, c := range clients {
		logs = append(logs, subscribeAll(t, c))
	}
	g.follow(t, sents)
	g.writes(t, "before", 50)
	killed := time.Now()
	g.master.Kill()
	port, epoch := waitFailedOver(t, clients, g)
	t.Logf("five sentinels: failed over to port %s at config epoch %d, %v after the kill", port, epoch, time.Since(killed).Round(time.Millisecond))
	testutil.WaitFor(t, 10*time.Second, "the FailoverClient to write to the new master", func() (bool, string) {
		err := g.fc.Set(ctx, "after", "1", 0).Err()
		return err == nil, fmt.Sprint(err)
	})
	g.writes(t, "after", 50)
	time.Sleep(500 * time.Millisecond) // late events of a competing failover
	var promoted, leaders []string
	for i, l := range logs {
		for _, e := range l.all() {
			switch {
			case strings.HasPrefix(e, "+promoted-slave "):
				promoted = append(promoted, fmt.Sprintf("sentinel %d: %s", i, e))
			case strings.HasPrefix(e, "+elected-leader "):
				leaders = append(leaders, fmt.Sprintf("sentinel %d: %s", i, e))
			}
		}
	}
	if len(promoted) != 1 || len(leaders) != 1 {
		t.Fatalf("want one leader and one promotion, got leaders %v, promotions %v", leaders, promoted)
	}
}

// TestTwoGroupsFailOverIndependently: three sentinels monitor two groups;
// both masters are killed at about the same time. Each group fails over
// to one of its own replicas through an election of its own, every sentinel
// agrees on both, and a FailoverClient per group keeps writing.
func TestTwoGroupsFailOverIndependently(t *testing.T) {
	ctx := context.Background()
	a, b := startGroup(t, "alpha", 1), startGroup(t, "beta", 1)
	args := append(append(a.monitorArg(2), b.monitorArg(2)...), "--down-after-milliseconds", "1000", "--failover-timeout", "10000")
	sents := testutil.StartSentinelsWith(t, 3, args...)
	var clients []*redis.Client
	for _, s := range sents {
		clients = append(clients, sentinelClient(t, s))
	}
	groups := []*dataGroup{a, b}
	waitTopology(t, clients, groups)
	for _, g := range groups {
		g.follow(t, sents)
		g.writes(t, g.name+":before:", 20)
		// Replication is asynchronous: the check of these writes after
		// the failover needs them on the replica first.
		testutil.WaitFor(t, 10*time.Second, "group "+g.name+"'s replica to have the writes", func() (bool, string) {
			return g.replicas[0].Client().Get(ctx, g.name+":before:19").Val() == "19", ""
		})
	}
	a.master.Kill()
	time.Sleep(20 * time.Millisecond)
	b.master.Kill()
	epochs := map[string]int{}
	for _, g := range groups {
		port, epoch := waitFailedOver(t, clients, g)
		epochs[g.name] = epoch
		if port != strconv.Itoa(g.replicas[0].Port) {
			t.Fatalf("group %s failed over to port %s, not to its replica %d", g.name, port, g.replicas[0].Port)
		}
	}
	// Each group went through an election of its own. Their config
	// epochs may be equal: votes are per group (as Redis's leader_epoch
	// is per master), so two sentinels that both start from current
	// epoch 0 each win epoch 1 for their own group.
	for name, e := range epochs {
		if e < 1 {
			t.Fatalf("group %s failed over at config epoch %d, not through an election", name, e)
		}
	}
	t.Logf("config epochs: %v", epochs)
	for _, g := range groups {
		testutil.WaitFor(t, 10*time.Second, "group "+g.name+"'s FailoverClient to write to its new master", func() (bool, string) {
			err := g.fc.Set(ctx, g.name+":after", "1", 0).Err()
			return err == nil, fmt.Sprint(err)
		})
		nm := g.replicas[0].Client()
		for i := 0; i < 20; i++ {
			if nm.Get(ctx, fmt.Sprint(g.name, ":before:", i)).Val() != strconv.Itoa(i) {
				t.Fatalf("group %s: a write acknowledged before the kill is missing on the new master", g.name)
			}
		}
		if v := nm.Get(ctx, g.name+":after").Val(); v != "1" {
			t.Fatalf("group %s: the FailoverClient's write is not on its new master", g.name)
		}
	}
	// Neither group's data went to the other's master.
	if a.replicas[0].Client().Exists(ctx, "beta:after").Val() != 0 || b.replicas[0].Client().Exists(ctx, "alpha:after").Val() != 0 {
		t.Fatal("a group's write landed on the other group's master")
	}
}
