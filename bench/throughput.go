package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"
)

// benchRun bounds one redis-benchmark invocation.
const benchRun = 15 * time.Minute

// result is one row of redis-benchmark --csv output. Latencies are in
// milliseconds.
type result struct {
	Test                              string
	RPS                               float64
	Avg, Min, P50, P95, P99, MaxLaten float64
}

// parseCSV reads redis-benchmark 7 --csv output:
//
//	"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
//	"SET","48076.92","0.562","0.152","0.543","0.767","1.039","3.127"
//
// Columns are found by header name, so added columns do no harm.
func parseCSV(r io.Reader) ([]result, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("parsing redis-benchmark CSV: %w", err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("redis-benchmark printed no CSV")
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	need := []string{"test", "rps", "avg_latency_ms", "min_latency_ms", "p50_latency_ms", "p95_latency_ms", "p99_latency_ms", "max_latency_ms"}
	for _, h := range need {
		if _, ok := col[h]; !ok {
			return nil, fmt.Errorf("redis-benchmark CSV has no %q column (header %q)", h, rows[0])
		}
	}
	var out []result
	for _, row := range rows[1:] {
		if len(row) != len(rows[0]) {
			return nil, fmt.Errorf("redis-benchmark CSV row %q does not match the header", row)
		}
		num := func(h string) (float64, error) {
			f, err := strconv.ParseFloat(row[col[h]], 64)
			if err != nil {
				return 0, fmt.Errorf("redis-benchmark CSV: %s of %s: %w", h, row[col["test"]], err)
			}
			return f, nil
		}
		res := result{Test: row[col["test"]]}
		for _, f := range []struct {
			h   string
			dst *float64
		}{{"rps", &res.RPS}, {"avg_latency_ms", &res.Avg}, {"min_latency_ms", &res.Min}, {"p50_latency_ms", &res.P50},
			{"p95_latency_ms", &res.P95}, {"p99_latency_ms", &res.P99}, {"max_latency_ms", &res.MaxLaten}} {
			if *f.dst, err = num(f.h); err != nil {
				return nil, err
			}
		}
		out = append(out, res)
	}
	return out, nil
}

// benchArgs are the redis-benchmark arguments, identical for both servers
// apart from the port.
func (b *bencher) benchArgs(tests string, pipeline int) []string {
	return []string{"-t", tests, "-n", strconv.Itoa(b.cfg.requests), "-c", strconv.Itoa(b.cfg.clients),
		"-r", strconv.Itoa(b.cfg.keyspace), "-P", strconv.Itoa(pipeline), "--csv"}
}

// runBenchmark flushes the server (so both start from the same state) and
// runs redis-benchmark against it.
func (b *bencher) runBenchmark(ctx context.Context, s *server, args []string) ([]result, error) {
	return b.runBenchmarkOn(ctx, s, args, true)
}

// runBenchmarkOn runs redis-benchmark against s, after a FLUSHALL if
// flush.
func (b *bencher) runBenchmarkOn(ctx context.Context, s *server, args []string, flush bool) ([]result, error) {
	if flush {
		c := redis.NewClient(&redis.Options{Addr: s.p.Addr, DisableIdentity: true})
		err := c.FlushAll(ctx).Err()
		c.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: FLUSHALL: %w", s.label, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, benchRun)
	defer cancel()
	full := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(s.p.Port)}, args...)
	cmd := exec.CommandContext(ctx, b.cfg.benchmarkPath, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: redis-benchmark %s: %w\n%s%s", s.label, strings.Join(full, " "), err,
			lastLines(stderr.String(), 10), lastLines(stdout.String(), 10))
	}
	if !s.p.Running() {
		return nil, fmt.Errorf("%s exited during the benchmark (%v)", s.label, s.p.ExitErr())
	}
	return parseCSV(&stdout)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// throughputSuite runs redis-benchmark on a fresh pair at each pipeline
// depth and prints one table per depth.
func (b *bencher) throughputSuite(ctx context.Context, name, tests string) error {
	servers, stop, err := b.startServers(ctx, b.cfg.control)
	if err != nil {
		return err
	}
	defer stop()
	for i, pipeline := range b.cfg.pipelines {
		b.printf("\n== %s, -P %d: redis-benchmark %s (a test at a time, the servers in turn)\n", name, pipeline, strings.Join(b.benchArgs(tests, pipeline), " "))
		var units [][]string
		for _, unit := range benchUnits(tests) {
			units = append(units, b.benchArgs(unit, pipeline))
		}
		got, err := b.runRounds(ctx, servers, units, i%2 == 1)
		if err != nil {
			return err
		}
		b.throughputTable(medians(got["vigil"]), medians(got["redis"]))
		if b.cfg.control {
			b.controlTable(medians(got["vigil"]), medians(got["vigil-twin"]))
		}
	}
	return nil
}

// benchUnits splits a redis-benchmark test list into the runs that can
// stand alone: each test, except that the LRANGE tests share the one
// LPUSH that redis-benchmark fills their list with.
func benchUnits(tests string) []string {
	var units, lranges []string
	for _, t := range strings.Split(tests, ",") {
		if strings.HasPrefix(t, "lrange") {
			lranges = append(lranges, t)
			continue
		}
		units = append(units, t)
	}
	if len(lranges) > 0 {
		units = append(units, strings.Join(lranges, ","))
	}
	return units
}

// controlTable prints how two identical vigils measured in the same
// rounds compare: ratios this far from 1.0 are the run's noise.
func (b *bencher) controlTable(vigil, twin []result) {
	tw := tabwriter.NewWriter(b.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "noise control	vigil rps	vigil-twin rps	ratio	")
	byName := byTest(twin)
	for _, v := range vigil {
		if r, ok := byName[v.Test]; ok {
			fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.3f\t\n", v.Test, v.RPS, r.RPS, ratio(v.RPS, r.RPS))
		}
	}
	tw.Flush()
}

// runRounds runs redis-benchmark on every server (a pair, or three with
// a control twin) for the configured rounds and returns each server's
// results by label, one entry per round. A round is a FLUSHALL, then one
// redis-benchmark run per unit (each unit its arguments), in order, as
// one run over all of them would go; each unit runs on every server
// before the next, so a test's measurements are seconds apart rather
// than a whole list's run apart, which on a shared machine is long
// enough for its speed to change by a fifth. Which server goes first
// rotates (the second first for the first unit of the first round when
// swap), so slow drift on the machine does not always favour one side.
func (b *bencher) runRounds(ctx context.Context, servers []*server, units [][]string, swap bool) (map[string][][]result, error) {
	got := map[string][][]result{}
	for round := 0; round < b.cfg.rounds; round++ {
		ran := map[string][]result{}
		for u, args := range units {
			// Each server first in turn (a control twin makes three).
			k := round + u
			if swap {
				k++
			}
			k %= len(servers)
			order := append(slices.Clone(servers[k:]), servers[:k]...)
			for _, s := range order {
				res, err := b.runBenchmarkOn(ctx, s, args, u == 0)
				if err != nil {
					return nil, err
				}
				ran[s.label] = append(ran[s.label], res...)
			}
		}
		for label, res := range ran {
			got[label] = append(got[label], res)
		}
	}
	return got, nil
}

// throughputTable prints vigil and redis rows side by side, matched by
// test name.
func (b *bencher) throughputTable(vigil, redis []result) {
	tw := tabwriter.NewWriter(b.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "test\tvigil rps\tredis rps\tratio\ttarget\t\tvigil p50\tredis p50\tvigil p99\tredis p99\tp99 ratio\ttarget\t\t")
	byName := byTest(redis)
	for _, v := range vigil {
		r, ok := byName[v.Test]
		if !ok {
			fmt.Fprintf(tw, "%s\t%.0f\t-\t\t\t\t%.3f\t-\t%.3f\t-\t\t\t\t\n", v.Test, v.RPS, v.P50, v.P99)
			continue
		}
		tput := ratio(v.RPS, r.RPS)
		p99 := ratio(v.P99, r.P99)
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.3f\t>=%.1f\t%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t<=%.1f\t%s\t\n",
			v.Test, v.RPS, r.RPS, tput, targetThroughput, marker(tput >= targetThroughput),
			v.P50, r.P50, v.P99, r.P99, p99, targetP99, marker(p99 <= targetP99))
	}
	tw.Flush()
	b.printf("(latencies in ms)\n")
}

// byTest indexes results by test name, to match two servers' rows.
func byTest(rs []result) map[string]result {
	m := make(map[string]result, len(rs))
	for _, r := range rs {
		m[r.Test] = r
	}
	return m
}

// medians combines rounds: per test, the median of each number.
func medians(rounds [][]result) []result {
	if len(rounds) == 0 {
		return nil
	}
	var out []result
	for _, first := range rounds[0] {
		var all []result
		for _, r := range rounds {
			for _, x := range r {
				if x.Test == first.Test {
					all = append(all, x)
				}
			}
		}
		med := func(get func(result) float64) float64 {
			v := make([]float64, len(all))
			for i, x := range all {
				v[i] = get(x)
			}
			sort.Float64s(v)
			if len(v)%2 == 1 {
				return v[len(v)/2]
			}
			return (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		out = append(out, result{
			Test:     first.Test,
			RPS:      med(func(r result) float64 { return r.RPS }),
			Avg:      med(func(r result) float64 { return r.Avg }),
			Min:      med(func(r result) float64 { return r.Min }),
			P50:      med(func(r result) float64 { return r.P50 }),
			P95:      med(func(r result) float64 { return r.P95 }),
			P99:      med(func(r result) float64 { return r.P99 }),
			MaxLaten: med(func(r result) float64 { return r.MaxLaten }),
		})
	}
	return out
}

// ratio is a/b, or 0 when b is 0 (e.g. a p99 below the histogram's
// resolution).
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
