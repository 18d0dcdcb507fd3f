package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// fixtureReport is a report.json captured from a real run of
// `vigil-drill -drill kill,freeze -runs 1 -out DIR` (make build's
// binaries on loopback), so the HTML is tested on real events and
// timelines without running a drill.
const fixtureReport = "testdata/report.json"

// envSkipChromium lets a developer without Chromium skip the browser
// test; without it, a missing browser fails the test (CI installs it).
const envSkipChromium = "VIGIL_SKIP_CHROMIUM"

func loadFixture(t *testing.T) *report {
	t.Helper()
	b, err := os.ReadFile(fixtureReport)
	if err != nil {
		t.Fatalf("reading the fixture: %v", err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("decoding the fixture: %v", err)
	}
	if len(rep.Runs) < 2 {
		t.Fatalf("the fixture has %d runs; the test wants a multi-run report", len(rep.Runs))
	}
	return &rep
}

// chromiumPath finds the browser, or fails the test saying how to get
// one (or skips it when VIGIL_SKIP_CHROMIUM is set).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(envSkipChromium) != "" {
		t.Skipf("no Chromium on PATH and %s is set", envSkipChromium)
	}
	t.Fatalf("no Chromium on PATH: install it (apt-get install chromium; .ci/run does) or set %s=1 to skip this test", envSkipChromium)
	return ""
}

// runChromium runs headless Chromium with args and returns its stdout.
func runChromium(t *testing.T, browser string, args ...string) []byte {
	t.Helper()
	// Generous: a cold browser start on a loaded 2-core machine.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	home := t.TempDir()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--hide-scrollbars", "--user-data-dir=" + filepath.Join(home, "profile")}, args...)
	cmd := exec.CommandContext(ctx, browser, all...)
	// Its caches and crash reports go to the test's directory, not ~.
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_CACHE_HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// TestReportHTMLInChromium renders the fixture's report.html in headless
// Chromium and checks that it draws: the DOM the browser built has one
// timeline per run with its bars, fault line and event markers, and the
// screenshot shows the bars and the fault line in their colours.
func TestReportHTMLInChromium(t *testing.T) {
	browser := chromiumPath(t)
	rep := loadFixture(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := writeReportHTML(page, rep); err != nil {
		t.Fatal(err)
	}
	url := "file://" + page

	dom := string(runChromium(t, browser, "--dump-dom", url))
	count := func(re string) int { return len(regexp.MustCompile(re).FindAllStringIndex(dom, -1)) }
	for _, c := range []struct {
		what string
		re   string
		min  int
	}{
		{"timeline SVGs", `<svg class="timeline"`, len(rep.Runs)},
		{"acknowledged-write bars", `<rect class="acked"`, 10 * len(rep.Runs)},
		{"failed-write bars", `<rect class="errors"`, 1},
		{"fault lines", `<line class="mark fault"`, len(rep.Runs)},
		{"+switch-master markers", `<text class="promote"[^>]*>\+switch-master`, len(rep.Runs)},
		{"+odown markers", `<text class="detect"[^>]*>\+odown`, len(rep.Runs)},
		{"invariant rows that pass", `<td class="ok">pass</td>`, len(rep.Invariants)},
		{"the PASSED verdict", `id="verdict">PASSED<`, 1},
	} {
		if n := count(c.re); n < c.min {
			t.Errorf("the DOM Chromium built has %d %s, want at least %d", n, c.what, c.min)
		}
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", dom)
	}

	shot := filepath.Join(dir, "report.png")
	runChromium(t, browser, "--screenshot="+shot, "--window-size=1200,4000", url)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot does not decode as PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 1000 {
		t.Fatalf("the screenshot is %v, want the 1200x4000 window", b)
	}
	// The colours come from the page's style sheet (rect.acked, line.fault).
	n := countColours(img, color.RGBA{0x3a, 0x9d, 0x5d, 0xff}, color.RGBA{0xd0, 0x00, 0x00, 0xff}, color.RGBA{0xd6, 0x45, 0x45, 0xff})
	acked, fault, errs := n[0], n[1], n[2]
	t.Logf("pixels: acknowledged bars %d, failed bars %d, fault lines %d", acked, errs, fault)
	// A chart's bars cover tens of thousands of pixels, a fault line
	// 2.5 px by 240; the bounds are far below that, only "it drew".
	if acked < 5000*len(rep.Runs) {
		t.Errorf("the screenshot has %d pixels of the acknowledged-writes colour, want at least %d: the bars did not draw", acked, 5000*len(rep.Runs))
	}
	if fault < 200*len(rep.Runs) {
		t.Errorf("the screenshot has %d pixels of the fault colour, want at least %d: the fault line did not draw", fault, 200*len(rep.Runs))
	}
	if errs == 0 {
		t.Errorf("the screenshot has no pixel of the failed-writes colour")
	}
	if t.Failed() {
		keep := filepath.Join(os.TempDir(), fmt.Sprintf("vigil-report-%d.png", time.Now().UnixNano()))
		if b, err := os.ReadFile(shot); err == nil && os.WriteFile(keep, b, 0o644) == nil {
			t.Logf("screenshot kept in %s", keep)
		}
	}
}

// countColours counts the pixels within a small distance of each of
// cs (the browser may blend edges; the inside of a shape is exact), in
// one pass over the raw pixels: img.At per pixel is slow under -race.
func countColours(img image.Image, cs ...color.RGBA) []int {
	n := make([]int, len(cs))
	near := func(a, b uint8) bool { return int(a)-int(b) >= -4 && int(a)-int(b) <= 4 }
	match := func(r, g, b uint8) {
		for i, c := range cs {
			if near(r, c.R) && near(g, c.G) && near(b, c.B) {
				n[i]++
			}
		}
	}
	var pix []uint8
	switch m := img.(type) {
	case *image.NRGBA:
		pix = m.Pix
	case *image.RGBA:
		pix = m.Pix // opaque screenshots: premultiplied is the same
	default:
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
				match(c.R, c.G, c.B)
			}
		}
		return n
	}
	for i := 0; i+3 < len(pix); i += 4 {
		match(pix[i], pix[i+1], pix[i+2])
	}
	return n
}

// TestReportHTMLEscapes puts markup in every string the page shows from
// a report and checks none of it reaches the page unescaped.
func TestReportHTMLEscapes(t *testing.T) {
	const evil = `<script>alert(1)</script><img src=x onerror=alert(2)>"'&`
	for _, c := range []struct {
		name   string
		mutate func(r *report)
	}{
		{"drill name", func(r *report) { r.Runs[0].Drill = evil }},
		{"event message", func(r *report) { r.Runs[0].Events[len(r.Runs[0].Events)-1].Msg = evil }},
		{"event type", func(r *report) { r.Runs[0].Events = append(r.Runs[0].Events, reportEvent{Ms: 10, Type: evil}) }},
		{"invariant", func(r *report) {
			r.Invariants[0] = invariant{Name: evil, Detail: evil}
			r.Runs[1].Invariants[0] = invariant{Name: evil, Detail: evil}
		}},
		{"error, notes, dir", func(r *report) {
			r.Runs[0].Error, r.Runs[0].Notes, r.Runs[0].Dir = evil, []string{evil}, evil
			r.Runs[0].Verdict = evil
		}},
		{"metric and error kind names", func(r *report) {
			r.Runs[0].Metrics[evil] = 1
			r.Runs[0].ErrorKinds = map[string]int{evil: 3}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := loadFixture(t)
			c.mutate(rep)
			var out bytes.Buffer
			if err := renderReportHTML(&out, rep); err != nil {
				t.Fatal(err)
			}
			page := out.String()
			// The template itself has no script and no image.
			for _, bad := range []string{"<script", "<img"} {
				if strings.Contains(page, bad) {
					t.Errorf("the page contains %q unescaped", bad)
				}
			}
			if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
				t.Errorf("the escaped text is not on the page")
			}
		})
	}
}

// TestReportHTMLShapes renders reports the fixture does not cover: a
// failed run, a run that ended before its fault with nothing recorded,
// and an empty report. They must render, and say what happened.
func TestReportHTMLShapes(t *testing.T) {
	errored := &runResult{Drill: "kill", Run: 1, Verdict: verdictError, Error: "starting the topology: boom", Metrics: map[string]int64{}}
	violated := &runResult{Drill: "freeze", Run: 2, Verdict: verdictViolation, Metrics: map[string]int64{mLost: 3, mAcked: 10},
		Invariants: []invariant{{Name: "no acknowledged write lost", Pass: false, Detail: "3 of 10 missing"}},
		Timeline:   []bucket{{-100, 5, 0}, {0, 0, 2}, {100, 5, 0}}, faultAt: time.Now()}
	for _, c := range []struct {
		name string
		runs []*runResult
		want []string
	}{
		{"errored", []*runResult{errored}, []string{"could not finish: starting the topology: boom", "nothing to draw", "before its fault", ">FAILED<"}},
		{"violated", []*runResult{violated}, []string{`<td class="bad">FAIL</td>`, "3 of 10 missing", `<svg class="timeline"`, `figure bad`, ">FAILED<"}},
		{"empty", nil, []string{"every run ran to the end", ">PASSED<"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := &report{Runs: c.runs}
			rep.summarise(false)
			var out bytes.Buffer
			if err := renderReportHTML(&out, rep); err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("the page lacks %q", w)
				}
			}
		})
	}
}

// TestSummarise checks the report's top-level figures and invariants
// over its runs.
func TestSummarise(t *testing.T) {
	run := func(drill string, n int, verdict string, metrics map[string]int64, invs ...invariant) *runResult {
		return &runResult{Drill: drill, Run: n, Verdict: verdict, Metrics: metrics, Invariants: invs}
	}
	ok := func(name, detail string) invariant { return invariant{Name: name, Pass: true, Detail: detail} }
	ptr := func(v int64) *int64 { return &v }
	for _, c := range []struct {
		name                        string
		runs                        []*runResult
		interrupted                 bool
		passed                      bool
		failover, unavailable, lost *int64
		failoverMedian              int64
		invariants                  []invariant
	}{
		{
			name:   "one run: the top is the run",
			runs:   []*runResult{run("kill", 1, verdictOK, map[string]int64{mSwitch: 1100, mWindow: 1300, mLost: 0}, ok("one promotion", "sentinel2 ..."))},
			passed: true, failover: ptr(1100), unavailable: ptr(1300), lost: ptr(0), failoverMedian: 1100,
			invariants: []invariant{ok("one promotion", "sentinel2 ..."), ok("every run ran to the end", "1 of 1 runs finished")},
		},
		{
			name: "three runs: worst failover and window, median, total lost, a failure named",
			runs: []*runResult{
				run("kill", 1, verdictOK, map[string]int64{mSwitch: 1000, mWindow: 1500, mLost: 0}, ok("one promotion", "a")),
				run("kill", 2, verdictViolation, map[string]int64{mSwitch: 3000, mWindow: 1200, mLost: 2}, invariant{Name: "one promotion", Detail: "two"}),
				run("replica-restart", 1, verdictOK, map[string]int64{mWindow: 100, mLost: 1}),
			},
			passed: false, failover: ptr(3000), unavailable: ptr(1500), lost: ptr(3), failoverMedian: 2000,
			invariants: []invariant{
				{Name: "one promotion", Detail: "failed in 1 of 2 runs: kill run 2: two"},
				ok("every run ran to the end", "3 of 3 runs finished"),
			},
		},
		{
			name:       "a run that could not finish measured nothing",
			runs:       []*runResult{run("kill", 1, verdictError, map[string]int64{})},
			passed:     false,
			invariants: []invariant{{Name: "every run ran to the end", Detail: "kill run 1: boom"}},
		},
		{
			name:        "interrupted",
			runs:        []*runResult{run("kill", 1, verdictOK, map[string]int64{mSwitch: 900}, ok("x", "y"))},
			interrupted: true, passed: false, failover: ptr(900), failoverMedian: 900,
			invariants: []invariant{ok("x", "y"), {Name: "every run ran to the end", Detail: "interrupted after 1 runs"}},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, r := range c.runs {
				if r.Verdict == verdictError {
					r.Error = "boom"
				}
			}
			rep := &report{Runs: c.runs}
			rep.summarise(c.interrupted)
			eq := func(what string, got, want *int64) {
				if (got == nil) != (want == nil) || (got != nil && *got != *want) {
					t.Errorf("%s = %s, want %s", what, fmtMs(got, ""), fmtMs(want, ""))
				}
			}
			if rep.Passed != c.passed {
				t.Errorf("passed = %v, want %v", rep.Passed, c.passed)
			}
			eq("failover_ms", rep.FailoverMs, c.failover)
			eq("unavailable_ms", rep.UnavailableMs, c.unavailable)
			eq("acked_lost", rep.AckedLost, c.lost)
			if c.failover != nil && rep.Figures[figFailover].Median != c.failoverMedian {
				t.Errorf("failover median %d, want %d", rep.Figures[figFailover].Median, c.failoverMedian)
			}
			if !slices.Equal(rep.Invariants, c.invariants) {
				t.Errorf("invariants\n%+v\nwant\n%+v", rep.Invariants, c.invariants)
			}
			for _, r := range rep.Runs {
				if r.Passed != (r.Verdict == verdictOK) {
					t.Errorf("%s run %d: passed %v with verdict %s", r.Drill, r.Run, r.Passed, r.Verdict)
				}
				eq(r.Drill+" failover_ms", r.FailoverMs, metricPtr(r.Metrics, mSwitch))
			}
			// The JSON carries the names at the top.
			b, err := json.Marshal(rep)
			if err != nil {
				t.Fatal(err)
			}
			var top map[string]json.RawMessage
			if err := json.Unmarshal(b, &top); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"passed", "failover_ms", "unavailable_ms", "acked_lost", "invariants", "runs"} {
				if _, ok := top[k]; !ok {
					t.Errorf("report.json lacks %q", k)
				}
			}
		})
	}
}

// TestEventMarkers checks which sentinel events become markers and how
// they are grouped.
func TestEventMarkers(t *testing.T) {
	evs := []reportEvent{
		{Ms: -800, Sentinel: 0, Type: "+slave", Msg: "slave 127.0.0.1:2 127.0.0.1 2 @ mymaster 127.0.0.1 1"},
		{Ms: 950, Sentinel: 2, Type: "+sdown", Msg: "master mymaster 127.0.0.1 1"},
		{Ms: 980, Sentinel: 0, Type: "+sdown", Msg: "master mymaster 127.0.0.1 1"},
		{Ms: 990, Sentinel: 1, Type: "+sdown", Msg: "master mymaster 127.0.0.1 1"},
		{Ms: 1000, Sentinel: 1, Type: "+vote-for-leader", Msg: "abc 1"},
		{Ms: 1100, Sentinel: 2, Type: "+switch-master", Msg: "mymaster 127.0.0.1 1 127.0.0.1 2"},
		{Ms: 1200, Sentinel: 0, Type: "+switch-master", Msg: "mymaster 127.0.0.1 1 127.0.0.1 2"},
		{Ms: 1300, Sentinel: 0, Type: "+sdown", Msg: "slave 127.0.0.1:3 127.0.0.1 3 @ mymaster 127.0.0.1 2"},
		{Ms: 5000, Sentinel: 2, Type: "+sdown", Msg: "master mymaster 127.0.0.1 2"},
		{Ms: 6000, Sentinel: 1, Type: "-failover-abort-no-good-slave", Msg: "master mymaster 127.0.0.1 2"},
	}
	got := eventMarkers(evs)
	type short struct {
		Ms               int64
		Label, Class, Ss string
	}
	var s []short
	for _, m := range got {
		s = append(s, short{m.Ms, m.Label, m.Class, m.Sentinels})
	}
	want := []short{
		{950, "+sdown ×3", "detect", "2, 0, 1"},
		{1100, "+switch-master ×2", "promote", "2, 0"},
		{1300, "+sdown slave", "detect", "0"},
		{5000, "+sdown", "detect", "2"},
		{6000, "-failover-abort-no-good-slave", "trouble", "1"},
	}
	if !slices.Equal(s, want) {
		t.Fatalf("markers\n%+v\nwant\n%+v", s, want)
	}
	if !strings.Contains(got[0].Detail, "990 ms, sentinel 1: +sdown master mymaster") {
		t.Errorf("the tooltip lacks the grouped event: %q", got[0].Detail)
	}
}

// TestChartScales checks the axis helpers.
func TestChartScales(t *testing.T) {
	for _, c := range []struct{ raw, want float64 }{{0, 1}, {0.3, 1}, {3, 5}, {11, 20}, {45, 50}, {550, 1000}, {2001, 5000}} {
		if got := niceStep(c.raw); got != c.want {
			t.Errorf("niceStep(%v) = %v, want %v", c.raw, got, c.want)
		}
	}
	for _, c := range []struct{ v, step, want int64 }{{-850, 500, -500}, {-1000, 500, -1000}, {0, 500, 0}, {1, 500, 500}, {-1, 500, 0}} {
		if got := ceilTo(c.v, c.step); got != c.want {
			t.Errorf("ceilTo(%d, %d) = %d, want %d", c.v, c.step, got, c.want)
		}
	}
	for _, c := range []struct {
		ms   int64
		want string
	}{{0, "0 s"}, {1500, "+1.5 s"}, {-500, "-0.5 s"}} {
		if got := fmtSeconds(c.ms); got != c.want {
			t.Errorf("fmtSeconds(%d) = %q, want %q", c.ms, got, c.want)
		}
	}
	if got := htmlPath("out/report.json"); got != "out/report.html" {
		t.Errorf("htmlPath = %q", got)
	}
	if got := htmlPath("drills"); got != "drills.html" {
		t.Errorf("htmlPath without an extension = %q", got)
	}
}
