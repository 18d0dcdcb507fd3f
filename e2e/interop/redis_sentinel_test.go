// Package interop checks that Redis's own tools manage vigil nodes
// unchanged: here, real redis-sentinel 7 processes monitoring a vigil
// master.
package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/deploy/proc"
	"github.com/vigilkv/vigil/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// startRedisSentinel starts a real redis-sentinel monitoring master.
func startRedisSentinel(t *testing.T, masterPort int) *testutil.Proc {
	t.Helper()
	testutil.RequireBinary(t, "redis-sentinel")
	path, _ := exec.LookPath("redis-sentinel")
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	body := fmt.Sprintf(`bind 127.0.0.1
dir %s
sentinel monitor mymaster 127.0.0.1 %d 2
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 10000
`, dir, masterPort)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return testutil.StartProcess(t, proc.Spec{
		Name:    "redis-sentinel",
		Path:    path,
		Args:    []string{conf},
		Dir:     dir,
		LogPath: filepath.Join(dir, "sentinel.log"),
	})
}

func masterFields(ctx context.Context, c *redis.Client) (map[string]string, error) {
	res, err := c.Do(ctx, "SENTINEL", "MASTER", "mymaster").Result()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	switch v := res.(type) {
	case []interface{}:
		for i := 0; i+1 < len(v); i += 2 {
			out[fmt.Sprint(v[i])] = fmt.Sprint(v[i+1])
		}
	case map[interface{}]interface{}:
		for k, val := range v {
			out[fmt.Sprint(k)] = fmt.Sprint(val)
		}
	}
	return out, nil
}

func TestRedisSentinelMonitorsVigil(t *testing.T) {
	testutil.RequireRedis(t)
	master := testutil.StartVigil(t)
	var sentinels []*redis.Client
	for i := 0; i < 3; i++ {
		s := startRedisSentinel(t, master.Port)
		c := redis.NewClient(&redis.Options{Addr: s.Addr, Protocol: 2})
		t.Cleanup(func() { c.Close() })
		sentinels = append(sentinels, c)
	}
	ctx := context.Background()

	// The sentinels find each other only through vigil's pub/sub
	// (__sentinel__:hello), and read its role from INFO.
	for i, c := range sentinels {
		testutil.WaitFor(t, 20*time.Second, fmt.Sprintf("sentinel %d to see its peers", i), func() (bool, string) {
			f, err := masterFields(ctx, c)
			if err != nil {
				return false, err.Error()
			}
			return f["num-other-sentinels"] == "2" && f["flags"] == "master", fmt.Sprint(f)
		})
	}
	addr, err := sentinels[0].Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").StringSlice()
	if err != nil || len(addr) != 2 || addr[1] != fmt.Sprint(master.Port) {
		t.Fatalf("GET-MASTER-ADDR-BY-NAME = %v, %v", addr, err)
	}

	// The sentinels agree that a dead vigil master is down.
	master.Kill()
	testutil.WaitFor(t, 20*time.Second, "objective down", func() (bool, string) {
		f, err := masterFields(ctx, sentinels[0])
		if err != nil {
			return false, err.Error()
		}
		return strings.Contains(f["flags"], "o_down"), f["flags"]
	})
}

// TestRedisSentinelFailsOverVigil: three real redis-sentinel 7 processes
// manage one vigil master and two vigil replicas. Killing the master, they
// promote a replica, re-point the other, and a go-redis FailoverClient
// keeps writing through the switch; the old master, restarted, is turned
// into a replica of the new one.
func TestRedisSentinelFailsOverVigil(t *testing.T) {
	testutil.RequireRedis(t)
	ctx := context.Background()
	master := testutil.StartVigil(t)
	replicaArgs := []string{"--replicaof", fmt.Sprintf("127.0.0.1 %d", master.Port)}
	replicas := []*testutil.Proc{testutil.StartVigil(t, replicaArgs...), testutil.StartVigil(t, replicaArgs...)}
	var sentinels []*redis.Client
	var addrs []string
	for i := 0; i < 3; i++ {
		s := startRedisSentinel(t, master.Port)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("sentinel %d log:\n%s", i, s.Log())
			}
		})
		c := redis.NewClient(&redis.Options{Addr: s.Addr, Protocol: 2})
		t.Cleanup(func() { c.Close() })
		sentinels = append(sentinels, c)
		addrs = append(addrs, s.Addr)
	}
	for i, c := range sentinels {
		testutil.WaitFor(t, 30*time.Second, fmt.Sprintf("sentinel %d to see the replicas and its peers", i), func() (bool, string) {
			f, err := masterFields(ctx, c)
			if err != nil {
				return false, err.Error()
			}
			return f["num-other-sentinels"] == "2" && f["num-slaves"] == "2", fmt.Sprint(f)
		})
	}
	switches := sentinels[0].Subscribe(ctx, "+switch-master")
	t.Cleanup(func() { switches.Close() })
	if _, err := switches.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "mymaster", SentinelAddrs: addrs, MaxRetries: -1, DialTimeout: 200 * time.Millisecond, ReadTimeout: 500 * time.Millisecond})
	t.Cleanup(func() { fc.Close() })
	if err := fc.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatalf("write through the FailoverClient: %v", err)
	}
	// Let the replicas have it before the master dies.
	testutil.WaitFor(t, 10*time.Second, "replicas in sync", func() (bool, string) {
		for _, r := range replicas {
			if r.Client().Get(ctx, "before").Val() != "1" {
				return false, "not yet"
			}
		}
		return true, ""
	})
	killed := time.Now()
	master.Kill()
	var msg *redis.Message
	select {
	case msg = <-switches.Channel():
	case <-time.After(60 * time.Second):
		t.Fatal("no +switch-master within 60s")
	}
	f := strings.Fields(msg.Payload)
	if len(f) != 5 || f[0] != "mymaster" {
		t.Fatalf("+switch-master payload %q", msg.Payload)
	}
	t.Logf("+switch-master %v after the kill: %s", time.Since(killed).Round(time.Millisecond), msg.Payload)
	// Wait until every sentinel names the same master for a few seconds
	// (a second failover right after the first has been seen: see the
	// closing notes of the replication work).
	var newPort string
	stableSince := time.Now()
	testutil.WaitFor(t, 60*time.Second, "the sentinels to agree on a stable master", func() (bool, string) {
		var ports []string
		for _, c := range sentinels {
			a, err := c.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").StringSlice()
			if err != nil || len(a) != 2 {
				return false, fmt.Sprint(err)
			}
			ports = append(ports, a[1])
		}
		if ports[0] != ports[1] || ports[1] != ports[2] || ports[0] != newPort {
			newPort, stableSince = ports[0], time.Now()
			return false, fmt.Sprint(ports)
		}
		return time.Since(stableSince) > 3*time.Second, fmt.Sprint(ports)
	})
	var promoted, other *testutil.Proc
	for i, r := range replicas {
		if fmt.Sprint(r.Port) == newPort {
			promoted, other = r, replicas[1-i]
		}
	}
	if promoted == nil {
		t.Fatalf("the new master port %s is not one of the replicas", newPort)
	}
	testutil.WaitFor(t, 30*time.Second, "the promoted node to be a master", func() (bool, string) {
		info := promoted.Client().Info(ctx, "replication").Val()
		return strings.Contains(info, "role:master"), info
	})
	testutil.WaitFor(t, 30*time.Second, "the FailoverClient to write to the new master", func() (bool, string) {
		err := fc.Set(ctx, "after", "2", 0).Err()
		return err == nil, fmt.Sprint(err)
	})
	if promoted.Client().Get(ctx, "before").Val() != "1" {
		t.Fatal("the write made before the failover is missing on the new master")
	}
	testutil.WaitFor(t, 30*time.Second, "the other replica to follow the new master", func() (bool, string) {
		info := other.Client().Info(ctx, "replication").Val()
		return strings.Contains(info, fmt.Sprintf("master_port:%d", promoted.Port)) && strings.Contains(info, "master_link_status:up"), info
	})
	// The old master comes back and is converted to a replica.
	master.Restart()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("old master log:\n%s", master.Log())
		}
	})
	testutil.WaitFor(t, 60*time.Second, "the old master to become a replica", func() (bool, string) {
		info := master.Client().Info(ctx, "replication").Val()
		return strings.Contains(info, "role:slave") && strings.Contains(info, fmt.Sprintf("master_port:%d", promoted.Port)), info
	})
}
