package sentinel

import (
	"fmt"
	"testing"
	"time"
)

// While it sees the master down, a sentinel names it only if enough
// peers to make a majority with it said recently that they see it down
// too; a peer's answer older than a ping period, or from a sentinel it
// no longer knows, does not count. The e2e test TestIsolatedSentinel
// shows why, with a real partition.
func TestConfirmedByMajority(t *testing.T) {
	now := time.Now()
	fresh, stale := now.Add(-100*time.Millisecond), now.Add(-2*debugParams[paramPing].def)
	for _, tc := range []struct {
		name  string
		peers int
		sdown bool
		votes map[string]time.Time
		want  bool
	}{
		{"master up, nobody answered", 2, false, nil, true},
		{"down, alone", 2, true, nil, false},
		{"down, one of two peers agrees", 2, true, map[string]time.Time{"p0": fresh}, true},
		{"down, the agreement is old", 2, true, map[string]time.Time{"p0": stale}, false},
		{"down, from a forgotten sentinel", 2, true, map[string]time.Time{"gone": fresh}, false},
		{"five sentinels, one agrees", 4, true, map[string]time.Time{"p0": fresh}, false},
		{"five sentinels, two agree", 4, true, map[string]time.Time{"p0": fresh, "p3": fresh}, true},
		{"no peers", 0, true, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Sentinel{st: &persisted{MyID: "me", Peers: map[string]string{}}}
			for i := 0; i < tc.peers; i++ {
				s.st.Peers[fmt.Sprint("p", i)] = fmt.Sprint("127.0.0.1:", 26380+i)
			}
			g := &group{downVotes: tc.votes}
			if tc.sdown {
				g.sdownSince = now.Add(-time.Second)
			}
			if got := s.confirmedByMajority(g, now); got != tc.want {
				t.Fatalf("confirmedByMajority = %v, want %v", got, tc.want)
			}
		})
	}
}
