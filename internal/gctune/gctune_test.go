package gctune

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/vigilkv/vigil/internal/testutil"
)

func TestPercent(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		name           string
		live, headroom uint64
		base, want     int
	}{
		{"small heap gets the floor", 4 * mb, 64 * mb, 100, 1600},
		{"large heap keeps the base", 512 * mb, 64 * mb, 100, 100},
		{"at the crossover", 64 * mb, 64 * mb, 100, 100},
		{"rounded up, never below the floor", 3 * mb, 64 * mb, 100, 2134},
		{"empty heap is bounded", 0, 64 * mb, 100, maxPercent},
		{"no floor", 4 * mb, 0, 100, 100},
		{"a higher base wins", 4 * mb, 8 * mb, 300, 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percent(tt.live, tt.headroom, tt.base); got != tt.want {
				t.Errorf("Percent(%d, %d, %d) = %d, want %d", tt.live, tt.headroom, tt.base, got, tt.want)
			}
		})
	}
}

// TestTunerFollowsCollections checks that the floor is re-applied after
// collections as the live heap changes, and that Stop restores the base.
func TestTunerFollowsCollections(t *testing.T) {
	var mu sync.Mutex
	var set []int
	live := uint64(1 << 20)
	tu := New(64<<20, 100, func(p int) int {
		mu.Lock()
		defer mu.Unlock()
		set = append(set, p)
		return 0
	})
	tu.live = func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		return live
	}
	last := func() int {
		mu.Lock()
		defer mu.Unlock()
		if len(set) == 0 {
			return 0
		}
		return set[len(set)-1]
	}
	tu.Start()
	if got := last(); got != 6400 {
		t.Fatalf("after Start GOGC = %d, want 6400", got)
	}
	mu.Lock()
	live = 256 << 20
	mu.Unlock()
	testutil.WaitFor(t, 5*time.Second, "GOGC back to 100 for a large heap", func() (bool, string) { runtime.GC(); return last() == 100, fmt.Sprint("GOGC ", last()) })
	mu.Lock()
	live = 8 << 20
	mu.Unlock()
	testutil.WaitFor(t, 5*time.Second, "GOGC 800 for an 8 MB heap", func() (bool, string) { runtime.GC(); return last() == 800, fmt.Sprint("GOGC ", last()) })
	tu.Stop()
	if got := last(); got != 100 {
		t.Fatalf("after Stop GOGC = %d, want 100", got)
	}
	seen := tu.tuned.Load()
	runtime.GC()
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	if n := tu.tuned.Load(); n != seen {
		t.Errorf("tuned %d more times after Stop", n-seen)
	}
}
