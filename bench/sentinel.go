package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/deploy/proc"
)

// The sentinel suite: the failover drill of the issue, side by side with
// redis-sentinel 7, on the same vigil-server data nodes (1 master, 2
// replicas, 3 sentinels, quorum 2, down-after 1000 ms): time from kill -9
// of the master to +switch-master, and the window a go-redis
// FailoverClient writing every 2 ms could not write.

type drillResult struct {
	switchTimes, windows []time.Duration
	rss                  int64
}

func (b *bencher) sentinelSuite(ctx context.Context) error {
	runs := 10
	if b.cfg.quick {
		runs = 3
	}
	sentinelPath, err := lookPath(filepath.Join(filepath.Dir(b.cfg.vigilPath), "vigil-sentinel"))
	if err != nil {
		return fmt.Errorf("vigil-sentinel (make build): %w", err)
	}
	redisSentinel, err := exec.LookPath("redis-sentinel")
	if err != nil {
		return fmt.Errorf("redis-sentinel: %w", err)
	}
	b.printf("\n== sentinel: %d failover drills each (1 master, 2 replicas, 3 sentinels, quorum 2, down-after 1000 ms, vigil data nodes)\n", runs)
	got := map[string]*drillResult{}
	for _, side := range []struct{ label, path string }{{"vigil", sentinelPath}, {"redis", redisSentinel}} {
		r := &drillResult{}
		for i := 0; i < runs; i++ {
			sw, win, rss, err := b.drill(ctx, side.label, side.path)
			if err != nil {
				return fmt.Errorf("%s sentinel, run %d: %w", side.label, i, err)
			}
			r.switchTimes = append(r.switchTimes, sw)
			r.windows = append(r.windows, win)
			r.rss = max(r.rss, rss)
		}
		got[side.label] = r
	}
	v, r := got["vigil"], got["redis"]
	med := func(d []time.Duration) time.Duration {
		s := slices.Clone(d)
		slices.Sort(s)
		return s[len(s)/2]
	}
	tw := tabwriter.NewWriter(b.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measure\tvigil-sentinel\tredis-sentinel\tratio\ttarget\t\t")
	vs, rs := med(v.switchTimes), med(r.switchTimes)
	fmt.Fprintf(tw, "median kill -9 to +switch-master\t%v\t%v\t%.3f\t<=1.4s\t%s\t\n", vs.Round(time.Millisecond), rs.Round(time.Millisecond), ratio(vs.Seconds(), rs.Seconds()), marker(vs <= 1400*time.Millisecond))
	vw, rw := med(v.windows), med(r.windows)
	fmt.Fprintf(tw, "median client write window\t%v\t%v\t%.3f\t<=2s\t%s\t\n", vw.Round(time.Millisecond), rw.Round(time.Millisecond), ratio(vw.Seconds(), rw.Seconds()), marker(vw <= 2*time.Second))
	fmt.Fprintf(tw, "sentinel RSS (max)\t%.1f MB\t%.1f MB\t\t<30 MB\t%s\t\n", float64(v.rss)/(1<<20), float64(r.rss)/(1<<20), marker(v.rss < 30<<20))
	tw.Flush()
	b.printf("(every run: vigil %v; redis %v)\n", roundAll(v.switchTimes), roundAll(r.switchTimes))
	return nil
}

func roundAll(d []time.Duration) []time.Duration {
	out := make([]time.Duration, len(d))
	for i, x := range d {
		out[i] = x.Round(time.Millisecond)
	}
	return out
}

// drill runs one failover: returns kill-to-switch, the client's write
// window and the largest sentinel RSS.
func (b *bencher) drill(ctx context.Context, label, sentinelPath string) (time.Duration, time.Duration, int64, error) {
	master, err := b.startOne(ctx, "vigil", b.cfg.vigilPath)
	if err != nil {
		return 0, 0, 0, err
	}
	defer master.close()
	var nodes []*server
	for i := 0; i < 2; i++ {
		r, err := b.startOne(ctx, "vigil", b.cfg.vigilPath, "--replicaof", fmt.Sprintf("127.0.0.1 %d", master.p.Port))
		if err != nil {
			return 0, 0, 0, err
		}
		defer r.close()
		nodes = append(nodes, r)
	}
	sentinels, addrs, stopSentinels, err := startSentinels(ctx, label, sentinelPath, master.p.Port)
	if err != nil {
		return 0, 0, 0, err
	}
	defer stopSentinels()
	sc := redis.NewClient(&redis.Options{Addr: addrs[0], Protocol: 2, DisableIdentity: true})
	defer sc.Close()
	if err := waitTopology(ctx, addrs); err != nil {
		return 0, 0, 0, err
	}
	sub := sc.Subscribe(ctx, "+switch-master")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		return 0, 0, 0, err
	}
	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "mymaster", SentinelAddrs: addrs, MaxRetries: -1,
		DialTimeout: 100 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, DisableIdentity: true})
	defer fc.Close()
	stop := make(chan struct{})
	windowCh := make(chan time.Duration, 1)
	go func() {
		var lastOK time.Time
		var worst time.Duration
		for i := 0; ; i++ {
			select {
			case <-stop:
				windowCh <- worst
				return
			case <-time.After(2 * time.Millisecond):
			}
			if fc.Set(ctx, "drill", i, 0).Err() == nil {
				now := time.Now()
				if !lastOK.IsZero() && now.Sub(lastOK) > worst {
					worst = now.Sub(lastOK)
				}
				lastOK = now
			}
		}
	}()
	time.Sleep(300 * time.Millisecond)
	killed := time.Now()
	master.p.Kill()
	var sw time.Duration
	select {
	case <-sub.Channel():
		sw = time.Since(killed)
	case <-time.After(60 * time.Second):
		close(stop)
		<-windowCh
		return 0, 0, 0, fmt.Errorf("no +switch-master within 60 s")
	}
	// Let the client find the new master.
	time.Sleep(3 * time.Second)
	var rss int64
	for _, p := range sentinels {
		if n, err := p.RSS(); err == nil && n > rss {
			rss = n
		}
	}
	close(stop)
	return sw, <-windowCh, rss, nil
}

// startSentinels starts three sentinels of the given kind ("vigil" or
// "redis") monitoring mymaster at 127.0.0.1:masterPort with quorum 2 and
// down-after 1000 ms; stop stops them and removes their directories.
func startSentinels(ctx context.Context, label, path string, masterPort int) ([]*proc.Proc, []string, func(), error) {
	var sentinels []*proc.Proc
	var addrs, dirs []string
	stop := func() {
		for _, p := range sentinels {
			p.Stop()
		}
		for _, d := range dirs {
			os.RemoveAll(d)
		}
	}
	// Distinct by construction: ports picked one by one can coincide.
	base, err := proc.FreePortRange(3)
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	gossip := []int{base, base + 1, base + 2}
	for i := 0; i < 3; i++ {
		dir, err := os.MkdirTemp("", "vigil-bench-sentinel-")
		if err != nil {
			stop()
			return nil, nil, nil, err
		}
		dirs = append(dirs, dir)
		spec := proc.Spec{Name: label + "-sentinel", Path: path, Dir: dir, LogPath: filepath.Join(dir, "sentinel.log")}
		if label == "vigil" {
			var seeds []string
			for _, g := range gossip {
				seeds = append(seeds, "127.0.0.1:"+strconv.Itoa(g))
			}
			spec.Args = []string{"--bind", "127.0.0.1", "--dir", dir, "--gossip-port", strconv.Itoa(gossip[i]), "--join", strings.Join(seeds, ","),
				"--monitor", fmt.Sprintf("mymaster 127.0.0.1 %d 2", masterPort), "--down-after-milliseconds", "1000", "--failover-timeout", "10000"}
		} else {
			conf := filepath.Join(dir, "sentinel.conf")
			os.WriteFile(conf, []byte(fmt.Sprintf("bind 127.0.0.1\ndir %s\nsentinel monitor mymaster 127.0.0.1 %d 2\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 10000\n", dir, masterPort)), 0o644)
			spec.Args = []string{conf}
		}
		p, err := proc.Start(ctx, spec)
		if err != nil {
			stop()
			return nil, nil, nil, err
		}
		sentinels = append(sentinels, p)
		addrs = append(addrs, p.Addr)
	}
	return sentinels, addrs, stop, nil
}

// waitTopology waits until every sentinel knows both replicas and both
// peers.
func waitTopology(ctx context.Context, addrs []string) error {
	deadline := time.Now().Add(60 * time.Second)
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a, Protocol: 2, DisableIdentity: true})
		for {
			v, err := c.Do(ctx, "SENTINEL", "MASTER", "mymaster").Slice()
			f := map[string]string{}
			for i := 0; err == nil && i+1 < len(v); i += 2 {
				f[fmt.Sprint(v[i])] = fmt.Sprint(v[i+1])
			}
			if f["num-slaves"] == "2" && f["num-other-sentinels"] == "2" {
				break
			}
			if time.Now().After(deadline) {
				c.Close()
				return fmt.Errorf("sentinels never saw the whole topology: %v", f)
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.Close()
	}
	return nil
}
