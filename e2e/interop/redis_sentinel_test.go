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

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last state: %s", what, last)
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
		waitFor(t, 20*time.Second, fmt.Sprintf("sentinel %d to see its peers", i), func() (bool, string) {
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
	waitFor(t, 20*time.Second, "objective down", func() (bool, string) {
		f, err := masterFields(ctx, sentinels[0])
		if err != nil {
			return false, err.Error()
		}
		return strings.Contains(f["flags"], "o_down"), f["flags"]
	})
}
