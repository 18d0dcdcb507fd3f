package sentinel

import (
	"testing"
	"time"

	"go.uber.org/zap"
)

// A sentinel that voted for another candidate and then sees the master
// objectively down keeps the delay the vote set, so it does not start a
// competing election while the leader's failover runs.
func TestODownKeepsTheDelayAfterAVote(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name        string
		nextAttempt time.Time
		wantAfter   time.Time
	}{
		{"after a vote", now.Add(2 * time.Second), now.Add(2 * time.Second)},
		{"no vote", time.Time{}, now},
		{"stale attempt", now.Add(-time.Minute), now},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Sentinel{log: zap.NewNop(), subs: newPubsub(), peers: map[string]*peer{},
				st: &persisted{MyID: "me", Groups: map[string]*groupConfig{}, Peers: map[string]string{}}}
			g := &group{cfg: Group{Name: "m", Quorum: 1, DownAfter: time.Second},
				master:   &instance{host: "127.0.0.1", port: 1, lastOK: now.Add(-2 * time.Second)},
				replicas: map[string]*instance{}, downVotes: map[string]time.Time{}, nextAttempt: tc.nextAttempt}
			s.checkDown(g, now)
			if !g.odown {
				t.Fatal("the master is not objectively down")
			}
			if g.nextAttempt.Before(tc.wantAfter) || g.nextAttempt.After(tc.wantAfter.Add(100*time.Millisecond)) {
				t.Fatalf("next attempt in %v, want %v (+ up to 100 ms)", g.nextAttempt.Sub(now), tc.wantAfter.Sub(now))
			}
		})
	}
}
