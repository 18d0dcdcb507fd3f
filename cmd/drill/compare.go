package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// target is what a run drills: vigil, or redis-server + redis-sentinel 7
// (the reference) with a min-replicas-to-write setting.
type target struct {
	label       string
	reference   bool
	minReplicas int
}

// chooseTargets turns -target, -compare and -min-replicas-to-write into
// the targets every selected drill runs against, in order.
func chooseTargets(name string, compare bool, minReplicas int) ([]target, error) {
	redisTarget := func(n int) target {
		label := "redis"
		if n > 0 {
			label = fmt.Sprintf("redis min-replicas-to-write %d", n)
		}
		return target{label: label, reference: true, minReplicas: n}
	}
	switch {
	case compare:
		// Redis's default next to the setting that fences a stale master.
		return []target{{label: "vigil"}, redisTarget(0), redisTarget(max(minReplicas, 1))}, nil
	case name == "vigil":
		return []target{{label: "vigil"}}, nil
	case name == "redis":
		return []target{redisTarget(minReplicas)}, nil
	}
	return nil, fmt.Errorf("unknown -target %q (vigil or redis)", name)
}

// describe is the target's part of a drill's heading.
func (t target) describe(syncReplicas int) string {
	if t.reference {
		return fmt.Sprintf("redis-server + redis-sentinel, min-replicas-to-write %d", t.minReplicas)
	}
	return fmt.Sprintf("sync-replicas %d", syncReplicas)
}

// listTags notes, in vigil-drill list, what is special about a drill.
func listTags(d drillSpec) string {
	var tags []string
	if d.reference {
		tags = append(tags, "also -target redis")
	}
	if d.explicit {
		tags = append(tags, "only when named")
	}
	if len(tags) == 0 {
		return ""
	}
	return " [" + strings.Join(tags, "; ") + "]"
}

// splitBrainMetrics are the metrics that count writes a replaced (or
// isolated) old master acknowledged, one per drill that measures them.
var splitBrainMetrics = []string{mAckedByReplaced, mAckedByRestarted, mAckedByIsolated}

// Metric names of the writes an old master acknowledged after it was
// replaced (freeze: sent after the freeze), restarted (kill) or cut off
// (partition: acknowledged after the failover began, until demoted).
const (
	mAckedByReplaced  = "acked_by_replaced_master"
	mAckedByRestarted = "acked_by_restarted_old_master"
	mAckedByIsolated  = "acked_by_isolated_master_after_failover_began"
)

// demotionMetrics are the times from the old master's return (woken,
// restarted, healed) to its demotion, one per drill.
var demotionMetrics = []string{mWakeToDemoted, "restart_to_old_master_demoted_ms", "heal_to_old_master_demoted_ms"}

// mWakeToDemoted is the freeze drill's time from SIGCONT to the old
// master reporting role slave.
const mWakeToDemoted = "wake_to_old_master_demoted_ms"

// waitDemoted waits until the node at addr reports itself a replica.
func waitDemoted(ctx context.Context, addr string, timeout time.Duration) error {
	c := adminClient(addr)
	defer c.Close()
	deadline := time.Now().Add(timeout)
	for {
		v, err := c.Do(ctx, "ROLE").Slice()
		if err == nil && len(v) > 0 && v[0] == "slave" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not demoted within %v (ROLE %v, %v)", timeout, v, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// printCompare prints, per drill, one row per target: the failover time
// and the client's unavailability window (median and max over the runs),
// the acknowledged writes lost and the split-brain writes the old master
// acknowledged (total and max of a run).
func printCompare(w io.Writer, runs []*runResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "drill\ttarget\truns ok\tfailover ms med\tmax\twindow ms med\tmax\tacked lost total\tmax\tsplit-brain acks total\tmax\tdemotion ms med\tmax\t")
	type key struct{ drill, target string }
	var order []key
	groups := map[key][]*runResult{}
	for _, r := range runs {
		k := key{r.Drill, r.Target}
		if k.target == "" {
			k.target = "vigil"
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	for _, k := range order {
		rs := groups[k]
		var sw, win, lost, split, demote []int64
		ok := 0
		for _, r := range rs {
			if r.Verdict == verdictOK {
				ok++
			}
			if r.Verdict == verdictError {
				continue // no figures from a run that could not finish
			}
			if v, has := r.Metrics[mSwitch]; has {
				sw = append(sw, v)
			}
			win = append(win, r.Metrics[mWindow])
			lost = append(lost, r.Metrics[mLost])
			var n int64
			for _, m := range splitBrainMetrics {
				n += r.Metrics[m]
			}
			split = append(split, n)
			for _, m := range demotionMetrics {
				if v, has := r.Metrics[m]; has {
					demote = append(demote, v)
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", k.drill, k.target, ok, len(rs),
			median(sw), maxOf(sw), median(win), maxOf(win), sum(lost), maxOf(lost), sum(split), maxOf(split), median(demote), maxOf(demote))
	}
	tw.Flush()
	fmt.Fprintln(w, "runs ok: every invariant held (reference runs are expected to violate the fencing invariants).")
	fmt.Fprintln(w, "split-brain acks: writes the old master acknowledged after it was frozen (freeze) or restarted (kill), or")
	fmt.Fprintln(w, "after the failover began (partition); its demotion discards them, so they are lost (counted in acked lost")
	fmt.Fprintln(w, "only in partition, where the pinned client's writes are in the ledger). demotion: from the old master's")
	fmt.Fprintln(w, "return (woken, restarted, healed) to its ROLE saying slave.")
}

func median(v []int64) string {
	if len(v) == 0 {
		return "-"
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return fmt.Sprint(s[len(s)/2])
}

func maxOf(v []int64) string {
	if len(v) == 0 {
		return "-"
	}
	return fmt.Sprint(slices.Max(v))
}

func sum(v []int64) string {
	if len(v) == 0 {
		return "-"
	}
	var n int64
	for _, x := range v {
		n += x
	}
	return fmt.Sprint(n)
}
