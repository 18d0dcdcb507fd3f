// Package compose tests the docker compose deployment (deploy/compose):
// images built FROM scratch from this tree's binaries, one master, two
// replicas and three sentinels in containers, and the master taken away
// with docker kill, docker pause and docker network disconnect.
package compose

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

const (
	project   = "vigile2e"
	image     = "vigil:e2e"
	masterIP  = "172.30.0.10"
	network   = project + "_vigil"
	masterCtr = project + "_master_1"
)

var sentinelAddrs = []string{"172.30.0.21:26379", "172.30.0.22:26379", "172.30.0.23:26379"}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// dockerReady skips the test when no Docker engine or docker-compose is
// usable here.
func dockerReady(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("compose deployment: not in -short")
	}
	for _, tool := range []string{"docker", "docker-compose"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Skipf("no Docker engine: %v %s", err, out)
	}
}

// fault is one way of taking the master away, and of bringing it back.
type fault struct {
	name        string
	inject, end []string // docker arguments
}

var faults = []fault{
	{"kill", []string{"kill", masterCtr}, []string{"start", masterCtr}},
	{"pause", []string{"pause", masterCtr}, []string{"unpause", masterCtr}},
	{"network disconnect", []string{"network", "disconnect", "-f", network, masterCtr}, []string{"network", "connect", "--ip", masterIP, network, masterCtr}},
}

// TestComposeDrills runs the kill, pause and partition drills against the
// compose deployment: each time the sentinels fail over, the old master
// comes back as a replica, and no write acknowledged through the
// FailoverClient is lost (the deployment runs with sync-replicas 1).
func TestComposeDrills(t *testing.T) {
	dockerReady(t)
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	// The image: static binaries and nothing else.
	ctxDir := t.TempDir()
	for _, b := range []struct{ name, pkg string }{{"vigil-server", "./cmd/server"}, {"vigil-sentinel", "./cmd/sentinel"}} {
		run(t, root, []string{"CGO_ENABLED=0"}, "go", "build", "-o", filepath.Join(ctxDir, b.name), b.pkg)
	}
	run(t, ctxDir, nil, "docker", "build", "-q", "-f", filepath.Join(root, "deploy/compose/Dockerfile"), "-t", image, ".")
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) { composeDrill(t, root, f) })
	}
}

func composeDrill(t *testing.T, root string, f fault) {
	compose := func(args ...string) string {
		return run(t, root, []string{"VIGIL_IMAGE=" + image}, "docker-compose", append([]string{"-p", project, "-f", "deploy/compose/docker-compose.yml"}, args...)...)
	}
	compose("down", "-v")
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(compose("logs", "--no-color", "--tail", "40"))
		}
	})
	t.Cleanup(func() {
		// A paused container cannot be stopped: resume it first (an error
		// only means it was not paused).
		exec.Command("docker", "unpause", masterCtr).Run()
		compose("down", "-v", "-t", "2")
	})
	compose("up", "-d")

	ctx := context.Background()
	sc := redis.NewClient(&redis.Options{Addr: sentinelAddrs[0], Protocol: 2, DisableIdentity: true})
	defer sc.Close()
	// Every sentinel must know both replicas (they learn them from the
	// master's INFO, every 10 s): one that knows none could win an
	// election and find nothing to promote.
	for _, a := range sentinelAddrs {
		c := redis.NewClient(&redis.Options{Addr: a, Protocol: 2, DisableIdentity: true})
		waitFor(t, 60*time.Second, "sentinel "+a+" to know the deployment", func() (bool, string) {
			v, err := c.Do(ctx, "SENTINEL", "MASTER", "mymaster").Slice()
			if err != nil {
				return false, err.Error()
			}
			f := map[string]string{}
			for i := 0; i+1 < len(v); i += 2 {
				f[fmt.Sprint(v[i])] = fmt.Sprint(v[i+1])
			}
			return f["num-slaves"] == "2" && f["num-other-sentinels"] == "2", fmt.Sprint(f)
		})
		c.Close()
	}
	sub := sc.Subscribe(ctx, "+switch-master")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "mymaster", SentinelAddrs: sentinelAddrs, MaxRetries: -1, DisableIdentity: true,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond})
	defer fc.Close()
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			k := "k" + strconv.Itoa(i)
			if fc.Set(ctx, k, i, 0).Err() == nil {
				mu.Lock()
				acked = append(acked, k)
				mu.Unlock()
			}
		}
	}()
	time.Sleep(time.Second)
	start := time.Now()
	run(t, root, nil, "docker", f.inject...)
	var msg *redis.Message
	select {
	case msg = <-sub.Channel():
	case <-time.After(30 * time.Second):
		t.Fatalf("no +switch-master within 30 s of docker %s", strings.Join(f.inject, " "))
	}
	t.Logf("+switch-master %v after docker %s: %s", time.Since(start).Round(time.Millisecond), f.inject[0], msg.Payload)
	fields := strings.Fields(msg.Payload)
	if len(fields) != 5 || fields[1] != masterIP {
		t.Fatalf("unexpected +switch-master %q", msg.Payload)
	}
	time.Sleep(time.Second)
	run(t, root, nil, "docker", f.end...)
	old := redis.NewClient(&redis.Options{Addr: masterIP + ":6379", DisableIdentity: true, MaxRetries: -1})
	defer old.Close()
	waitFor(t, 30*time.Second, "the old master to come back as a replica", func() (bool, string) {
		v, err := old.Do(ctx, "ROLE").Slice()
		return err == nil && len(v) > 0 && v[0] == "slave", fmt.Sprint(v, err)
	})
	time.Sleep(500 * time.Millisecond)
	close(stop)
	<-done
	nm := redis.NewClient(&redis.Options{Addr: fields[3] + ":" + fields[4], DisableIdentity: true})
	defer nm.Close()
	lost := 0
	for _, k := range acked {
		if nm.Exists(ctx, k).Val() != 1 {
			lost++
		}
	}
	t.Logf("%d writes acknowledged through the FailoverClient, %d missing on the new master", len(acked), lost)
	if lost > 0 {
		t.Errorf("%d acknowledged writes lost (the deployment runs with sync-replicas 1)", lost)
	}
}

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
