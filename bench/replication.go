package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/deploy/proc"
)

// The replication suite: full sync time of a big dataset to a new
// replica, replication lag under a SET load, master throughput with two
// replicas attached, and vigil's no-loss mode (sync-replicas 1).

type replResult struct {
	syncTime           time.Duration
	lagP99, lagMax     int64
	streamRate         float64 // stream bytes per second during the lag run
	rpsAlone, rpsTwo   float64
	rpsSync1, rpsSync0 float64
}

// startOne starts one server of the given kind with extra flags.
func (b *bencher) startOne(ctx context.Context, label, path string, extra ...string) (*server, error) {
	dir, err := os.MkdirTemp("", "vigil-bench-"+label+"-")
	if err != nil {
		return nil, err
	}
	p, err := proc.Start(ctx, proc.Spec{
		Name: label, Path: path,
		Args:    append([]string{"--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", "--loglevel", "warning", "--repl-diskless-sync-delay", "0"}, extra...),
		Dir:     dir,
		LogPath: filepath.Join(dir, "server.log"),
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &server{label: label, p: p, dir: dir}, nil
}

func (s *server) close() {
	s.p.Stop()
	os.RemoveAll(s.dir)
}

func (b *bencher) replicationSuite(ctx context.Context) error {
	keys := 1000000
	if b.cfg.quick {
		keys = 200000
	}
	b.printf("\n== replication: full sync of %d keys (100-byte values), lag and throughput under redis-benchmark SET load\n", keys)
	got := map[string]*replResult{}
	for _, side := range []struct{ label, path string }{{"vigil", b.cfg.vigilPath}, {"redis", b.cfg.redisPath}} {
		r, err := b.measureReplication(ctx, side.label, side.path, keys)
		if err != nil {
			return fmt.Errorf("%s: %w", side.label, err)
		}
		got[side.label] = r
	}
	v, r := got["vigil"], got["redis"]
	tw := tabwriter.NewWriter(b.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measure\tvigil\tredis\tratio\ttarget\t\t")
	sr := ratio(v.syncTime.Seconds(), r.syncTime.Seconds())
	fmt.Fprintf(tw, "full sync to a new replica\t%v\t%v\t%.3f\t<=1.0\t%s\t\n", v.syncTime.Round(time.Millisecond), r.syncTime.Round(time.Millisecond), sr, marker(sr <= 1))
	fmt.Fprintf(tw, "replication lag p99 (bytes) under SET load\t%d\t%d\t%.3f\t<=1.0\t%s\t\n", v.lagP99, r.lagP99, ratio(float64(v.lagP99), float64(r.lagP99)), marker(v.lagP99 <= r.lagP99))
	fmt.Fprintf(tw, "replication lag max (bytes)\t%d\t%d\t\t\t\t\n", v.lagMax, r.lagMax)
	// The same lag in time: a master that takes more writes per second
	// has more bytes in flight for the same delay.
	lagMs := func(res *replResult) float64 { return float64(res.lagP99) / max(res.streamRate, 1) * 1000 }
	fmt.Fprintf(tw, "replication lag p99 (ms of the master's stream)\t%.0f\t%.0f\t%.3f\t\t\t\n", lagMs(v), lagMs(r), ratio(lagMs(v), lagMs(r)))
	dv, dr := 1-v.rpsTwo/v.rpsAlone, 1-r.rpsTwo/r.rpsAlone
	fmt.Fprintf(tw, "SET rps -P 16: alone / two replicas\t%.0f / %.0f (%.1f%% drop)\t%.0f / %.0f (%.1f%% drop)\t\t<=10%% drop\t%s\t\n",
		v.rpsAlone, v.rpsTwo, dv*100, r.rpsAlone, r.rpsTwo, dr*100, marker(dv <= 0.10))
	s1 := ratio(v.rpsSync1, v.rpsSync0)
	fmt.Fprintf(tw, "vigil SET rps -P 16: sync-replicas 1 / 0\t%.0f / %.0f\tn/a\t%.3f\t>=0.7\t%s\t\n", v.rpsSync1, v.rpsSync0, s1, marker(s1 >= 0.7))
	tw.Flush()
	return nil
}

func (b *bencher) measureReplication(ctx context.Context, label, path string, keys int) (*replResult, error) {
	res := &replResult{}
	extra := []string{"--enable-debug-command", "yes"}
	master, err := b.startOne(ctx, label, path, extra...)
	if err != nil {
		return nil, err
	}
	defer master.close()
	mc := redis.NewClient(&redis.Options{Addr: master.p.Addr, DisableIdentity: true, ReadTimeout: 5 * time.Minute})
	defer mc.Close()
	if err := mc.Do(ctx, "DEBUG", "POPULATE", keys, "key", 100).Err(); err != nil {
		return nil, fmt.Errorf("DEBUG POPULATE: %w", err)
	}
	// Alone.
	setArgs := []string{"-t", "set", "-n", strconv.Itoa(b.cfg.requests * 2), "-c", "50", "-r", "1000000", "-d", "100", "-P", "16", "--csv"}
	if rs, err := b.runBenchmarkKeep(ctx, master, setArgs); err == nil && len(rs) > 0 {
		res.rpsAlone = rs[0].RPS
	} else if err != nil {
		return nil, err
	}
	// Full sync to a first replica.
	r1, err := b.startOne(ctx, label, path)
	if err != nil {
		return nil, err
	}
	defer r1.close()
	rc := redis.NewClient(&redis.Options{Addr: r1.p.Addr, DisableIdentity: true})
	defer rc.Close()
	start := time.Now()
	if err := rc.SlaveOf(ctx, "127.0.0.1", strconv.Itoa(master.p.Port)).Err(); err != nil {
		return nil, err
	}
	for !strings.Contains(rc.Info(ctx, "replication").Val(), "master_link_status:up") {
		if time.Since(start) > 5*time.Minute {
			return nil, fmt.Errorf("the replica never synced")
		}
		time.Sleep(5 * time.Millisecond)
	}
	res.syncTime = time.Since(start)
	r2, err := b.startOne(ctx, label, path)
	if err != nil {
		return nil, err
	}
	defer r2.close()
	rc2 := redis.NewClient(&redis.Options{Addr: r2.p.Addr, DisableIdentity: true})
	defer rc2.Close()
	rc2.SlaveOf(ctx, "127.0.0.1", strconv.Itoa(master.p.Port))
	for !strings.Contains(rc2.Info(ctx, "replication").Val(), "master_link_status:up") {
		time.Sleep(5 * time.Millisecond)
	}
	// Two replicas attached, with the lag sampled meanwhile.
	stop := make(chan struct{})
	lags := make(chan []int64)
	go func() {
		var samples []int64
		for {
			select {
			case <-stop:
				lags <- samples
				return
			case <-time.After(10 * time.Millisecond):
			}
			m := infoNum(mc.Info(ctx, "replication").Val(), "master_repl_offset")
			r := infoNum(rc.Info(ctx, "replication").Val(), "slave_repl_offset")
			if m >= 0 && r >= 0 {
				samples = append(samples, max(m-r, 0))
			}
		}
	}()
	off0, t0 := infoNum(mc.Info(ctx, "replication").Val(), "master_repl_offset"), time.Now()
	rs, err := b.runBenchmarkKeep(ctx, master, setArgs)
	close(stop)
	samples := <-lags
	res.streamRate = float64(infoNum(mc.Info(ctx, "replication").Val(), "master_repl_offset")-off0) / time.Since(t0).Seconds()
	if err != nil {
		return nil, err
	}
	if len(rs) > 0 {
		res.rpsTwo = rs[0].RPS
	}
	if len(samples) > 0 {
		slices.Sort(samples)
		res.lagP99 = samples[len(samples)*99/100]
		res.lagMax = samples[len(samples)-1]
	}
	if label == "vigil" {
		// The no-loss mode against the default, same replicas.
		res.rpsSync0 = res.rpsTwo
		mc.ConfigSet(ctx, "sync-replicas", "1")
		rs, err := b.runBenchmarkKeep(ctx, master, setArgs)
		mc.ConfigSet(ctx, "sync-replicas", "0")
		if err != nil {
			return nil, err
		}
		if len(rs) > 0 {
			res.rpsSync1 = rs[0].RPS
		}
	}
	return res, nil
}

// runBenchmarkKeep runs redis-benchmark without flushing the server.
func (b *bencher) runBenchmarkKeep(ctx context.Context, s *server, args []string) ([]result, error) {
	return b.runBenchmarkOn(ctx, s, args, false)
}

func infoNum(info, field string) int64 {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}
