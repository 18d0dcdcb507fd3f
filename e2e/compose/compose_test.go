// Package compose tests the docker compose deployment (deploy/compose):
// images built FROM scratch from this tree's binaries, one master, two
// replicas and three sentinels in containers addressed by hostname, and
// the master taken away with docker kill, docker pause and docker network
// disconnect.
//
// `make test` runs each drill once, short. `make drill-docker` runs the
// long form (VIGIL_COMPOSE_LONG=1: more load, the fault held longer,
// VIGIL_COMPOSE_RUNS runs of each drill) and prints the figures.
package compose

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
	"github.com/vigilkv/vigil/internal/writeload"
)

const (
	project   = "vigile2e"
	image     = "vigil:e2e"
	network   = project + "_vigil"
	masterCtr = project + "_master_1"
)

// hosts are the deployment's service hostnames, which everything in it
// uses, and the fixed addresses the compose file gives them only so that
// this host (whose resolver does not know the names) can reach them.
var hosts = map[string]string{
	"master": "172.30.0.10", "replica1": "172.30.0.11", "replica2": "172.30.0.12",
	"sentinel1": "172.30.0.21", "sentinel2": "172.30.0.22", "sentinel3": "172.30.0.23",
}

var sentinelAddrs = []string{"sentinel1:26379", "sentinel2:26379", "sentinel3:26379"}

// dial reaches a container by its service hostname from the Docker host.
func dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dialing %s: %w", addr, err)
	}
	if ip, ok := hosts[host]; ok {
		addr = net.JoinHostPort(ip, port)
	}
	d := net.Dialer{Timeout: 200 * time.Millisecond}
	return d.DialContext(ctx, network, addr)
}

// client is a go-redis client of a container, by hostname.
func client(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, Dialer: dial, Protocol: 2, DisableIdentity: true, MaxRetries: -1})
}

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
	// Reconnected with its address (for this host) and its service name
	// (for everyone else: docker network connect does not restore the
	// alias compose gave it).
	{"network disconnect", []string{"network", "disconnect", "-f", network, masterCtr},
		[]string{"network", "connect", "--ip", hosts["master"], "--alias", "master", network, masterCtr}},
}

// form is how long a drill runs: short in make test, long in make
// drill-docker.
type form struct {
	runs int
	// load is how long the client writes before the fault; hold how long
	// the fault lasts after +switch-master; after how long the client
	// goes on writing once the old master is demoted.
	load, hold, after time.Duration
}

func drillForm(t *testing.T) form {
	f := form{runs: 1, load: time.Second, hold: time.Second, after: 500 * time.Millisecond}
	if os.Getenv("VIGIL_COMPOSE_LONG") != "" {
		f = form{runs: 3, load: 5 * time.Second, hold: 5 * time.Second, after: 3 * time.Second}
	}
	if s := os.Getenv("VIGIL_COMPOSE_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("VIGIL_COMPOSE_RUNS=%q: want a positive number", s)
		}
		f.runs = n
	}
	return f
}

// figures are what one drill run measured.
type figures struct {
	switchAt time.Duration // from the docker command to +switch-master
	window   time.Duration // longest gap between two acknowledged writes
	demoted  time.Duration // from the old master's return to its role:slave
	acked    int
	lost     int
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
	fm := drillForm(t)
	buildImage(t, root)
	results := map[string][]figures{}
	for _, f := range faults {
		for i := 1; i <= fm.runs; i++ {
			name := f.name
			if fm.runs > 1 {
				name = fmt.Sprintf("%s/run %d", f.name, i)
			}
			t.Run(name, func(t *testing.T) { results[f.name] = append(results[f.name], composeDrill(t, root, f, fm)) })
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-20s %5s %22s %22s %20s %8s %5s\n", "drill", "runs", "switch ms (med / max)", "window ms (med / max)", "demoted ms (max)", "acked", "lost")
	for _, f := range faults {
		rs := results[f.name]
		if len(rs) == 0 {
			continue
		}
		med := func(get func(figures) time.Duration) (time.Duration, time.Duration) {
			var v []time.Duration
			for _, r := range rs {
				v = append(v, get(r))
			}
			slices.Sort(v)
			return v[len(v)/2], v[len(v)-1]
		}
		sm, sx := med(func(r figures) time.Duration { return r.switchAt })
		wm, wx := med(func(r figures) time.Duration { return r.window })
		_, dx := med(func(r figures) time.Duration { return r.demoted })
		acked, lost := 0, 0
		for _, r := range rs {
			acked, lost = acked+r.acked, lost+r.lost
		}
		fmt.Fprintf(&b, "%-20s %5d %10d / %-9d %10d / %-9d %20d %8d %5d\n", f.name, len(rs), sm.Milliseconds(), sx.Milliseconds(),
			wm.Milliseconds(), wx.Milliseconds(), dx.Milliseconds(), acked, lost)
	}
	t.Log(b.String())
}

// buildImage builds the deployment's image from this tree: static
// binaries and nothing else.
func buildImage(t *testing.T, root string) {
	t.Helper()
	ctxDir := t.TempDir()
	for _, b := range []struct{ name, pkg string }{{"vigil-server", "./cmd/server"}, {"vigil-sentinel", "./cmd/sentinel"}} {
		run(t, root, []string{"CGO_ENABLED=0"}, "go", "build", "-o", filepath.Join(ctxDir, b.name), b.pkg)
	}
	run(t, ctxDir, nil, "docker", "build", "-q", "-f", filepath.Join(root, "deploy/compose/Dockerfile"), "-t", image, ".")
}

func composeDrill(t *testing.T, root string, f fault, fm form) figures {
	// The sentinels gossip encrypted, as a deployment across hosts should.
	key := make([]byte, 32)
	rand.Read(key)
	env := []string{"VIGIL_IMAGE=" + image, "VIGIL_GOSSIP_KEY=" + base64.StdEncoding.EncodeToString(key)}
	compose := func(args ...string) string {
		return run(t, root, env, "docker-compose", append([]string{"-p", project, "-f", "deploy/compose/docker-compose.yml"}, args...)...)
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
	sc := client(sentinelAddrs[0])
	defer sc.Close()
	// Every sentinel must know both replicas and its peers, all by
	// hostname, before the fault.
	for _, a := range sentinelAddrs {
		c := client(a)
		testutil.WaitFor(t, 60*time.Second, "sentinel "+a+" to know the deployment", func() (bool, string) {
			v, err := c.Do(ctx, "SENTINEL", "MASTER", "mymaster").Slice()
			if err != nil {
				return false, err.Error()
			}
			f := map[string]string{}
			for i := 0; i+1 < len(v); i += 2 {
				f[fmt.Sprint(v[i])] = fmt.Sprint(v[i+1])
			}
			return f["ip"] == "master" && f["num-slaves"] == "2" && f["num-other-sentinels"] == "2", fmt.Sprint(f)
		})
		if v := testutil.InfoField(c.Info(ctx, "sentinel").Val(), "sentinel_gossip_encrypted"); v != "1" {
			t.Errorf("sentinel %s: sentinel_gossip_encrypted:%s, want 1", a, v)
		}
		c.Close()
	}
	sub := sc.Subscribe(ctx, "+switch-master")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "mymaster", SentinelAddrs: sentinelAddrs, Dialer: dial, MaxRetries: -1,
		DisableIdentity: true, DialTimeout: 200 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond})
	defer fc.Close()
	var mu sync.Mutex
	var acked []string
	var window time.Duration
	last := time.Now()
	load := writeload.Start(ctx, fc, "k", 2*time.Millisecond, func(k string, _, now time.Time) {
		mu.Lock()
		acked = append(acked, k)
		window = max(window, now.Sub(last))
		last = now
		mu.Unlock()
	})
	time.Sleep(fm.load)
	start := time.Now()
	run(t, root, nil, "docker", f.inject...)
	var msg *redis.Message
	select {
	case msg = <-sub.Channel():
	case <-time.After(30 * time.Second):
		t.Fatalf("no +switch-master within 30 s of docker %s", strings.Join(f.inject, " "))
	}
	var fig figures
	fig.switchAt = time.Since(start)
	t.Logf("+switch-master %v after docker %s: %s", fig.switchAt.Round(time.Millisecond), f.inject[0], msg.Payload)
	if fig.switchAt > 2*time.Second {
		// Slower than usual (down-after is 1 s): show why.
		defer func() { t.Log(sentinelEvents(compose("logs", "--no-color", "sentinel1", "sentinel2", "sentinel3"))) }()
	}
	fields := strings.Fields(msg.Payload)
	if len(fields) != 5 || fields[1] != "master" || hosts[fields[3]] == "" {
		t.Fatalf("unexpected +switch-master %q (want service hostnames)", msg.Payload)
	}
	time.Sleep(fm.hold)
	back := time.Now()
	run(t, root, nil, "docker", f.end...)
	old := client("master:6379")
	defer old.Close()
	testutil.WaitFor(t, 30*time.Second, "the old master to come back as a replica", func() (bool, string) {
		v, err := old.Do(ctx, "ROLE").Slice()
		return err == nil && len(v) > 1 && v[0] == "slave" && v[1] == fields[3], fmt.Sprint(v, err)
	})
	fig.demoted = time.Since(back)
	time.Sleep(fm.after)
	load.Stop()
	nm := client(fields[3] + ":" + fields[4])
	defer nm.Close()
	mu.Lock()
	defer mu.Unlock()
	for _, k := range acked {
		if nm.Exists(ctx, k).Val() != 1 {
			fig.lost++
		}
	}
	fig.acked, fig.window = len(acked), window
	t.Logf("%d writes acknowledged through the FailoverClient, %d missing on the new master; longest gap between acknowledgements %v; old master demoted %v after its return",
		fig.acked, fig.lost, fig.window.Round(time.Millisecond), fig.demoted.Round(time.Millisecond))
	if fig.lost > 0 {
		t.Errorf("%d acknowledged writes lost (the deployment runs with sync-replicas 1)", fig.lost)
	}
	return fig
}

// sentinelEvents keeps the event lines ("+odown", "-failover-...") of
// the sentinels' logs, in time order.
func sentinelEvents(logs string) string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "\t+") || strings.Contains(l, "\t-") {
			if _, rest, ok := strings.Cut(l, "| "); ok {
				l = rest + "  (" + strings.TrimSpace(strings.SplitN(l, "|", 2)[0]) + ")"
			}
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}
