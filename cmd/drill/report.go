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

// report is the -report file.
type report struct {
	Started  time.Time      `json:"started"`
	Passed   bool           `json:"passed"`
	Settings reportSettings `json:"settings"`
	Runs     []*runResult   `json:"runs"`
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
	Detail string `json:"detail,omitempty"`
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
