package upgrade

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

// TestRollingUpgrade upgrades a whole deployment (master, two replicas,
// three sentinels watching) with `vigil-server upgrade --sentinel`, under a
// FailoverClient write load: in place, every replica continues partially,
// no write fails or is lost, and the sentinels never fail over; with
// --failover the master role moves first, still losing nothing.
func TestRollingUpgrade(t *testing.T) {
	for _, failover := range []bool{false, true} {
		t.Run(fmt.Sprint("failover=", failover), func(t *testing.T) { rollingUpgrade(t, failover) })
	}
}

func rollingUpgrade(t *testing.T, failover bool) {
	ctx := context.Background()
	nodeArgs := []string{"--sync-replicas", "1"}
	master := testutil.StartVigil(t, nodeArgs...)
	nodes := []string{master.Addr}
	for i := 0; i < 2; i++ {
		r := testutil.StartVigil(t, append([]string{"--replicaof", "127.0.0.1 " + strconv.Itoa(master.Port)}, nodeArgs...)...)
		nodes = append(nodes, r.Addr)
	}
	sents := testutil.StartSentinels(t, 3, "127.0.0.1", master.Port, 1000)
	var addrs []string
	for _, s := range sents {
		addrs = append(addrs, s.Addr)
		c := redis.NewClient(&redis.Options{Addr: s.Addr, Protocol: 2})
		deadline := time.Now().Add(30 * time.Second)
		for {
			v, _ := c.Do(ctx, "SENTINEL", "MASTER", "mymaster").Slice()
			f := map[string]string{}
			for i := 0; i+1 < len(v); i += 2 {
				f[fmt.Sprint(v[i])] = fmt.Sprint(v[i+1])
			}
			if f["num-slaves"] == "2" && f["num-other-sentinels"] == "2" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sentinel %s never saw the deployment: %v", s.Addr, f)
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.Close()
	}
	sc := redis.NewClient(&redis.Options{Addr: sents[0].Addr, Protocol: 2})
	t.Cleanup(func() { sc.Close() })
	sub := sc.Subscribe(ctx, "+switch-master")
	t.Cleanup(func() { sub.Close() })
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "mymaster", SentinelAddrs: addrs, MaxRetries: -1,
		DisableIdentity: true, ReadTimeout: 5 * time.Second})
	t.Cleanup(func() { fc.Close() })
	var mu sync.Mutex
	var acked []string
	var errs []error
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			k := "k" + strconv.Itoa(i)
			err := fc.Set(ctx, k, i, 0).Err()
			mu.Lock()
			if err != nil {
				errs = append(errs, err)
			} else {
				acked = append(acked, k)
			}
			mu.Unlock()
		}
	}()
	time.Sleep(300 * time.Millisecond)
	args := []string{"upgrade", "--sentinel", sents[0].Addr, "--master-name", "mymaster"}
	if failover {
		args = append(args, "--failover")
	}
	out, err := exec.Command(testutil.ServerBinary(t), args...).CombinedOutput()
	t.Logf("vigil-server %s:\n%s", strings.Join(args, " "), out)
	if err != nil {
		t.Fatal(err)
	}
	// Every node is a new process now: stop them when the test ends. By
	// the addresses the nodes started on: after --failover the sentinels'
	// replicas no longer include the promoted node (it was left running).
	for _, a := range nodes {
		c := redis.NewClient(&redis.Options{Addr: a})
		if pid, err := strconv.Atoi(infoField(t, c, "server", "process_id")); err == nil {
			killAtEnd(t, pid)
		}
		c.Close()
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	<-done
	switches := 0
	for len(sub.Channel()) > 0 {
		<-sub.Channel()
		switches++
	}
	if !strings.Contains(string(out), "upgraded 3 nodes") {
		t.Errorf("not every node was upgraded")
	}
	if !failover {
		if !strings.Contains(string(out), "0 full resyncs") {
			t.Errorf("a replica needed a full resync")
		}
		if switches > 0 {
			t.Errorf("the sentinels failed over %d times during an in-place upgrade", switches)
		}
		if len(errs) > 0 {
			t.Errorf("%d client errors during an in-place rolling upgrade, first: %v", len(errs), errs[0])
		}
	}
	a, err := sc.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	nm := redis.NewClient(&redis.Options{Addr: a[0] + ":" + a[1]})
	t.Cleanup(func() { nm.Close() })
	lost := 0
	for _, k := range acked {
		if nm.Exists(ctx, k).Val() != 1 {
			lost++
		}
	}
	t.Logf("%d writes acknowledged, %d client errors, %d lost, %d failovers", len(acked), len(errs), lost, switches)
	if lost > 0 {
		t.Errorf("%d acknowledged writes lost", lost)
	}
}
