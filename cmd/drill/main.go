// Command vigil-drill runs chaos failover drills against a local
// deployment (one master, two replicas, three vigil-sentinels on
// loopback) and reports what happened: how long the failover took, how
// long a go-redis FailoverClient could not write, and whether any
// acknowledged write was lost or acknowledged by a replaced master.
//
//	vigil-drill [-bin bin] [-drill kill|freeze|all] [-runs 3] [-sync-replicas 1]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/deploy/proc"
)

func main() {
	redis.SetLogger(quiet{})
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vigil-drill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("bin", "bin", "directory with vigil-server and vigil-sentinel")
	which := fs.String("drill", "all", "kill, freeze or all")
	runs := fs.Int("runs", 3, "runs of each drill")
	downAfter := fs.Int("down-after", 1000, "sentinels' down-after-milliseconds")
	syncReplicas := fs.Int("sync-replicas", 1, "the data nodes' sync-replicas (0: asynchronous replication, where writes acknowledged just before a kill may be lost and are only reported)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var drills []string
	switch *which {
	case "all":
		drills = []string{"kill", "freeze"}
	case "kill", "freeze":
		drills = []string{*which}
	default:
		fmt.Fprintf(stderr, "vigil-drill: unknown drill %q (kill, freeze, all)\n", *which)
		return 2
	}
	failed := false
	for _, d := range drills {
		fmt.Fprintf(stdout, "== drill %s: %d runs, 1 master, 2 replicas, 3 sentinels, down-after %d ms, sync-replicas %d\n", d, *runs, *downAfter, *syncReplicas)
		var switches, windows []time.Duration
		for i := 0; i < *runs; i++ {
			r, err := drill(context.Background(), *bin, d, *downAfter, *syncReplicas)
			if err != nil {
				fmt.Fprintf(stdout, "  run %d: ERROR %v\n", i+1, err)
				failed = true
				continue
			}
			verdict := "ok"
			if (r.lost > 0 && *syncReplicas > 0) || r.ackedByOld > 0 {
				verdict = "VIOLATION"
				failed = true
			}
			fmt.Fprintf(stdout, "  run %d: %s  fault to +switch-master %v, client write window %v, writes acknowledged %d, lost %d, acknowledged by the replaced master %d\n",
				i+1, verdict, r.switchAfter.Round(time.Millisecond), r.window.Round(time.Millisecond), r.acked, r.lost, r.ackedByOld)
			switches = append(switches, r.switchAfter)
			windows = append(windows, r.window)
		}
		if len(switches) > 0 {
			slices.Sort(switches)
			slices.Sort(windows)
			fmt.Fprintf(stdout, "  median: +switch-master %v after the fault, client window %v\n",
				switches[len(switches)/2].Round(time.Millisecond), windows[len(windows)/2].Round(time.Millisecond))
		}
	}
	if failed {
		return 1
	}
	return 0
}

type result struct {
	switchAfter, window time.Duration
	acked, lost         int
	ackedByOld          int
}

// node is one process of the drill's topology.
type node struct {
	p   *proc.Proc
	dir string
}

func start(ctx context.Context, name, path string, args ...string) (*node, error) {
	dir, err := os.MkdirTemp("", "vigil-drill-"+name+"-")
	if err != nil {
		return nil, err
	}
	p, err := proc.Start(ctx, proc.Spec{Name: name, Path: path, Args: append([]string{"--bind", "127.0.0.1", "--dir", dir}, args...),
		Dir: dir, LogPath: filepath.Join(dir, name+".log")})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &node{p: p, dir: dir}, nil
}

func (n *node) stop() {
	n.p.Thaw()
	n.p.Stop()
	os.RemoveAll(n.dir)
}

// drill runs one fault against a fresh topology.
func drill(ctx context.Context, bin, fault string, downAfter, syncReplicas int) (*result, error) {
	server, _ := filepath.Abs(filepath.Join(bin, "vigil-server"))
	sentinel, _ := filepath.Abs(filepath.Join(bin, "vigil-sentinel"))
	sr := strconv.Itoa(syncReplicas)
	master, err := start(ctx, "master", server, "--save", "", "--sync-replicas", sr)
	if err != nil {
		return nil, err
	}
	defer master.stop()
	var replicas []*node
	for i := 0; i < 2; i++ {
		r, err := start(ctx, "replica", server, "--save", "", "--sync-replicas", sr, "--replicaof", fmt.Sprintf("127.0.0.1 %d", master.p.Port))
		if err != nil {
			return nil, err
		}
		defer r.stop()
		replicas = append(replicas, r)
	}
	gossip := make([]string, 3)
	for i := range gossip {
		p, err := proc.FreePort()
		if err != nil {
			return nil, err
		}
		gossip[i] = "127.0.0.1:" + strconv.Itoa(p)
	}
	var addrs []string
	for i := 0; i < 3; i++ {
		_, gp, _ := strings.Cut(gossip[i], ":")
		s, err := start(ctx, "sentinel", sentinel, "--gossip-port", gp, "--join", strings.Join(gossip, ","),
			"--monitor", fmt.Sprintf("mymaster 127.0.0.1 %d 2", master.p.Port), "--down-after-milliseconds", strconv.Itoa(downAfter), "--failover-timeout", "10000")
		if err != nil {
			return nil, err
		}
		defer s.stop()
		addrs = append(addrs, s.p.Addr)
	}
	sc := redis.NewClient(&redis.Options{Addr: addrs[0], Protocol: 2, DisableIdentity: true})
	defer sc.Close()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(sc.Info(ctx, "sentinel").Val(), "slaves=2,sentinels=3") {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the sentinels never saw the whole topology")
		}
		time.Sleep(50 * time.Millisecond)
	}
	sub := sc.Subscribe(ctx, "+switch-master")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		return nil, err
	}
	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "mymaster", SentinelAddrs: addrs, MaxRetries: -1, DisableIdentity: true,
		DialTimeout: 100 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond})
	defer fc.Close()
	// A stale client pinned to the original master, as a pool that does
	// not follow failovers would be.
	stale := redis.NewClient(&redis.Options{Addr: master.p.Addr, MaxRetries: -1, DisableIdentity: true, ReadTimeout: 10 * time.Second})
	defer stale.Close()
	var mu sync.Mutex
	var acked []string
	var faultAt atomic.Int64
	ackedByOld := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var window time.Duration
	wg.Add(2)
	go func() {
		defer wg.Done()
		var lastOK time.Time
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			k := "fc:" + strconv.Itoa(i)
			if fc.Set(ctx, k, i, 0).Err() == nil {
				now := time.Now()
				mu.Lock()
				acked = append(acked, k)
				if !lastOK.IsZero() && now.Sub(lastOK) > window {
					window = now.Sub(lastOK)
				}
				mu.Unlock()
				lastOK = now
			}
		}
	}()
	go func() {
		defer wg.Done()
		if fault != "freeze" {
			return
		}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			k := "stale:" + strconv.Itoa(i)
			sent := time.Now().UnixNano()
			if stale.Set(ctx, k, i, 0).Err() == nil {
				mu.Lock()
				if f := faultAt.Load(); f != 0 && sent > f {
					ackedByOld++
				} else {
					acked = append(acked, k)
				}
				mu.Unlock()
			} else {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	time.Sleep(500 * time.Millisecond)
	at := time.Now()
	switch fault {
	case "kill":
		master.p.Kill()
		faultAt.Store(time.Now().UnixNano())
	case "freeze":
		master.p.Freeze()
		time.Sleep(50 * time.Millisecond)
		faultAt.Store(time.Now().UnixNano())
	}
	var msg *redis.Message
	select {
	case msg = <-sub.Channel():
	case <-time.After(30 * time.Second):
		close(stop)
		wg.Wait()
		return nil, fmt.Errorf("no +switch-master within 30 s")
	}
	switchAfter := time.Since(at)
	if fault == "freeze" {
		time.Sleep(time.Duration(downAfter) * time.Millisecond)
		master.p.Thaw()
	}
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	f := strings.Fields(msg.Payload)
	if len(f) != 5 {
		return nil, fmt.Errorf("bad +switch-master %q", msg.Payload)
	}
	nm := redis.NewClient(&redis.Options{Addr: f[3] + ":" + f[4], DisableIdentity: true})
	defer nm.Close()
	// Every acknowledged write must be on the new master. (Without
	// sync-replicas, writes acknowledged in the last instants before the
	// fault may be lost: that is what the no-loss mode is for.)
	r := &result{switchAfter: switchAfter, window: window, acked: len(acked), ackedByOld: ackedByOld}
	for _, k := range acked {
		if nm.Exists(ctx, k).Val() != 1 {
			r.lost++
		}
	}
	return r, nil
}
