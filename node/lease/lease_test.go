package lease

import (
	"testing"
	"time"
)

// TestLease walks one lease through renewals by three sentinels; each
// step renews (or just checks) at a time in ms and expects a state.
func TestLease(t *testing.T) {
	base := time.Unix(1000, 0)
	at := func(ms int64) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	ttl := 500 * time.Millisecond
	var l Lease
	tokens := map[string]int64{}
	for i, step := range []struct {
		ms    int64
		id    string // "" only checks
		stale bool   // quote a wrong token
		want  State
		left  int64 // ms, checked when >= 0
	}{
		{0, "", false, Off, -1},
		{0, "a", false, Off, -1},   // first contact: a token, no renewal
		{100, "a", false, Off, -1}, // renewed from 0, but 1 of 3 is no majority
		{200, "b", false, Off, -1},
		{300, "b", false, OK, 200}, // a: 0..500, b: 200..700: majority until 500
		{400, "a", false, OK, 200}, // a now 100..600, b 200..700: the second latest end counts
		{650, "", false, Expired, 0},
		{700, "c", false, Expired, 0},
		{800, "c", true, Expired, 0}, // a stale token renews nothing
		{900, "c", false, Expired, 0},
		{950, "c", false, Expired, 0}, // c: 900..1400 alone; a's ran out at 900
		{960, "a", false, Expired, 0}, // a's quoted token was sent at 400: 400..900 is over already
		{1000, "a", false, OK, 400},   // a 960..1460, c 900..1400: writes resume, no restart
	} {
		now := at(step.ms)
		if step.id != "" {
			tok := tokens[step.id]
			if _, ok := tokens[step.id]; !ok {
				tok = -1
			}
			if step.stale {
				tok = -7
			}
			tokens[step.id] = l.Renew(step.id, tok, 3, ttl, 1, now)
		}
		st, left, _ := l.Status(now)
		if st != step.want || (step.left >= 0 && left != time.Duration(step.left)*time.Millisecond) {
			t.Fatalf("step %d at %d ms: %v with %v left, want %v with %d ms", i, step.ms, st, left, step.want, step.left)
		}
		if l.MayWrite(now) != (st != Expired) {
			t.Fatalf("step %d: MayWrite disagrees with %v", i, st)
		}
	}
}
