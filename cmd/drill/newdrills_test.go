package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilkv/vigil/internal/testutil"
)

// envClockDrill makes TestDrills run the clock drill, which jumps this
// machine's wall clock and back (by envClockJump, default 1 h): keys with
// a TTL anywhere on the machine see the jump and sentinels tilt on a jump
// over 2 s, so it is off unless asked for. make test runs it alone, after
// every other test, with a 5 s jump.
const (
	envClockDrill = "VIGIL_CLOCK_DRILL"
	envClockJump  = "VIGIL_CLOCK_JUMP"
)

// skipUnrunnable skips a drill this machine cannot run (the partition
// drill without root) or that must be asked for (the clock drill).
func skipUnrunnable(t *testing.T, d drillSpec) {
	t.Helper()
	if d.needs != nil {
		if err := d.needs(); err != nil {
			t.Skipf("the %s drill cannot run here: %v", d.name, err)
		}
	}
	if d.explicit && os.Getenv(envClockDrill) != "1" {
		t.Skipf("the %s drill changes the host's wall clock; %s=1 runs it", d.name, envClockDrill)
	}
}

// TestReferenceFreeze runs the freeze drill once against redis-server +
// redis-sentinel 7: the run carries its target, and Redis's old master
// acknowledges the writes of the client pinned to it after it wakes up
// (the split brain vigil's lease prevents), which is reported as a
// violation without failing vigil-drill.
func TestReferenceFreeze(t *testing.T) {
	if os.Getenv(testutil.EnvBinDir) == "" {
		t.Skipf("%s is not set (make test sets it to the binaries it built)", testutil.EnvBinDir)
	}
	testutil.RequireRedis(t)
	testutil.RequireBinary(t, "redis-sentinel")
	path := filepath.Join(t.TempDir(), "report.json")
	var out bytes.Buffer
	code := run(context.Background(), []string{"run", "freeze", "-target", "redis", "-runs", "1", "-report", path}, &out, &out)
	t.Log("\n" + out.String())
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("exit status %d and no report: %v", code, err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("the report does not decode: %v", err)
	}
	if len(rep.Runs) != 1 {
		t.Fatalf("%d runs in the report", len(rep.Runs))
	}
	r := rep.Runs[0]
	if r.Verdict == verdictError {
		t.Fatalf("the reference run could not finish: %s", r.Error)
	}
	if r.Target != "redis" || code != 0 || !rep.Passed {
		t.Fatalf("target %q, exit status %d, passed %v: a reference run must not fail vigil-drill", r.Target, code, rep.Passed)
	}
	if r.Metrics[mAckedByReplaced] == 0 {
		t.Errorf("Redis's old master acknowledged no write after waking (%v): the drill did not reproduce the split brain", r.Metrics)
	}
}

// TestTargets checks the command line's choice of targets.
func TestTargets(t *testing.T) {
	for _, tc := range []struct {
		name        string
		target      string
		compare     bool
		minReplicas int
		want        []string
		wantErr     bool
	}{
		{"default", "vigil", false, 0, []string{"vigil"}, false},
		{"reference", "redis", false, 0, []string{"redis"}, false},
		{"reference with min-replicas", "redis", false, 2, []string{"redis min-replicas-to-write 2"}, false},
		{"compare", "vigil", true, 0, []string{"vigil", "redis", "redis min-replicas-to-write 1"}, false},
		{"compare with min-replicas", "vigil", true, 2, []string{"vigil", "redis", "redis min-replicas-to-write 2"}, false},
		{"unknown", "valkey", false, 0, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := chooseTargets(tc.target, tc.compare, tc.minReplicas)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			var labels []string
			for _, g := range got {
				labels = append(labels, g.label)
			}
			if strings.Join(labels, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("targets %v, want %v", labels, tc.want)
			}
		})
	}
}

// TestCommandLineRefusals checks the drill choices vigil-drill refuses
// with exit status 2.
func TestCommandLineRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no reference run", []string{"run", "sentinel-loss", "-target", "redis"}, "no reference run"},
		{"unknown target", []string{"run", "kill", "-target", "valkey"}, "unknown -target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if code := run(context.Background(), tc.args, &out, &out); code != 2 || !strings.Contains(out.String(), tc.want) {
				t.Fatalf("exit status %d, output %q; want 2 and %q", code, out.String(), tc.want)
			}
		})
	}
}

// TestCompareTable checks the side-by-side table: one row per drill and
// target, medians and maxima over the runs that finished.
func TestCompareTable(t *testing.T) {
	mk := func(target string, verdict string, sw, win, lost, split, demote int64) *runResult {
		return &runResult{Drill: "freeze", Target: target, Verdict: verdict, Metrics: map[string]int64{
			mSwitch: sw, mWindow: win, mLost: lost, mAckedByReplaced: split, mWakeToDemoted: demote}}
	}
	runs := []*runResult{
		mk("", verdictOK, 1100, 1300, 0, 0, 400), mk("", verdictOK, 1200, 1500, 0, 0, 500), mk("", verdictOK, 1000, 1400, 0, 0, 300),
		mk("redis", verdictViolation, 2400, 2500, 0, 50000, 10100), mk("redis", verdictError, 0, 0, 0, 0, 0),
	}
	var out bytes.Buffer
	printCompare(&out, runs)
	lines := strings.Split(out.String(), "\n")
	fields := func(prefix string) []string {
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 2 && f[0] == "freeze" && f[1] == prefix {
				return f
			}
		}
		t.Fatalf("no row for %s in\n%s", prefix, out.String())
		return nil
	}
	if got, want := strings.Join(fields("vigil")[2:], " "), "3/3 1100 1200 1400 1500 0 0 0 0 400 500"; got != want {
		t.Errorf("vigil row %q, want %q", got, want)
	}
	if got, want := strings.Join(fields("redis")[2:], " "), "0/2 2400 2400 2500 2500 0 0 50000 50000 10100 10100"; got != want {
		t.Errorf("redis row %q, want %q", got, want)
	}
}
