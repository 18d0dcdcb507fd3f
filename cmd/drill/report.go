package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Verdicts of a run.
const (
	verdictOK        = "ok"
	verdictViolation = "VIOLATION"
	verdictError     = "ERROR" // the drill could not run to the end
)

// report is the -report file (report.json). Its top-level figures sum up
// every run in it, so a one-run report reads the same at the top as in its
// run, and a multi-run report gives the worst case at the top (see
// summarise) with the medians in Figures and each run's own in Runs.
type report struct {
	Started time.Time `json:"started"`
	// Passed holds when every run ran to the end with every invariant
	// held (and the drill was not interrupted): the exit status 0.
	Passed bool `json:"passed"`
	// FailoverMs is the longest fault-to-+switch-master time of the runs
	// (null when no run measured a failover).
	FailoverMs *int64 `json:"failover_ms"`
	// UnavailableMs is the longest client unavailability window of the
	// runs: the longest gap between two acknowledged writes.
	UnavailableMs *int64 `json:"unavailable_ms"`
	// AckedLost is the total of acknowledged writes missing on the final
	// master, over all runs.
	AckedLost *int64 `json:"acked_lost"`
	// Invariants has one entry per invariant name over all runs (pass
	// when it held in every run that checked it), and "every run ran to
	// the end".
	Invariants []invariant `json:"invariants"`
	// Figures are the runs' distributions of the headline figures.
	Figures  map[string]figure `json:"figures"`
	Settings reportSettings    `json:"settings"`
	Runs     []*runResult      `json:"runs"`
}

// figure sums up one headline figure over the runs that measured it.
type figure struct {
	Runs   int   `json:"runs"`
	Median int64 `json:"median"`
	Max    int64 `json:"max"`
	// Total is set for counts (acked_lost), where a sum means something.
	Total *int64 `json:"total,omitempty"`
}

type reportSettings struct {
	DownAfterMs                 int `json:"down_after_ms"`
	FailoverTimeoutMs           int `json:"failover_timeout_ms"`
	LeaderKillFailoverTimeoutMs int `json:"leader_kill_failover_timeout_ms"`
	SyncReplicas                int `json:"sync_replicas"`
	Runs                        int `json:"runs"`
}

// invariant is one checked property of a run.
type invariant struct {
	Name   string `json:"name"`
	Pass   bool   `json:"pass"`
	Detail string `json:"detail"`
}

// reportEvent is a sentinel event, timed from the fault.
type reportEvent struct {
	Ms       int64  `json:"t_ms"`
	Sentinel int    `json:"sentinel"`
	Type     string `json:"type"`
	Msg      string `json:"msg"`
}

// runResult is one run of one drill.
type runResult struct {
	Drill string `json:"drill"`
	Run   int    `json:"run"`
	// Target is set for a reference run ("redis", "redis min-replicas-to-write 1").
	Target  string `json:"target,omitempty"`
	Verdict string `json:"verdict"`
	// Passed, FailoverMs, UnavailableMs and AckedLost repeat the verdict
	// and the metrics fault_to_switch_ms, client_window_ms and lost under
	// the report's top-level names; null where the run did not measure
	// one (no failover in a replica restart, a run that failed early).
	Passed        bool   `json:"passed"`
	FailoverMs    *int64 `json:"failover_ms"`
	UnavailableMs *int64 `json:"unavailable_ms"`
	AckedLost     *int64 `json:"acked_lost"`
	// FaultAt is when the fault was injected (wall clock, UTC); every
	// t_ms in the run counts from it. Absent if the run ended before.
	FaultAt *time.Time `json:"fault_at,omitempty"`
	// Error says why a run could not finish (verdict ERROR).
	Error      string           `json:"error,omitempty"`
	Metrics    map[string]int64 `json:"metrics"`
	ErrorKinds map[string]int   `json:"client_error_kinds,omitempty"`
	Invariants []invariant      `json:"invariants"`
	Notes      []string         `json:"notes,omitempty"`
	// LatencyMs are percentiles of the acknowledged writes' latency.
	LatencyMs map[string]float64 `json:"latency_ms,omitempty"`
	// Timeline counts the workload's writes per 100 ms.
	Timeline []bucket      `json:"timeline,omitempty"`
	Events   []reportEvent `json:"events,omitempty"`
	// Dir is the run's directory (data, logs, sentinel state) when kept.
	Dir string `json:"dir,omitempty"`

	faultAt time.Time
}

func (r *runResult) metric(name string, v int64) { r.Metrics[name] = v }

func (r *runResult) note(s string) { r.Notes = append(r.Notes, s) }

// check records an invariant; the detail is kept for failures and for
// passes that carry a count.
func (r *runResult) check(name string, pass bool, format string, args ...any) {
	r.Invariants = append(r.Invariants, invariant{Name: name, Pass: pass, Detail: fmt.Sprintf(format, args...)})
}

// fail ends the run with an error.
func (r *runResult) fail(err error) {
	r.Verdict, r.Error = verdictError, err.Error()
}

// finish sets the verdict from the invariants.
func (r *runResult) finish() {
	r.Verdict = verdictOK
	for _, inv := range r.Invariants {
		if !inv.Pass {
			r.Verdict = verdictViolation
		}
	}
}

func reportEvents(evs []event, faultAt time.Time) []reportEvent {
	out := make([]reportEvent, 0, len(evs))
	for _, e := range evs {
		ms := int64(0)
		if !faultAt.IsZero() {
			ms = e.At.Sub(faultAt).Milliseconds()
		}
		out = append(out, reportEvent{Ms: ms, Sentinel: e.Sentinel, Type: e.Type, Msg: e.Msg})
	}
	return out
}

// columns are the summary table's metric columns; "-" where a drill does
// not measure one.
var columns = []struct{ head, metric string }{
	{"switch ms", mSwitch},
	{"window ms", mWindow},
	{"acked", mAcked},
	{"lost", mLost},
	{"errors", mErrors},
	{"psync ok", mPartial},
	{"full sync", mFull},
}

// printRun prints one run's line: the verdict, every metric, and what
// failed.
func printRun(w io.Writer, r *runResult) {
	names := make([]string, 0, len(r.Metrics))
	for k := range r.Metrics {
		names = append(names, k)
	}
	slices.Sort(names)
	var ms []string
	for _, k := range names {
		ms = append(ms, k+"="+strconv.FormatInt(r.Metrics[k], 10))
	}
	fmt.Fprintf(w, "  run %d: %s  %s\n", r.Run, r.Verdict, strings.Join(ms, " "))
	if r.Error != "" {
		fmt.Fprintf(w, "    error: %s\n", r.Error)
	}
	for _, inv := range r.Invariants {
		if !inv.Pass {
			fmt.Fprintf(w, "    violated: %s: %s\n", inv.Name, inv.Detail)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "    note: %s\n", n)
	}
	if r.Dir != "" {
		fmt.Fprintf(w, "    data and logs kept in %s\n", r.Dir)
	}
}

// printSummary prints one table row per run.
func printSummary(w io.Writer, runs []*runResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"drill", "run", "verdict"}
	for _, c := range columns {
		head = append(head, c.head)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, r := range runs {
		row := []string{r.Drill, strconv.Itoa(r.Run), r.Verdict}
		for _, c := range columns {
			if v, ok := r.Metrics[c.metric]; ok {
				row = append(row, strconv.FormatInt(v, 10))
			} else {
				row = append(row, "-")
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Names of the headline figures, in report.json and in Figures.
const (
	figFailover    = "failover_ms"
	figUnavailable = "unavailable_ms"
	figAckedLost   = "acked_lost"
)

// summarise fills the runs' headline fields from their metrics and the
// report's top-level ones from the runs: passed, the worst failover time
// and unavailability window (the figures a bound is about), the total of
// acknowledged writes lost, and every invariant over all of vigil's runs
// (reference runs against Redis keep only their own). interrupted says the drill was stopped before its last run.
func (rep *report) summarise(interrupted bool) {
	rep.Passed = !interrupted
	values := map[string][]int64{}
	var own []*runResult
	for _, r := range rep.Runs {
		r.Passed = r.Verdict == verdictOK
		if r.FaultAt == nil && !r.faultAt.IsZero() {
			t := r.faultAt.UTC()
			r.FaultAt = &t
		}
		r.FailoverMs = metricPtr(r.Metrics, mSwitch)
		r.UnavailableMs = metricPtr(r.Metrics, mWindow)
		r.AckedLost = metricPtr(r.Metrics, mLost)
		if r.Target != "" {
			// Reference runs show what Redis does (it loses writes):
			// their figures and violations are for comparison, not
			// vigil's verdict.
			continue
		}
		own = append(own, r)
		rep.Passed = rep.Passed && r.Passed
		for name, v := range map[string]*int64{figFailover: r.FailoverMs, figUnavailable: r.UnavailableMs, figAckedLost: r.AckedLost} {
			if v != nil {
				values[name] = append(values[name], *v)
			}
		}
	}
	rep.Figures = map[string]figure{}
	for name, vs := range values {
		f := summariseValues(vs)
		if name == figAckedLost {
			var total int64
			for _, v := range vs {
				total += v
			}
			f.Total = &total
		}
		rep.Figures[name] = f
	}
	rep.FailoverMs, rep.UnavailableMs, rep.AckedLost = nil, nil, nil
	if f, ok := rep.Figures[figFailover]; ok {
		rep.FailoverMs = &f.Max
	}
	if f, ok := rep.Figures[figUnavailable]; ok {
		rep.UnavailableMs = &f.Max
	}
	if f, ok := rep.Figures[figAckedLost]; ok {
		rep.AckedLost = f.Total
	}
	rep.Invariants = mergeInvariants(own, interrupted)
}

// metricPtr returns a copy of a metric, nil if the run lacks it.
func metricPtr(m map[string]int64, name string) *int64 {
	v, ok := m[name]
	if !ok {
		return nil
	}
	return &v
}

// summariseValues returns the median (the mean of the middle two for an
// even count) and the maximum of a non-empty list.
func summariseValues(vs []int64) figure {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return figure{Runs: n, Median: med, Max: s[n-1]}
}

// mergeInvariants folds the runs' invariants by name, in the order they
// first appear: one run's are its own; over several, an invariant passes
// when it held in every run that checked it, and its detail names the
// runs where it did not. A last entry says whether every run ran to the
// end (a run that could not finish checked nothing).
func mergeInvariants(runs []*runResult, interrupted bool) []invariant {
	type tally struct {
		checked int
		failed  []string
		detail  string
	}
	var order []string
	by := map[string]*tally{}
	for _, r := range runs {
		for _, inv := range r.Invariants {
			t, ok := by[inv.Name]
			if !ok {
				t = &tally{}
				by[inv.Name] = t
				order = append(order, inv.Name)
			}
			t.checked++
			t.detail = inv.Detail
			if !inv.Pass {
				t.failed = append(t.failed, fmt.Sprintf("%s run %d: %s", r.Drill, r.Run, inv.Detail))
			}
		}
	}
	out := make([]invariant, 0, len(order)+1)
	for _, name := range order {
		t := by[name]
		inv := invariant{Name: name, Pass: len(t.failed) == 0}
		switch {
		case len(runs) == 1:
			inv.Detail = t.detail
		case inv.Pass && t.checked == len(runs):
			inv.Detail = fmt.Sprintf("held in all %d runs", t.checked)
		case inv.Pass:
			inv.Detail = fmt.Sprintf("held in the %d of %d runs that checked it", t.checked, len(runs))
		default:
			inv.Detail = fmt.Sprintf("failed in %d of %d runs: %s", len(t.failed), t.checked, strings.Join(t.failed, "; "))
		}
		out = append(out, inv)
	}
	var unfinished []string
	for _, r := range runs {
		if r.Verdict == verdictError {
			unfinished = append(unfinished, fmt.Sprintf("%s run %d: %s", r.Drill, r.Run, r.Error))
		}
	}
	end := invariant{Name: "every run ran to the end", Pass: len(unfinished) == 0 && !interrupted}
	switch {
	case len(unfinished) > 0:
		end.Detail = strings.Join(unfinished, "; ")
	case interrupted:
		end.Detail = fmt.Sprintf("interrupted after %d runs", len(runs))
	default:
		end.Detail = fmt.Sprintf("%d of %d runs finished", len(runs), len(runs))
	}
	if interrupted && len(unfinished) > 0 {
		end.Detail += "; then interrupted"
	}
	return append(out, end)
}
