package sentinel

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilkv/vigil/deploy/proc"
	"github.com/vigilkv/vigil/internal/testutil"
)

// TestCopiedStateFile: a second sentinel started from a copy of the
// first one's state file has its id; memberlist refuses one of the two,
// and once that has lasted 30 s (a restart at a new address settles
// sooner) the logs say so and what to do, instead of the two silently
// counting as one voter.
func TestCopiedStateFile(t *testing.T) {
	master := testutil.StartVigil(t)
	base, err := proc.FreePortRange(2)
	if err != nil {
		t.Fatal(err)
	}
	join := fmt.Sprintf("127.0.0.1:%d,127.0.0.1:%d", base, base+1)
	start := func(i int, dir string) *testutil.Proc {
		return testutil.StartProcess(t, proc.Spec{Name: fmt.Sprint("vigil-sentinel-", i), Path: testutil.SentinelBinary(t),
			Args: []string{"--bind", "127.0.0.1", "--dir", dir, "--gossip-port", fmt.Sprint(base + i), "--join", join,
				"--monitor", fmt.Sprintf("mymaster 127.0.0.1 %d 2", master.Port)},
			Dir: dir, LogPath: filepath.Join(dir, "sentinel.log")})
	}
	dirA, dirB := t.TempDir(), t.TempDir()
	a := start(0, dirA)
	state, err := os.ReadFile(filepath.Join(dirA, "sentinel-state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dirB, "sentinel-state.json"), state, 0o600); err != nil {
		t.Fatal(err)
	}
	b := start(1, dirB)
	testutil.WaitFor(t, 60*time.Second, "a sentinel to report the shared id", func() (bool, string) {
		for _, s := range []*testutil.Proc{a, b} {
			if strings.Contains(s.Log(), "another sentinel gossips with this sentinel's id") {
				return true, ""
			}
		}
		return false, "no report in either log"
	})
}
