package sentinel

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/deploy/proc"
	"github.com/vigilkv/vigil/internal/netns"
	"github.com/vigilkv/vigil/internal/testutil"
)

// TestIsolatedSentinel puts one of three sentinels in its own network
// namespace and cuts its link (a real partition: its gossip, its probes
// and its vote requests all stop at the cut veth), then kills or freezes
// the master. The two others fail over. The isolated one sees the master
// down but must not fail over alone, and must answer
// GET-MASTER-ADDR-BY-NAME with an error rather than the old address; once
// healed it adopts the new configuration (the same master and config
// epoch as the others). A frozen master, woken up after the healing, is
// turned into a replica of the new one.
func TestIsolatedSentinel(t *testing.T) {
	if err := netns.Available(); err != nil {
		t.Skip(err)
	}
	for i, frozen := range []bool{false, true} {
		name := "master killed"
		if frozen {
			name = "master frozen"
		}
		t.Run(name, func(t *testing.T) { isolatedSentinel(t, frozen, 250+os.Getpid()%3*2+i) })
	}
}

func isolatedSentinel(t *testing.T, frozen bool, subnet int) {
	ctx := context.Background()
	// Subnets 250-255: the other namespace tests use 20-249.
	ns, err := netns.New(fmt.Sprint("vs", subnet), subnet)
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { ns.Close() })

	// Every data node listens on the host's end of the link too, and the
	// replicas announce it, so the isolated sentinel reaches what the
	// others reach, at the same addresses, until the cut.
	host := ns.HostIP
	master := testutil.StartVigil(t, "--bind", "127.0.0.1", host, "--protected-mode", "no")
	replicaArgs := []string{"--bind", "127.0.0.1", host, "--protected-mode", "no", "--replica-announce-ip", host,
		"--replicaof", fmt.Sprintf("%s %d", host, master.Port)}
	replicas := []*testutil.Proc{testutil.StartVigil(t, replicaArgs...), testutil.StartVigil(t, replicaArgs...)}

	base, err := proc.FreePortRange(3)
	if err != nil {
		t.Fatal(err)
	}
	binds := []string{host, host, ns.IP}
	var seeds []string
	for i, b := range binds {
		seeds = append(seeds, fmt.Sprintf("%s:%d", b, base+i))
	}
	var sents []*testutil.Proc
	for i, b := range binds {
		dir := t.TempDir()
		args := []string{"--bind", b, "--dir", dir, "--gossip-port", strconv.Itoa(base + i), "--join", strings.Join(seeds, ","),
			"--monitor", fmt.Sprintf("mymaster %s %d 2", host, master.Port), "--down-after-milliseconds", "1000", "--failover-timeout", "10000"}
		path, name := testutil.SentinelBinary(t), fmt.Sprint("vigil-sentinel-", i)
		if b == ns.IP {
			path, args = ns.Command(path, args...)
			name += " (in " + ns.Name + ")"
		}
		sents = append(sents, testutil.StartProcess(t, proc.Spec{Name: name, Path: path, Args: args, Dir: dir, Host: b,
			LogPath: filepath.Join(dir, "sentinel.log")}))
	}
	majority := []*redis.Client{sentinelClient(t, sents[0]), sentinelClient(t, sents[1])}
	// The isolated sentinel's client connects from inside the namespace,
	// which the cut does not touch.
	iso := redis.NewClient(&redis.Options{Addr: sents[2].Addr, Dialer: ns.Dial, Protocol: 2, DisableIdentity: true,
		DialTimeout: time.Second, ReadTimeout: time.Second})
	t.Cleanup(func() { iso.Close() })
	all := append(append([]*redis.Client{}, majority...), iso)
	waitTopology(t, all, []*dataGroup{{name: "mymaster", replicas: replicas}})
	isoEvents := subscribeAll(t, iso)
	before, err := masterInfo(ctx, iso, "mymaster")
	if err != nil {
		t.Fatal(err)
	}

	// Ask the isolated sentinel where the master is, all along, as a
	// client of it would.
	type answer struct {
		at   time.Time
		addr string // "" for an error
		err  string
	}
	var amu sync.Mutex
	var answers []answer
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			a, err := iso.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").StringSlice()
			an := answer{at: time.Now()}
			if err != nil {
				an.err = err.Error()
			} else if len(a) == 2 {
				an.addr = a[1]
			}
			amu.Lock()
			answers = append(answers, an)
			amu.Unlock()
		}
	}()
	t.Cleanup(func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-done
	})

	cut := time.Now()
	if err := ns.Cut(); err != nil {
		t.Fatal(err)
	}
	if frozen {
		master.Freeze()
		t.Cleanup(master.Thaw) // before its Stop (cleanups run last first)
	} else {
		master.Kill()
	}
	port, epoch := waitFailedOver(t, majority, &dataGroup{name: "mymaster", replicas: replicas})
	switched := time.Now()
	t.Logf("the majority failed over to port %s (config epoch %d) %v after the cut and the fault", port, epoch, switched.Sub(cut).Round(time.Millisecond))
	// The isolated sentinel: it sees the master down, and nothing more.
	testutil.WaitFor(t, 10*time.Second, "the isolated sentinel to see the master down", func() (bool, string) {
		f, err := masterInfo(ctx, iso, "mymaster")
		return err == nil && strings.Contains(f["flags"], "s_down"), fmt.Sprint(f, err)
	})
	testutil.WaitFor(t, 10*time.Second, "the isolated sentinel to refuse to name a master", func() (bool, string) {
		err := iso.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").Err()
		return err != nil && strings.HasPrefix(err.Error(), "NOQUORUM"), fmt.Sprint(err)
	})
	time.Sleep(2 * time.Second) // time for it to do something wrong
	f, err := masterInfo(ctx, iso, "mymaster")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(f["flags"], "o_down") || f["config-epoch"] != before["config-epoch"] || f["port"] != strconv.Itoa(master.Port) {
		t.Fatalf("the isolated sentinel acted alone: %v", f)
	}
	for _, e := range isoEvents.all() {
		for _, bad := range []string{"+odown", "+try-failover", "+elected-leader", "+promoted-slave", "+switch-master"} {
			if strings.HasPrefix(e, bad+" ") {
				t.Fatalf("the isolated sentinel published %q", e)
			}
		}
	}

	// Heal only once memberlist has declared the others dead on the
	// isolated side: it never contacts a dead node again by itself, so
	// this is what the sentinel's own rejoining must repair.
	testutil.WaitFor(t, 20*time.Second, "the isolated sentinel's gossip to declare the others dead", func() (bool, string) {
		err := iso.Do(ctx, "SENTINEL", "CKQUORUM", "mymaster").Err()
		return err != nil && strings.Contains(err.Error(), "NOQUORUM 1 usable"), fmt.Sprint(err)
	})
	healed := time.Now()
	if err := ns.Heal(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 20*time.Second, "the isolated sentinel to adopt the new configuration", func() (bool, string) {
		f, err := masterInfo(ctx, iso, "mymaster")
		if err != nil {
			return false, err.Error()
		}
		a, err := iso.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").StringSlice()
		return err == nil && len(a) == 2 && a[1] == port && f["config-epoch"] == strconv.Itoa(epoch), fmt.Sprint(f["port"], "@", f["config-epoch"], " ", a, err)
	})
	t.Logf("the isolated sentinel adopted the new configuration %v after healing", time.Since(healed).Round(time.Millisecond))
	if frozen {
		master.Thaw()
		testutil.WaitFor(t, 10*time.Second, "the old master to become a replica of the new one", func() (bool, string) {
			info := master.Client().Info(ctx, "replication").Val()
			return strings.Contains(info, "role:slave") && strings.Contains(info, "master_port:"+port), info
		})
	}
	close(stop)
	<-done

	// What its clients were told: never the old master once the
	// majority had moved on; the first refusal came this long after the
	// cut (memberlist's failure detection).
	var firstRefusal time.Duration
	stale := 0
	for _, a := range answers {
		if a.err != "" && firstRefusal == 0 && a.at.After(cut) {
			firstRefusal = a.at.Sub(cut)
		}
		if a.addr == strconv.Itoa(master.Port) && a.at.After(switched) {
			stale++
		}
	}
	t.Logf("%d answers; the first refusal %v after the cut", len(answers), firstRefusal.Round(time.Millisecond))
	if stale > 0 {
		t.Errorf("the isolated sentinel named the old master %d times after the failover", stale)
	}
}
