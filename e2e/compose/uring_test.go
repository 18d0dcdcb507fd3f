package compose

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

// TestAOFInContainerWithoutIOUring runs a node with appendfsync always in
// a container whose seccomp profile refuses io_uring, as hardened and
// some default container profiles do: the AOF writer says once that it
// falls back to plain system calls, writes are acknowledged, and they are
// there after the container restarts.
func TestAOFInContainerWithoutIOUring(t *testing.T) {
	dockerReady(t)
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	buildImage(t, root)
	dir := t.TempDir()
	profile := filepath.Join(dir, "no-io-uring.json")
	if err := os.WriteFile(profile, []byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
		{"names": ["io_uring_setup", "io_uring_enter", "io_uring_register"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o777); err != nil {
		t.Fatal(err)
	}
	const ctr = project + "_uring"
	run(t, root, nil, "docker", "rm", "-f", ctr)
	run(t, root, nil, "docker", "run", "-d", "--name", ctr, "--security-opt", "seccomp="+profile, "-v", data+":/data",
		image, "--dir", "/data", "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "no")
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(run(t, root, nil, "docker", "logs", "--tail", "40", ctr))
		}
		run(t, root, nil, "docker", "rm", "-f", ctr)
	})
	ctx := context.Background()
	connect := func() *redis.Client {
		ip := strings.TrimSpace(run(t, root, nil, "docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", ctr))
		c := redis.NewClient(&redis.Options{Addr: ip + ":6379", Protocol: 2, DisableIdentity: true})
		t.Cleanup(func() { c.Close() })
		testutil.WaitFor(t, 20*time.Second, "the node in the container", func() (bool, string) {
			err := c.Ping(ctx).Err()
			return err == nil, fmt.Sprint(err)
		})
		return c
	}
	c := connect()
	for i := 0; i < 100; i++ {
		if err := c.Set(ctx, "k"+strconv.Itoa(i), i, 0).Err(); err != nil {
			t.Fatalf("SET k%d: %v", i, err)
		}
	}
	logs := run(t, root, nil, "docker", "logs", ctr)
	if n := strings.Count(logs, "io_uring is unavailable"); n != 1 {
		t.Errorf("the fallback to system calls is logged %d times, want once:\n%s", n, logs)
	}
	run(t, root, nil, "docker", "restart", "-t", "2", ctr)
	c = connect()
	if n := c.DBSize(ctx).Val(); n != 100 {
		t.Fatalf("after a restart the node holds %d keys, want 100", n)
	}
}
