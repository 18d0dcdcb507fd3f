package failover

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestDefeated(t *testing.T) {
	for _, tc := range []struct {
		name           string
		votes          map[string]string
		voters, quorum int
		want           Defeat
	}{
		{"only our vote so far", map[string]string{"a": "a"}, 3, 2, Open},
		{"a three-way split", map[string]string{"a": "a", "b": "b", "c": "c"}, 3, 2, Split},
		{"one against, one pending", map[string]string{"a": "a", "b": "b"}, 3, 2, Open},
		{"won", map[string]string{"a": "a", "b": "a"}, 3, 2, Open},
		{"five: two against, two pending", map[string]string{"a": "a", "b": "b", "c": "c"}, 5, 2, Open},
		{"five: three against, one pending", map[string]string{"a": "a", "b": "b", "c": "c", "d": "b"}, 5, 2, Open},
		{"five: four against, split", map[string]string{"a": "a", "b": "b", "c": "c", "d": "b", "e": "c"}, 5, 2, Split},
		{"quorum above the majority", map[string]string{"a": "a", "b": "a", "c": "c"}, 3, 3, Split},
		{"one for another, one refused", map[string]string{"a": "a", "b": "b", "c": ""}, 3, 2, Split},
		{"one refused, one pending", map[string]string{"a": "a", "c": ""}, 3, 2, Open},
		{"more votes than known voters", map[string]string{"a": "a", "b": "b", "c": "c", "d": "d"}, 3, 2, Split},
		{"beaten", map[string]string{"a": "a", "b": "b", "c": "b"}, 3, 2, Beaten},
		{"five: beaten", map[string]string{"a": "a", "b": "b", "c": "b", "d": "b"}, 5, 3, Beaten},
		{"five: beaten with answers pending", map[string]string{"a": "a", "b": "b", "c": "b", "d": "b"}, 5, 2, Beaten},
		// We cannot win, but the rival may with the last answer: standing
		// again now could start a second failover beside its.
		{"five: a rival may still win", map[string]string{"a": "a", "b": "b", "c": "b", "d": ""}, 5, 3, Open},
		{"five: no one can win", map[string]string{"a": "a", "b": "b", "c": "b", "d": "", "e": ""}, 5, 3, Split},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Defeated(tc.votes, tc.voters, tc.quorum, "a"); got != tc.want {
				t.Fatalf("Defeated = %v, want %v", got, tc.want)
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
