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

// TestMasterDiesWhileSentinelsAreDown: every sentinel is killed, the
// master dies while none runs, and the sentinels come back. They never
// see the master's INFO again, so only their state files can tell them
// the replicas: they must still fail over to one of them.
func TestMasterDiesWhileSentinelsAreDown(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t)
	replicaArgs := []string{"--replicaof", fmt.Sprintf("127.0.0.1 %d", master.Port)}
	replicas := []*testutil.Proc{testutil.StartVigil(t, replicaArgs...), testutil.StartVigil(t, replicaArgs...)}
	sents := startSentinels(t, 3, master.Port, 1000)
	for i, s := range sents {
		c := redis.NewClient(&redis.Options{Addr: s.Addr, Protocol: 2})
		testutil.WaitFor(t, 20*time.Second, fmt.Sprintf("sentinel %d to see the replicas and its peers", i), func() (bool, string) {
			v, err := c.Do(ctx, "SENTINEL", "MASTER", "mymaster").Slice()
			if err != nil {
				return false, err.Error()
			}
			f := fields(v)
			return f["num-slaves"] == "2" && f["num-other-sentinels"] == "2", fmt.Sprint(f)
		})
		c.Close()
	}
	for _, s := range sents {
		s.Kill()
	}
	master.Kill()
	restarted := time.Now()
	for _, s := range sents {
		s.Restart()
	}
	ports := map[string]bool{}
	for _, r := range replicas {
		ports[strconv.Itoa(r.Port)] = true
	}
	var newPort string
	for i, s := range sents {
		c := redis.NewClient(&redis.Options{Addr: s.Addr, Protocol: 2})
		t.Cleanup(func() { c.Close() })
		testutil.WaitFor(t, 30*time.Second, fmt.Sprintf("sentinel %d to name a replica as the new master", i), func() (bool, string) {
			a, err := c.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").StringSlice()
			if err != nil || len(a) != 2 || !ports[a[1]] || (newPort != "" && a[1] != newPort) {
				return false, fmt.Sprint(a, err)
			}
			newPort = a[1]
			return true, ""
		})
	}
	t.Logf("failed over to port %s %v after the sentinels' restart", newPort, time.Since(restarted).Round(time.Millisecond))
	for _, r := range replicas {
		if strconv.Itoa(r.Port) != newPort {
			continue
		}
		testutil.WaitFor(t, 10*time.Second, "the new master to report role:master", func() (bool, string) {
			info := r.Client().Info(ctx, "replication").Val()
			return strings.Contains(info, "role:master"), info
		})
	}
}
