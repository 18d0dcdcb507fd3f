package testutil

import (
	"testing"
	"time"
)

// WaitFor polls cond until it holds, failing t after d. cond returns
// whether it holds and, if not, a description of what it saw, which the
// failure reports.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last state: %s", what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
