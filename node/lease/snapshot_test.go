package lease

import (
	"testing"
	"time"
)

func TestLeaseSnapshotRoundTrip(t *testing.T) {
	t0 := time.Unix(1000, 0)
	cases := []struct {
		name    string
		setup   func(l *Lease)
		transit time.Duration
		// the state at t0+at in the restored lease
		at   time.Duration
		want State
	}{
		{"never renewed", func(l *Lease) {}, 0, 0, Off},
		{"held, read at once", func(l *Lease) { renewAll(l, t0) }, 0, 100 * time.Millisecond, OK},
		{"runs out no later than the original", func(l *Lease) { renewAll(l, t0) }, 0, 600 * time.Millisecond, Expired},
		{"transit shortens it", func(l *Lease) { renewAll(l, t0) }, 450 * time.Millisecond, 100 * time.Millisecond, Expired},
		{"required before any renewal", func(l *Lease) { l.Require() }, 0, 0, Expired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var l Lease
			tc.setup(&l)
			snap := l.Snapshot(t0)
			// The new process reads its own clock; only ages carry over.
			t1 := time.Unix(5000, 0)
			r := Restore(snap, t1, tc.transit)
			got, _, _ := r.Status(t1.Add(tc.at))
			if got != tc.want {
				t.Errorf("state %v, want %v", got, tc.want)
			}
			if r.Voters() != l.Voters() {
				t.Errorf("voters %d, want %d", r.Voters(), l.Voters())
			}
		})
	}
}

// renewAll has three sentinels renew a 500 ms lease with tokens sent at
// now.
func renewAll(l *Lease, now time.Time) {
	for _, id := range []string{"a", "b", "c"} {
		tok := l.Renew(id, -1, 3, 500*time.Millisecond, 1, now)
		l.Renew(id, tok, 3, 500*time.Millisecond, 1, now)
	}
	l.Status(now) // in force: managed from now on
}
