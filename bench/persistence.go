package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/deploy/proc"
)

// The persistence suite: a background save of a big dataset under a
// concurrent SET load (duration, memory overhead, the load's latency),
// the time to load the resulting RDB file, and write throughput with
// appendfsync always.

// persistResult is one server's figures.
type persistResult struct {
	datasetRSS    int64         // RSS growth from loading the dataset
	peakOverhead  int64         // extra memory during the save
	saveDuration  time.Duration // BGSAVE to done
	p99Idle, p99  time.Duration // SET latency without and during the save
	maxDuring     time.Duration
	loadTime      time.Duration // restart to serving, on the saved file
	alwaysRPS     float64       // SET throughput with appendfsync always
	alwaysP99     float64
	opsDuringSave int64
}

func (b *bencher) persistenceSuite(ctx context.Context) error {
	keys := 1000000
	if b.cfg.quick {
		keys = 200000
	}
	b.printf("\n== persistence: %d keys of 100-byte values; BGSAVE under a 50-client SET load, then a restart on the file\n", keys)
	servers, stop, err := b.startPair(ctx)
	if err != nil {
		return err
	}
	defer stop()
	got := map[string]*persistResult{}
	for _, s := range servers {
		r, err := b.measureSave(ctx, s, keys)
		if err != nil {
			return fmt.Errorf("%s: %w", s.label, err)
		}
		got[s.label] = r
	}
	// appendfsync always on a fresh pair.
	aofServers, stopAOF, err := b.startPair(ctx, "--appendonly", "yes", "--appendfsync", "always")
	if err != nil {
		return err
	}
	defer stopAOF()
	args := []string{"-t", "set", "-n", strconv.Itoa(b.cfg.requests / 2), "-c", "50", "-r", "100000", "-d", "100", "--csv"}
	// Rounds in alternating order, as the throughput suites run: a single
	// run each moved the ratio by a third on a noisy machine.
	runs, err := b.runRounds(ctx, aofServers, [][]string{args}, false)
	if err != nil {
		return err
	}
	for label, rs := range runs {
		if m := medians(rs); len(m) > 0 {
			got[label].alwaysRPS = m[0].RPS
			got[label].alwaysP99 = m[0].P99
		}
	}
	v, r := got["vigil"], got["redis"]
	tw := tabwriter.NewWriter(b.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measure\tvigil\tredis\tratio\ttarget\t\t")
	row := func(name, vs, rs string, ratio float64, target string, ok bool) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t%s\t%s\t\n", name, vs, rs, ratio, target, marker(ok))
	}
	pct := func(x, of int64) float64 { return float64(x) * 100 / float64(max(of, 1)) }
	row("BGSAVE duration", v.saveDuration.Round(time.Millisecond).String(), r.saveDuration.Round(time.Millisecond).String(),
		ratio(v.saveDuration.Seconds(), r.saveDuration.Seconds()), "<=1.0", v.saveDuration <= r.saveDuration)
	fmt.Fprintf(tw, "memory overhead during the save (%% of dataset)\t%.1f%%\t%.1f%%\t\t<=10%%\t%s\t\n",
		pct(v.peakOverhead, v.datasetRSS), pct(r.peakOverhead, r.datasetRSS), marker(pct(v.peakOverhead, v.datasetRSS) <= 10))
	fmt.Fprintf(tw, "SET p99 without / during the save\t%v / %v\t%v / %v\t%.2fx\t<=2x own idle p99\t%s\t\n",
		v.p99Idle.Round(time.Microsecond), v.p99.Round(time.Microsecond), r.p99Idle.Round(time.Microsecond), r.p99.Round(time.Microsecond),
		ratio(v.p99.Seconds(), v.p99Idle.Seconds()), marker(v.p99 <= 2*v.p99Idle))
	fmt.Fprintf(tw, "SET max latency during the save\t%v\t%v\t\t\t\t\n", v.maxDuring.Round(time.Microsecond), r.maxDuring.Round(time.Microsecond))
	fmt.Fprintf(tw, "SETs served during the save\t%d\t%d\t\t\t\t\n", v.opsDuringSave, r.opsDuringSave)
	row("RDB load time (restart to serving)", v.loadTime.Round(time.Millisecond).String(), r.loadTime.Round(time.Millisecond).String(),
		ratio(v.loadTime.Seconds(), r.loadTime.Seconds()), "<=1.0", v.loadTime <= r.loadTime)
	rps := ratio(v.alwaysRPS, r.alwaysRPS)
	row("SET rps, appendfsync always (-c 50)", fmt.Sprintf("%.0f", v.alwaysRPS), fmt.Sprintf("%.0f", r.alwaysRPS), rps, ">=1.0", rps >= 1)
	fmt.Fprintf(tw, "SET p99 ms, appendfsync always\t%.3f\t%.3f\t%.3f\t\t\t\n", v.alwaysP99, r.alwaysP99, ratio(v.alwaysP99, r.alwaysP99))
	tw.Flush()
	b.printf("(memory overhead: vigil's peak RSS growth during the save; redis's parent growth plus the child's private (copy-on-write) pages)\n")
	return nil
}

// measureSave loads the dataset, measures a BGSAVE under load, then
// restarts the server on the file.
func (b *bencher) measureSave(ctx context.Context, s *server, keys int) (*persistResult, error) {
	res := &persistResult{}
	c := redis.NewClient(&redis.Options{Addr: s.p.Addr, DisableIdentity: true, ReadTimeout: 2 * time.Minute, WriteTimeout: time.Minute})
	defer c.Close()
	rss0, err := s.p.RSS()
	if err != nil {
		return nil, err
	}
	if err := loadValues(ctx, c, keys); err != nil {
		return nil, err
	}
	time.Sleep(b.cfg.settle)
	rss1, err := s.p.RSS()
	if err != nil {
		return nil, err
	}
	res.datasetRSS = rss1 - rss0
	// Idle latency: the same load without a save.
	idle := runSetLoad(ctx, s.p.Addr, keys, 2*time.Second, nil)
	res.p99Idle = idle.p99
	time.Sleep(b.cfg.settle)
	base, _ := s.p.RSS()
	var peak atomic.Int64
	sampling := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-sampling:
				return
			case <-time.After(10 * time.Millisecond):
			}
			m := processMemory(s.p.Pid)
			if m > peak.Load() {
				peak.Store(m)
			}
		}
	}()
	saving := make(chan struct{})
	var during loadStats
	wg.Add(1)
	go func() {
		defer wg.Done()
		during = runSetLoad(ctx, s.p.Addr, keys, time.Hour, saving)
	}()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	if err := c.BgSave(ctx).Err(); err != nil {
		close(saving)
		close(sampling)
		wg.Wait()
		return nil, fmt.Errorf("BGSAVE: %w", err)
	}
	for {
		info := c.Info(ctx, "persistence").Val()
		if strings.Contains(info, "rdb_bgsave_in_progress:0") && time.Since(start) > 50*time.Millisecond {
			if !strings.Contains(info, "rdb_last_bgsave_status:ok") {
				close(saving)
				close(sampling)
				wg.Wait()
				return nil, fmt.Errorf("BGSAVE failed")
			}
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	res.saveDuration = time.Since(start)
	close(saving)
	close(sampling)
	wg.Wait()
	res.p99, res.maxDuring, res.opsDuringSave = during.p99, during.max, during.ops
	res.peakOverhead = max(peak.Load()-base, 0)
	// Restart on the file: how long until it serves again.
	if err := s.p.Stop(); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := s.p.Restart(ctx); err != nil {
		return nil, err
	}
	res.loadTime = time.Since(t0)
	c2 := redis.NewClient(&redis.Options{Addr: s.p.Addr, DisableIdentity: true})
	defer c2.Close()
	if n := c2.DBSize(ctx).Val(); n < int64(keys) {
		return nil, fmt.Errorf("after restarting on the saved file DBSIZE is %d, want >= %d", n, keys)
	}
	return res, nil
}

// processMemory is the RSS of pid plus the private pages of its children
// (a forking server's save child).
func processMemory(pid int) int64 {
	rss, _ := proc.ReadRSS(pid)
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "task", strconv.Itoa(pid), "children"))
	if err != nil {
		return rss
	}
	for _, f := range strings.Fields(string(data)) {
		rss += privateMemory(f)
	}
	return rss
}

// privateMemory is a process's private (not shared) resident bytes.
func privateMemory(pid string) int64 {
	f, err := os.Open(filepath.Join("/proc", pid, "smaps_rollup"))
	if err != nil {
		return 0
	}
	defer f.Close()
	var total int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "Private_Clean:") || strings.HasPrefix(line, "Private_Dirty:") {
			fields := strings.Fields(line)
			if len(fields) >= 2 {
				kb, _ := strconv.ParseInt(fields[1], 10, 64)
				total += kb << 10
			}
		}
	}
	return total
}

// loadValues writes keys "key:N" of 100-byte values, pipelined.
func loadValues(ctx context.Context, c *redis.Client, keys int) error {
	value := strings.Repeat("x", 100)
	for from := 0; from < keys; from += 100000 {
		pipe := c.Pipeline()
		for i := from; i < min(from+100000, keys); i += 100 {
			args := make([]any, 0, 200)
			for j := i; j < min(i+100, keys); j++ {
				args = append(args, "key:"+strconv.Itoa(j), value)
			}
			pipe.MSet(ctx, args...)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("loading: %w", err)
		}
	}
	return nil
}

type loadStats struct {
	p99, max time.Duration
	ops      int64
	// errors is the number of failed SETs; gap the longest time a client
	// went without a successful reply.
	errors int64
	gap    time.Duration
}

// runSetLoad runs 50 clients doing SETs of 100-byte values on random keys
// for d or until stop closes, and returns the latency figures. A failed
// SET is counted and the client goes on (reconnecting if it must).
func runSetLoad(ctx context.Context, addr string, keys int, d time.Duration, stop chan struct{}) loadStats {
	const clients = 50
	var mu sync.Mutex
	var lat []time.Duration
	var totalErrs int64
	var maxGap time.Duration
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	value := strings.Repeat("y", 100)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true, PoolSize: 1, MaxRetries: -1})
			defer c.Close()
			var mine []time.Duration
			var errs int64
			var gap time.Duration
			lastOK := time.Now()
			for n := i; time.Now().Before(deadline); n += clients {
				if stop != nil {
					select {
					case <-stop:
						goto done
					default:
					}
				}
				t := time.Now()
				if c.Set(ctx, "key:"+strconv.Itoa(n*7919%keys), value, 0).Err() != nil {
					errs++
					time.Sleep(time.Millisecond)
					continue
				}
				now := time.Now()
				mine = append(mine, now.Sub(t))
				gap = max(gap, now.Sub(lastOK))
				lastOK = now
			}
		done:
			mu.Lock()
			lat = append(lat, mine...)
			totalErrs += errs
			maxGap = max(maxGap, gap)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if len(lat) == 0 {
		return loadStats{}
	}
	slices.Sort(lat)
	return loadStats{p99: lat[len(lat)*99/100], max: lat[len(lat)-1], ops: int64(len(lat)), errors: totalErrs, gap: maxGap}
}
