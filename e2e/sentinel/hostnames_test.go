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

// TestHostnamesEndToEnd: a deployment addressed by hostname only (as in
// containers): the data nodes follow and announce "localhost", the
// sentinels monitor "localhost" and announce it with resolve-hostnames
// and announce-hostnames. Every address the sentinels report (replicas,
// peers, the master before and after a failover, +switch-master) is the
// hostname, and a FailoverClient follows the failover through it.
func TestHostnamesEndToEnd(t *testing.T) {
	ctx := context.Background()
	const host = "localhost"
	master := testutil.StartVigil(t, "--replica-announce-ip", host)
	replicaArgs := []string{"--replica-announce-ip", host, "--replicaof", fmt.Sprintf("%s %d", host, master.Port)}
	replicas := []*testutil.Proc{testutil.StartVigil(t, replicaArgs...), testutil.StartVigil(t, replicaArgs...)}
	sents := testutil.StartSentinelsWith(t, 3, "--monitor", fmt.Sprintf("mymaster %s %d 2", host, master.Port),
		"--down-after-milliseconds", "1000", "--failover-timeout", "10000",
		"--resolve-hostnames", "--announce-hostnames", "--announce-ip", host)
	var addrs []string
	for i, s := range sents {
		addrs = append(addrs, s.Addr)
		c := sentinelClient(t, s)
		testutil.WaitFor(t, 20*time.Second, fmt.Sprintf("sentinel %d to see the replicas and its peers", i), func() (bool, string) {
			f, err := masterInfo(ctx, c, "mymaster")
			if err != nil {
				return false, err.Error()
			}
			return f["num-slaves"] == "2" && f["num-other-sentinels"] == "2", fmt.Sprint(f)
		})
		for _, sub := range []string{"REPLICAS", "SENTINELS"} {
			v, err := c.Do(ctx, "SENTINEL", sub, "mymaster").Slice()
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range v {
				if f := fields(x.([]any)); f["ip"] != host {
					t.Fatalf("sentinel %d: SENTINEL %s lists %v, want the hostname", i, sub, f)
				}
			}
		}
		a, err := c.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").StringSlice()
		if err != nil || a[0] != host {
			t.Fatalf("sentinel %d names the master %v (%v), want the hostname", i, a, err)
		}
	}
	switches := sentinelClient(t, sents[0]).Subscribe(ctx, "+switch-master")
	t.Cleanup(func() { switches.Close() })
	if _, err := switches.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	master.Kill()
	var msg *redis.Message
	select {
	case msg = <-switches.Channel():
	case <-time.After(30 * time.Second):
		t.Fatal("no +switch-master within 30 s")
	}
	f := strings.Fields(msg.Payload)
	if len(f) != 5 || f[1] != host || f[3] != host || f[2] != strconv.Itoa(master.Port) {
		t.Fatalf("+switch-master %q, want hostnames", msg.Payload)
	}
	var other *testutil.Proc
	for _, r := range replicas {
		if strconv.Itoa(r.Port) != f[4] {
			other = r
		}
	}
	testutil.WaitFor(t, 20*time.Second, "the other replica to follow the new master by its hostname", func() (bool, string) {
		info := other.Client().Info(ctx, "replication").Val()
		return strings.Contains(info, "master_host:"+host) && strings.Contains(info, "master_port:"+f[4]) &&
			strings.Contains(info, "master_link_status:up"), info
	})
	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "mymaster", SentinelAddrs: addrs, MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, DisableIdentity: true})
	t.Cleanup(func() { fc.Close() })
	testutil.WaitFor(t, 10*time.Second, "a FailoverClient to write to the new master", func() (bool, string) {
		err := fc.Set(ctx, "after", "1", 0).Err()
		return err == nil, fmt.Sprint(err)
	})
}
