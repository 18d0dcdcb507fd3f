package failover

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestLost(t *testing.T) {
	for _, tc := range []struct {
		name           string
		votes          map[string]string
		voters, quorum int
		lost           bool
	}{
		{"only our vote so far", map[string]string{"a": "a"}, 3, 2, false},
		{"a three-way split", map[string]string{"a": "a", "b": "b", "c": "c"}, 3, 2, true},
		{"one against, one pending", map[string]string{"a": "a", "b": "b"}, 3, 2, false},
		{"won", map[string]string{"a": "a", "b": "a"}, 3, 2, false},
		{"five: two against, two pending", map[string]string{"a": "a", "b": "b", "c": "c"}, 5, 2, false},
		{"five: three against", map[string]string{"a": "a", "b": "b", "c": "c", "d": "b"}, 5, 2, true},
		{"quorum above the majority", map[string]string{"a": "a", "b": "a", "c": "c"}, 3, 3, true},
		{"one for another, one refused", map[string]string{"a": "a", "b": "b", "c": ""}, 3, 2, true},
		{"one refused, one pending", map[string]string{"a": "a", "c": ""}, 3, 2, false},
		{"more votes than known voters", map[string]string{"a": "a", "b": "b", "c": "c", "d": "d"}, 3, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Lost(tc.votes, tc.voters, tc.quorum, "a"); got != tc.lost {
				t.Fatalf("Lost = %v, want %v", got, tc.lost)
			}
		})
	}
}

func TestElectionTimingBounds(t *testing.T) {
	tm := DefaultElectionTiming(10 * time.Second)
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name     string
		draw     func() time.Duration
		min, max time.Duration
	}{
		{"first attempt", func() time.Duration { return tm.FirstAttempt(r) }, 0, 100 * time.Millisecond},
		{"first retry", func() time.Duration { return tm.Retry(1, r) }, 100 * time.Millisecond, 200 * time.Millisecond},
		{"third retry", func() time.Duration { return tm.Retry(3, r) }, 400 * time.Millisecond, 800 * time.Millisecond},
		{"capped", func() time.Duration { return tm.Retry(40, r) }, 2500 * time.Millisecond, 5 * time.Second},
		{"yield", func() time.Duration { return tm.YieldTo(r) }, 2 * time.Second, 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := 0; i < 1000; i++ {
				if d := tc.draw(); d < tc.min || d >= tc.max {
					t.Fatalf("%v outside [%v, %v)", d, tc.min, tc.max)
				}
			}
		})
	}
}
