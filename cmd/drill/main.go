// Command vigil-drill runs chaos failover drills against a local
// deployment (three data nodes, the first starting as the master, and
// three vigil-sentinels on loopback) and reports what happened: how long
// the failover took, how long a go-redis FailoverClient could not write,
// whether any acknowledged write was lost, and the invariants every drill
// checks (exactly one master, replicas converged, sentinels agreeing).
//
//	vigil-drill [-bin bin] [-drill NAME[,NAME...]|all] [-runs 3] [-sync-replicas 1] [-report FILE | -out DIR]
//	vigil-drill run NAME [flags]   (the same as -drill NAME)
//	vigil-drill run kill|freeze|partition -target redis [-min-replicas-to-write N]
//	vigil-drill -drill freeze,kill,partition -runs 5 -compare
//	vigil-drill list
//
// -target redis runs a drill against redis-server + redis-sentinel 7, the
// reference; -compare runs it against vigil and Redis (defaults, and
// min-replicas-to-write) and prints a table side by side.
//
// The exit status is 1 when any invariant was violated or a run failed.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/vigilkv/vigil/internal/logging"
)

func main() {
	redis.SetLogger(logging.GoRedis{Log: zap.NewNop()})
	// Ctrl-C ends the current run through its context, so its processes
	// are stopped and its directory kept rather than abandoned.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// settings are the command-line settings every drill run gets.
type settings struct {
	bin                       string
	runs                      int
	downAfter                 time.Duration
	failoverTimeout           time.Duration
	leaderKillFailoverTimeout time.Duration
	syncReplicas              int
	keep                      bool
	// dataset is the keys loaded before the drills that upgrade nodes.
	dataset int
	// target is what the drill runs against (vigil, or Redis as the
	// reference).
	target target
	// clockJump is how far the clock drill moves the wall clock.
	clockJump time.Duration
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "list" {
		for _, d := range drills {
			fmt.Fprintf(stdout, "%-19s %s%s\n", d.name, d.about, listTags(d))
		}
		return 0
	}
	if len(args) > 0 && args[0] == "run" {
		// The spelling: vigil-drill run NAME [flags].
		if len(args) < 2 || strings.HasPrefix(args[1], "-") {
			fmt.Fprintln(stderr, "vigil-drill: run needs a drill name (vigil-drill list)")
			return 2
		}
		args = append([]string{"-drill", args[1]}, args[2:]...)
	}
	fs := flag.NewFlagSet("vigil-drill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var s settings
	fs.StringVar(&s.bin, "bin", "bin", "directory with vigil-server and vigil-sentinel")
	which := fs.String("drill", "all", "drills to run, comma-separated, or all (vigil-drill list names them)")
	fs.IntVar(&s.runs, "runs", 3, "runs of each drill")
	downAfter := fs.Int("down-after", 1000, "sentinels' down-after-milliseconds")
	failoverTimeout := fs.Int("failover-timeout", 10000, "sentinels' failover-timeout in ms")
	lkTimeout := fs.Int("leader-kill-failover-timeout", 4000, "sentinels' failover-timeout in ms in the leader-kill drill")
	fs.IntVar(&s.syncReplicas, "sync-replicas", 1, "the data nodes' sync-replicas (0: asynchronous replication, where writes acknowledged just before a kill may be lost and are only counted)")
	fs.IntVar(&s.dataset, "dataset", 20000, "keys (100-byte values) loaded before the rolling-upgrade drills")
	reportPath := fs.String("report", "", "write a JSON report of every run to this file, and an HTML one next to it (.html for .json)")
	outDir := fs.String("out", "", "write the reports to DIR/report.json and DIR/report.html (unless -report names a file)")
	fs.BoolVar(&s.keep, "keep", false, "keep every run's directory (data and logs); a failed run's is always kept")
	targetName := fs.String("target", "vigil", "what to drill: vigil, or redis (redis-server + redis-sentinel 7 from PATH, the reference; kill, freeze and partition only)")
	reference := fs.Bool("reference", false, "the same as -target redis")
	compare := fs.Bool("compare", false, "run each drill against vigil, redis (defaults) and redis with min-replicas-to-write (at least 1), and print them side by side")
	minReplicas := fs.Int("min-replicas-to-write", 0, "redis-server's min-replicas-to-write in reference runs")
	fs.DurationVar(&s.clockJump, "clock-jump", time.Hour, "how far the clock drill jumps the host's wall clock (forward, then backward)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *reportPath == "" && *outDir != "" {
		if err := os.MkdirAll(*outDir, 0o755); err != nil {
			fmt.Fprintf(stderr, "vigil-drill: %v\n", err)
			return 2
		}
		*reportPath = filepath.Join(*outDir, "report.json")
	}
	s.downAfter = time.Duration(*downAfter) * time.Millisecond
	s.failoverTimeout = time.Duration(*failoverTimeout) * time.Millisecond
	s.leaderKillFailoverTimeout = time.Duration(*lkTimeout) * time.Millisecond
	if *reference {
		*targetName = "redis"
	}
	targets, err := chooseTargets(*targetName, *compare, *minReplicas)
	if err != nil {
		fmt.Fprintf(stderr, "vigil-drill: %v\n", err)
		return 2
	}
	var selected []drillSpec
	if *which == "all" {
		for _, d := range drills {
			// A drill that changes the host (the clock) runs only when
			// named; the comparison covers the reference drills.
			if !d.explicit && (!*compare || d.reference) {
				selected = append(selected, d)
			}
		}
	} else {
		for _, name := range strings.Split(*which, ",") {
			d, ok := drillByName(strings.TrimSpace(name))
			if !ok {
				fmt.Fprintf(stderr, "vigil-drill: unknown drill %q (vigil-drill list)\n", name)
				return 2
			}
			if !d.reference && targets[len(targets)-1].reference {
				fmt.Fprintf(stderr, "vigil-drill: the %s drill has no reference run (vigil-drill list)\n", d.name)
				return 2
			}
			selected = append(selected, d)
		}
	}
	rep := report{Started: time.Now().UTC(), Settings: reportSettings{
		DownAfterMs: *downAfter, FailoverTimeoutMs: *failoverTimeout, LeaderKillFailoverTimeoutMs: *lkTimeout,
		SyncReplicas: s.syncReplicas, Runs: s.runs}}
	for _, d := range selected {
		for _, t := range targets {
			s.target = t
			fmt.Fprintf(stdout, "== %s: %s (%d runs, down-after %v, %s)\n", d.name, d.about, s.runs, s.downAfter, t.describe(s.syncReplicas))
			for i := 1; i <= s.runs && ctx.Err() == nil; i++ {
				r := runOne(ctx, d, s, i)
				printRun(stdout, r)
				rep.Runs = append(rep.Runs, r)
			}
		}
	}
	rep.summarise(ctx.Err() != nil)
	fmt.Fprintln(stdout)
	printSummary(stdout, rep.Runs)
	if *compare {
		fmt.Fprintln(stdout)
		printCompare(stdout, rep.Runs)
	}
	if *reportPath != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err == nil {
			err = os.WriteFile(*reportPath, append(b, '\n'), 0o644)
		}
		if err == nil {
			err = writeReportHTML(htmlPath(*reportPath), &rep)
		}
		if err != nil {
			fmt.Fprintf(stderr, "vigil-drill: writing the report: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "\nreport: %s (JSON), %s (open in a browser)\n", *reportPath, htmlPath(*reportPath))
	}
	if !rep.Passed {
		return 1
	}
	return 0
}

// runOne runs one drill on a fresh topology: start it, start the
// workload, inject the fault, stop the workload, check the invariants.
func runOne(ctx context.Context, d drillSpec, s settings, n int) *runResult {
	r := &runResult{Drill: d.name, Run: n, Metrics: map[string]int64{}}
	o := topoOptions{bin: s.bin, downAfter: s.downAfter, failoverTimeout: s.failoverTimeout, syncReplicas: s.syncReplicas,
		reference: s.target.reference, minReplicasToWrite: s.target.minReplicas}
	if s.target.reference {
		r.Target = s.target.label
	}
	if d.needs != nil {
		if err := d.needs(); err != nil {
			r.fail(fmt.Errorf("the %s drill cannot run on this machine: %w", d.name, err))
			return r
		}
	}
	if d.setup != nil {
		d.setup(&o, s)
	}
	c, err := newCluster(ctx, o)
	if err != nil {
		r.fail(fmt.Errorf("starting the topology: %w", err))
		return r
	}
	keep := s.keep
	defer func() {
		r.Events = reportEvents(c.events.all(), r.faultAt)
		// A reference run's violations are expected (Redis loses writes);
		// only one that could not finish is worth its directory.
		if r.Verdict == verdictError || (r.Verdict != verdictOK && r.Target == "") {
			keep = true
		}
		if keep {
			r.Dir = c.root
		}
		c.close(keep)
	}()
	w := startWorkload(ctx, c.sentinelAddrs(), 2*time.Millisecond, o.clientTimeout)
	defer w.halt()
	if err := waitUntil(ctx, 30*time.Second, func() error {
		if w.stats().acked == 0 {
			return fmt.Errorf("no write acknowledged yet")
		}
		return nil
	}); err != nil {
		r.fail(fmt.Errorf("the workload never got going: %w", err))
		return r
	}
	time.Sleep(500 * time.Millisecond)
	dr := &drillRun{c: c, w: w, r: r}
	if err := d.fault(ctx, dr); err != nil {
		w.halt()
		r.fail(err)
		return r
	}
	// Some load after the recovery, then stop writing so the replicas
	// can converge.
	time.Sleep(500 * time.Millisecond)
	w.halt()
	st := w.stats()
	r.metric(mAcked, int64(st.acked))
	r.metric(mErrors, int64(st.errors))
	r.metric(mWindow, st.window.Milliseconds())
	r.ErrorKinds = w.errorKinds()
	r.LatencyMs = w.latencies()
	r.Timeline = w.timeline(r.faultAt, 100*time.Millisecond)
	master, err := c.verify(ctx, r)
	if err != nil {
		r.fail(err)
		return r
	}
	lost, err := countMissing(ctx, master, w.keys())
	if err != nil {
		r.fail(err)
		return r
	}
	r.metric(mLost, int64(lost))
	if s.syncReplicas > 0 && !o.reference {
		r.check("no acknowledged write lost", lost == 0, "%d of %d acknowledged writes missing on the master %s", lost, st.acked, master)
	}
	r.finish()
	return r
}

// verify waits until the deployment settled and records the invariants
// every drill shares: the sentinels agree on the master and the config
// epoch, exactly one running data node is a master and it is theirs,
// every other running node replicates from it with its link up, and all
// hold the same data (DEBUG DIGEST). It returns the master's address.
func (c *cluster) verify(ctx context.Context, r *runResult) (string, error) {
	type outcome struct {
		name   string
		detail string
		pass   bool
	}
	var last []outcome
	var master string
	attempt := func() bool {
		last = last[:0]
		ok := true
		add := func(name string, pass bool, format string, args ...any) {
			last = append(last, outcome{name, fmt.Sprintf(format, args...), pass})
			ok = ok && pass
		}
		// The sentinels agree.
		addrs, epochs := map[string]bool{}, map[string]bool{}
		var seen []string
		for _, s := range c.sentinels {
			if !s.running() {
				continue
			}
			f, err := sentinelMasterFields(ctx, s.addr())
			if err != nil {
				seen = append(seen, fmt.Sprintf("%s: %v", s.name, err))
				addrs["?"] = true
				continue
			}
			a := f["ip"] + ":" + f["port"]
			addrs[a], epochs[f["config-epoch"]] = true, true
			master = a
			seen = append(seen, fmt.Sprintf("%s: %s epoch %s %s", s.name, a, f["config-epoch"], f["flags"]))
		}
		add("sentinels agree on the master and epoch", len(addrs) == 1 && len(epochs) == 1, "%s", strings.Join(seen, "; "))
		// Exactly one master, the sentinels' one.
		var masters, roles []string
		for _, m := range c.nodes {
			if !m.running() {
				continue
			}
			in, err := info(ctx, m.addr(), "replication")
			if err != nil {
				roles = append(roles, fmt.Sprintf("%s: %v", m.name, err))
				continue
			}
			roles = append(roles, m.name+" "+in["role"])
			if in["role"] == "master" {
				masters = append(masters, m.addr())
			}
		}
		add("exactly one master", len(masters) == 1 && masters[0] == master, "masters %v, sentinels say %s (%s)", masters, master, strings.Join(roles, ", "))
		// Replicas linked and converged.
		var lag []string
		digests := map[string]bool{}
		for _, m := range c.nodes {
			if !m.running() {
				continue
			}
			if m.addr() != master {
				if err := linkUp(ctx, m.addr(), master); err != nil {
					lag = append(lag, err.Error())
				}
			}
			d, err := digest(ctx, m.addr())
			if err != nil {
				lag = append(lag, err.Error())
				continue
			}
			digests[d] = true
		}
		if len(digests) > 1 {
			lag = append(lag, fmt.Sprintf("%d different DEBUG DIGESTs", len(digests)))
		}
		add("replicas converged to the master", len(lag) == 0, "%s", strings.Join(lag, "; "))
		return ok
	}
	err := waitUntil(ctx, 30*time.Second, func() error {
		if !attempt() {
			return fmt.Errorf("not settled")
		}
		return nil
	})
	for _, o := range last {
		r.check(o.name, o.pass, "%s", o.detail)
	}
	if err != nil && master == "" {
		return "", fmt.Errorf("no sentinel names a master")
	}
	for _, s := range c.sentinels {
		if e, err := configEpoch(ctx, s.addr()); s.running() && err == nil {
			r.metric("config_epoch", e)
			break
		}
	}
	return master, nil
}
