package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vigilkv/vigil/internal/testutil"
)

// TestDrills runs every drill once against the binaries in VIGIL_BIN_DIR
// (make test sets it) and requires every invariant to hold. Nothing here
// asserts a speed: the machine is shared, and the drills' own bounds are
// generous.
func TestDrills(t *testing.T) {
	bin := os.Getenv(testutil.EnvBinDir)
	if bin == "" {
		t.Skipf("%s is not set (make test sets it to the binaries it built)", testutil.EnvBinDir)
	}
	for _, d := range drills {
		t.Run(d.name, func(t *testing.T) {
			skipUnrunnable(t, d)
			path := filepath.Join(t.TempDir(), "report.json")
			var out bytes.Buffer
			args := []string{"-bin", bin, "-drill", d.name, "-runs", "1", "-report", path}
			if j := os.Getenv(envClockJump); j != "" && d.name == clockDrill.name {
				args = append(args, "-clock-jump", j)
			}
			code := run(context.Background(), args, &out, &out)
			t.Log("\n" + out.String())
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("exit status %d and no report: %v", code, err)
			}
			var rep report
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatalf("the report does not decode: %v", err)
			}
			if len(rep.Runs) != 1 || rep.Runs[0].Drill != d.name {
				t.Fatalf("the report has %d runs, want one of %s", len(rep.Runs), d.name)
			}
			r := rep.Runs[0]
			if r.Verdict != verdictOK || !rep.Passed || code != 0 {
				t.Fatalf("verdict %s, passed %v, exit status %d (error %q)", r.Verdict, rep.Passed, code, r.Error)
			}
			for _, m := range []string{mAcked, mLost, mWindow, mErrors} {
				if _, ok := r.Metrics[m]; !ok {
					t.Errorf("the report lacks the metric %s", m)
				}
			}
			if r.Metrics[mAcked] == 0 {
				t.Errorf("no write was acknowledged")
			}
			// The HTML report sits next to the JSON one (TestReportHTMLInChromium
			// checks that a browser draws it).
			if page, err := os.ReadFile(htmlPath(path)); err != nil {
				t.Errorf("no HTML report: %v", err)
			} else if !bytes.Contains(page, []byte(`<svg class="timeline"`)) {
				t.Errorf("the HTML report has no timeline")
			}
		})
	}
}

// TestUnknownDrill checks the command line refuses a drill it does not
// know, with exit status 2.
func TestUnknownDrill(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"-drill", "nope"}, &out, &out); code != 2 {
		t.Fatalf("exit status %d, want 2; output %s", code, out.String())
	}
}

// TestList names every drill.
func TestList(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"list"}, &out, &out); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	for _, d := range drills {
		if !bytes.Contains(out.Bytes(), []byte(d.name+" ")) {
			t.Errorf("list lacks %s:\n%s", d.name, out.String())
		}
	}
}

// TestTimeline checks the buckets are aligned on the fault and count
// every write.
func TestTimeline(t *testing.T) {
	fault := time.Now()
	w := &workload{}
	for _, a := range []struct {
		ms int
		ok bool
	}{{-150, true}, {-20, false}, {0, true}, {30, true}, {250, false}} {
		w.attempts = append(w.attempts, attempt{done: fault.Add(time.Duration(a.ms) * time.Millisecond), latency: time.Millisecond, ok: a.ok})
	}
	got := w.timeline(fault, 100*time.Millisecond)
	want := []bucket{{-200, 1, 0}, {-100, 0, 1}, {0, 2, 0}, {100, 0, 0}, {200, 0, 1}}
	if !slices.Equal(got, want) {
		t.Fatalf("timeline %v, want %v", got, want)
	}
	if l := w.latencies(); l["p50"] != 1 || l["max"] != 1 {
		t.Fatalf("latencies %v", l)
	}
}
