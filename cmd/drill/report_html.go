package main

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The HTML report is one self-contained file: html/template (which
// escapes every value taken from the report, events and error messages
// included) and hand-drawn SVG, no script, no external font or style, so
// it opens anywhere, offline, years later. The geometry is computed here
// in Go; the template only places what it is given.

//go:embed report.html.tmpl
var reportHTMLTemplate string

// reportTemplate is parsed once; it is read-only after that.
var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms":     fmtMs,
	"num":    fmtNum,
	"metric": func(m map[string]int64, name string) string { return fmtMs(metricPtr(m, name), "") },
}).Parse(reportHTMLTemplate))

// htmlPath is where the HTML report goes for a JSON report path: next to
// it, with .html in place of .json (report.json -> report.html).
func htmlPath(jsonPath string) string {
	return strings.TrimSuffix(jsonPath, filepath.Ext(jsonPath)) + ".html"
}

// writeReportHTML renders rep as a self-contained HTML page to path.
func writeReportHTML(path string, rep *report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating the HTML report: %w", err)
	}
	if err := renderReportHTML(f, rep); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the HTML report %s: %w", path, err)
	}
	return nil
}

// renderReportHTML writes the HTML page of rep to w.
func renderReportHTML(w io.Writer, rep *report) error {
	if err := reportTemplate.Execute(w, newHTMLPage(rep)); err != nil {
		return fmt.Errorf("rendering the HTML report: %w", err)
	}
	return nil
}

// htmlPage is what the template renders.
type htmlPage struct {
	Rep      *report
	Drills   string
	Figures  []headline
	Runs     []htmlRun
	Settings []kv
}

// headline is one figure in a box at the top of the page or of a run.
type headline struct {
	Label, Value, Note string
	// Bad marks a figure that shows a problem (writes lost).
	Bad bool
}

// kv is one row of a two-column table.
type kv struct{ Key, Value string }

// htmlRun is one run's section.
type htmlRun struct {
	ID      string // the section's anchor: run-1, run-2, ...
	R       *runResult
	Figures []headline
	Chart   *timelineChart // nil when the run recorded nothing to draw
	Markers []marker
	Metrics []kv
	Errors  []kv
}

func newHTMLPage(rep *report) htmlPage {
	p := htmlPage{Rep: rep}
	var names []string
	for _, r := range rep.Runs {
		if !slices.Contains(names, r.Drill) {
			names = append(names, r.Drill)
		}
	}
	p.Drills = strings.Join(names, ", ")
	runsNote := func(name string) string {
		f, ok := rep.Figures[name]
		if !ok || len(rep.Runs) < 2 {
			return ""
		}
		return fmt.Sprintf("max of %d runs, median %d", f.Runs, f.Median)
	}
	lost := headline{Label: "acknowledged writes lost", Value: fmtMs(rep.AckedLost, ""), Bad: rep.AckedLost != nil && *rep.AckedLost > 0}
	if len(rep.Runs) > 1 {
		lost.Note = "total over all runs"
	}
	p.Figures = []headline{
		{Label: "failover (fault to +switch-master)", Value: fmtMs(rep.FailoverMs, " ms"), Note: runsNote(figFailover)},
		{Label: "client unavailable (longest write gap)", Value: fmtMs(rep.UnavailableMs, " ms"), Note: runsNote(figUnavailable)},
		lost,
		{Label: "runs", Value: strconv.Itoa(len(rep.Runs))},
	}
	s := rep.Settings
	p.Settings = []kv{
		{"down-after-milliseconds", strconv.Itoa(s.DownAfterMs)},
		{"failover-timeout (ms)", strconv.Itoa(s.FailoverTimeoutMs)},
		{"failover-timeout in leader-kill (ms)", strconv.Itoa(s.LeaderKillFailoverTimeoutMs)},
		{"sync-replicas", strconv.Itoa(s.SyncReplicas)},
		{"runs of each drill", strconv.Itoa(s.Runs)},
	}
	for i, r := range rep.Runs {
		p.Runs = append(p.Runs, newHTMLRun(i, r))
	}
	return p
}

func newHTMLRun(i int, r *runResult) htmlRun {
	h := htmlRun{ID: "run-" + strconv.Itoa(i+1), R: r}
	h.Figures = []headline{
		{Label: "failover", Value: fmtMs(r.FailoverMs, " ms")},
		{Label: "client unavailable", Value: fmtMs(r.UnavailableMs, " ms")},
		{Label: "acked writes lost", Value: fmtMs(r.AckedLost, ""), Bad: r.AckedLost != nil && *r.AckedLost > 0},
		{Label: "writes acknowledged", Value: fmtMs(metricPtr(r.Metrics, mAcked), "")},
		{Label: "client errors", Value: fmtMs(metricPtr(r.Metrics, mErrors), "")},
	}
	if len(r.LatencyMs) > 0 {
		var parts []string
		for _, p := range []string{"p50", "p99", "p999", "max"} {
			if v, ok := r.LatencyMs[p]; ok {
				parts = append(parts, p+" "+strconv.FormatFloat(v, 'f', -1, 64))
			}
		}
		h.Figures = append(h.Figures, headline{Label: "write latency (ms)", Value: strings.Join(parts, " · ")})
	}
	h.Markers = eventMarkers(r.Events)
	h.Chart = newTimelineChart(r.Timeline, h.Markers, r.FaultAt != nil, r.Drill)
	for _, k := range sortedKeys(r.Metrics) {
		h.Metrics = append(h.Metrics, kv{k, strconv.FormatInt(r.Metrics[k], 10)})
	}
	for _, k := range sortedKeys(r.ErrorKinds) {
		h.Errors = append(h.Errors, kv{k, strconv.Itoa(r.ErrorKinds[k])})
	}
	return h
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// fmtMs formats an optional figure with its unit; "—" when unmeasured.
func fmtMs(v *int64, unit string) string {
	if v == nil {
		return "—"
	}
	return strconv.FormatInt(*v, 10) + unit
}

// fmtNum formats an SVG coordinate: one decimal is finer than a pixel.
func fmtNum(v float64) string {
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// markerTypes are the sentinel events drawn on the timeline, by the
// class that colours them: the steps of detecting a failure, electing a
// leader, promoting a replica and demoting an old master, and what went
// wrong. The rest (+slave, +sentinel, +failover-state-*, +vote-for-leader,
// ...) are in the run's full event list.
var markerTypes = map[string]string{
	"+sdown": "detect", "+odown": "detect",
	"-sdown": "clear", "-odown": "clear",
	"+try-failover": "elect", "+elected-leader": "elect",
	"+selected-slave": "promote", "+promoted-slave": "promote", "+switch-master": "promote", "+failover-end": "promote",
	"+convert-to-slave":         "demote",
	"+failover-end-for-timeout": "trouble", "+tilt": "trouble", "-tilt": "trouble", "+reboot": "trouble",
}

// markerClass returns the class of an event type drawn on the timeline,
// or "" for one that is not.
func markerClass(typ string) string {
	if c, ok := markerTypes[typ]; ok {
		return c
	}
	if strings.HasPrefix(typ, "-failover-abort") {
		return "trouble"
	}
	return ""
}

// markerGroupMs is how close events of one type about one instance must
// follow the first to be drawn as one marker: the three sentinels each
// report +sdown, +odown, +switch-master within a few hundred ms, and one
// line with "×3" reads better than three.
const markerGroupMs = 1000

// marker is a group of sentinel events drawn as one vertical line at the
// first one's time.
type marker struct {
	Ms        int64
	Type      string
	Label     string // the type, the instance kind when not the master, ×N
	Class     string
	Sentinels string // which sentinels reported it: "2, 0, 1"
	Msg       string // the first event's message
	Detail    string // every grouped event, for the tooltip
	target    string
	count     int
	sentinels []string
	details   []string
}

// eventMarkers groups the events worth drawing; events must be in time
// order (they are recorded so).
func eventMarkers(evs []reportEvent) []marker {
	var out []marker
	for _, e := range evs {
		class := markerClass(e.Type)
		if class == "" {
			continue
		}
		target := eventTarget(e.Msg)
		detail := fmt.Sprintf("%d ms, sentinel %d: %s %s", e.Ms, e.Sentinel, e.Type, e.Msg)
		grouped := false
		for i := len(out) - 1; i >= 0; i-- {
			m := &out[i]
			if m.Type == e.Type && m.target == target && e.Ms-m.Ms <= markerGroupMs {
				m.count++
				m.sentinels = append(m.sentinels, strconv.Itoa(e.Sentinel))
				m.details = append(m.details, detail)
				grouped = true
				break
			}
		}
		if !grouped {
			out = append(out, marker{Ms: e.Ms, Type: e.Type, Class: class, Msg: e.Msg, target: target, count: 1,
				sentinels: []string{strconv.Itoa(e.Sentinel)}, details: []string{detail}})
		}
	}
	for i := range out {
		m := &out[i]
		m.Label = m.Type
		// Which kind of instance went down matters (a replica's +sdown
		// is no failure of the master); the other types say it already.
		if kind, _, _ := strings.Cut(m.target, " "); strings.Contains(m.Type, "down") && kind != "" && kind != "master" {
			m.Label += " " + kind
		}
		if m.count > 1 {
			m.Label += " ×" + strconv.Itoa(m.count)
		}
		m.Sentinels = strings.Join(m.sentinels, ", ")
		m.Detail = strings.Join(m.details, "\n")
	}
	return out
}

// eventTarget is the instance an event is about ("slave 127.0.0.1:6380"),
// from its message's first two words, or "" when it names none.
func eventTarget(msg string) string {
	f := strings.Fields(msg)
	if len(f) >= 2 && (f[0] == "master" || f[0] == "slave" || f[0] == "sentinel") {
		return f[0] + " " + f[1]
	}
	return ""
}

// The timeline's geometry, in SVG user units (pixels at 100 % zoom).
const (
	chartWidth   = 1100.0
	chartLeft    = 64.0  // room for the y-axis labels
	chartRight   = 24.0  // room for half the last x label
	plotHeight   = 240.0 // the bars' area
	laneHeight   = 15.0  // one row of event labels above the plot
	maxLanes     = 12
	charWidth    = 6.6 // an 11 px sans-serif character, a little generous
	bottomMargin = 44.0
	stepMs       = 100 // the timeline's bucket, as the report has it
)

// timelineChart is the SVG of one run: writes per 100 ms as stacked
// bars (acknowledged, failed), the fault and the sentinel events as
// labelled vertical lines.
type timelineChart struct {
	Width, Height                      float64
	Left, Right, Top, Bottom           float64 // the plot area
	YTitleX, YTitleY, XTitleX, XTitleY float64
	Acked, Errors                      []svgRect
	YTicks, XTicks                     []svgTick
	Lines                              []svgLine // the fault's and the events'
	Labels                             []svgLabel
	MaxPerBucket, AckedSum, ErrSum     int
}

// svgRect is a bar: its top-left corner, width and height.
type svgRect struct{ X, Y, W, H float64 }

// svgTick is a grid line with its label at (LX, LY).
type svgTick struct {
	X1, Y1, X2, Y2, LX, LY float64
	Label                  string
}

// svgLine is a marker's vertical line; Title is its tooltip.
type svgLine struct {
	X, Y1, Y2 float64
	Class     string
	Title     string
}

// svgLabel is a marker's label on its lane, with a backing box so lines
// crossing it do not hide it.
type svgLabel struct {
	X, Y             float64 // the text's anchor point
	BoxX, BoxY, BoxW float64
	Anchor           string // start or end
	Class, Text      string
}

// newTimelineChart lays out the chart; nil when there is nothing to draw.
func newTimelineChart(tl []bucket, markers []marker, fault bool, drill string) *timelineChart {
	if len(tl) == 0 && len(markers) == 0 {
		return nil
	}
	// The time range covers the buckets, the events and the fault.
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	widen := func(a, b int64) { lo, hi = min(lo, a), max(hi, b) }
	for _, b := range tl {
		widen(b.Ms, b.Ms+stepMs)
	}
	for _, m := range markers {
		widen(m.Ms, m.Ms)
	}
	if fault {
		widen(0, 0)
	}
	if hi-lo < stepMs {
		hi = lo + stepMs
	}
	c := &timelineChart{Width: chartWidth, Left: chartLeft, Right: chartWidth - chartRight}
	scale := (c.Right - c.Left) / float64(hi-lo)
	x := func(ms int64) float64 { return c.Left + float64(ms-lo)*scale }

	// Labels first: their lanes decide how far down the plot starts.
	type item struct {
		ms          int64
		text, class string
		title       string
	}
	var items []item
	if fault {
		items = append(items, item{0, "fault (" + drill + ")", "fault", "the fault was injected (t = 0)"})
	}
	for _, m := range markers {
		items = append(items, item{m.Ms, m.Label, m.Class, m.Detail})
	}
	// Each lane holds labels that do not overlap; a label goes on the
	// first lane with room, extending right from its line, or left of it
	// near the right edge.
	var lanes [][][2]float64
	type placed struct {
		lane          int
		x0, x1, lineX float64
		anchor        string
	}
	var pl []placed
	for _, it := range items {
		lx := x(it.ms)
		w := float64(len([]rune(it.text)))*charWidth + 6
		x0, x1, anchor := lx, lx+w, "start"
		if x1 > c.Width-2 {
			x0, x1, anchor = lx-w, lx, "end"
		}
		lane := -1
		for i, ivs := range lanes {
			free := true
			for _, iv := range ivs {
				if x0 < iv[1] && iv[0] < x1 {
					free = false
					break
				}
			}
			if free {
				lane = i
				break
			}
		}
		if lane < 0 {
			if len(lanes) < maxLanes {
				lanes = append(lanes, nil)
				lane = len(lanes) - 1
			} else {
				// Crowded: the last lane overlaps; the table below the
				// chart lists every marker anyway.
				lane = maxLanes - 1
			}
		}
		lanes[lane] = append(lanes[lane], [2]float64{x0, x1})
		pl = append(pl, placed{lane, x0, x1, lx, anchor})
	}
	c.Top = 8 + float64(len(lanes))*laneHeight + 6
	c.Bottom = c.Top + plotHeight
	c.Height = c.Bottom + bottomMargin
	for i, it := range items {
		p := pl[i]
		baseline := 8 + float64(p.lane+1)*laneHeight - 4
		c.Lines = append(c.Lines, svgLine{X: p.lineX, Y1: baseline + 3, Y2: c.Bottom, Class: it.class, Title: it.title})
		tx := p.x0 + 3
		if p.anchor == "end" {
			tx = p.x1 - 3
		}
		c.Labels = append(c.Labels, svgLabel{X: tx, Y: baseline, BoxX: p.x0, BoxY: baseline - 11, BoxW: p.x1 - p.x0,
			Anchor: p.anchor, Class: it.class, Text: it.text})
	}

	// The y scale: a round number at or above the busiest bucket.
	for _, b := range tl {
		c.MaxPerBucket = max(c.MaxPerBucket, b.Acked+b.Errors)
		c.AckedSum += b.Acked
		c.ErrSum += b.Errors
	}
	yStep := niceStep(float64(max(c.MaxPerBucket, 1)) / 4)
	yMax := yStep * math.Ceil(float64(max(c.MaxPerBucket, 1))/yStep)
	y := func(v float64) float64 { return c.Bottom - v/yMax*plotHeight }
	for v := 0.0; v <= yMax+yStep/2; v += yStep {
		c.YTicks = append(c.YTicks, svgTick{X1: c.Left, Y1: y(v), X2: c.Right, Y2: y(v), LX: c.Left - 6, LY: y(v) + 4,
			Label: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	xStep := int64(niceStep(float64(hi-lo) / 10))
	for t := ceilTo(lo, xStep); t <= hi; t += xStep {
		c.XTicks = append(c.XTicks, svgTick{X1: x(t), Y1: c.Top, X2: x(t), Y2: c.Bottom + 4, LX: x(t), LY: c.Bottom + 17,
			Label: fmtSeconds(t)})
	}
	// A one-pixel gap between bars while they are wide enough to show it.
	bw := stepMs * scale
	gap := 0.0
	if bw > 4 {
		gap = 1
	}
	for _, b := range tl {
		bx := x(b.Ms)
		if b.Acked > 0 {
			c.Acked = append(c.Acked, svgRect{X: bx, Y: y(float64(b.Acked)), W: bw - gap, H: c.Bottom - y(float64(b.Acked))})
		}
		if b.Errors > 0 {
			top := y(float64(b.Acked + b.Errors))
			c.Errors = append(c.Errors, svgRect{X: bx, Y: top, W: bw - gap, H: y(float64(b.Acked)) - top})
		}
	}
	c.YTitleX, c.YTitleY = 14, (c.Top+c.Bottom)/2
	c.XTitleX, c.XTitleY = (c.Left+c.Right)/2, c.Bottom+36
	return c
}

// niceStep rounds a raw step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return max(m*p, 1)
		}
	}
	return 10 * p
}

// ceilTo rounds v up to a multiple of step (v may be negative).
func ceilTo(v, step int64) int64 {
	r := v % step
	switch {
	case r == 0:
		return v
	case r > 0:
		return v - r + step
	default:
		return v - r
	}
}

// fmtSeconds labels an x tick: "0 s", "+1.5 s", "-0.5 s".
func fmtSeconds(ms int64) string {
	s := strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64) + " s"
	if ms > 0 {
		s = "+" + s
	}
	return s
}
