package sentinel

import (
	"net"
	"testing"
	"time"

	"github.com/vigilkv/vigil/internal/resp"
)

// SENTINEL FAILOVER answers NOGOODSLAVE, as Redis Sentinel does, when no
// replica could be promoted: none known, the one known dead (a killed
// replica stops answering PING) or never to be promoted; a replica left
// out only because its INFO is old still counts (the failover polls it
// before choosing), and so does a healthy one.
func TestFailoverCommandNeedsAGoodReplica(t *testing.T) {
	s, _ := runTestSentinel(t, Group{Name: "m", Host: "127.0.0.1", Port: freePort(t), Quorum: 2, DownAfter: time.Second, FailoverTimeout: time.Hour})
	const noGood = "-NOGOODSLAVE No suitable replica to promote\r\n"
	for _, tc := range []struct {
		name    string
		replica func(r *instance, now time.Time) // nil: no replica
		want    string
	}{
		{"no replica", nil, noGood},
		{"replica dead", func(r *instance, now time.Time) { r.lastOK = now.Add(-time.Minute) }, noGood},
		{"replica with priority 0", func(r *instance, now time.Time) { r.priority = 0 }, noGood},
		{"replica never reached", func(r *instance, now time.Time) { r.lastOK = time.Time{} }, noGood},
		{"replica with an old INFO", func(r *instance, now time.Time) { r.infoTime = now.Add(-time.Hour) }, "+OK\r\n"},
		{"healthy replica", func(r *instance, now time.Time) {}, "+OK\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.mu.Lock()
			g := s.grps["m"]
			g.forced = false
			clear(g.replicas)
			if tc.replica != nil {
				now := time.Now()
				r := s.newInstance("127.0.0.1", freePort(t), g)
				t.Cleanup(func() { r.client.Close() })
				r.role, r.runID, r.priority, r.lastOK, r.infoTime = "slave", "0123", 100, now, now
				tc.replica(r, now)
				g.replicas[r.addr()] = r
			}
			s.mu.Unlock()
			server, client := net.Pipe()
			defer client.Close()
			c := &conn{s: s, nc: server, proto: 2, channels: map[string]bool{}, patterns: map[string]bool{}}
			w := resp.NewWriter()
			c.exec(w, [][]byte{[]byte("SENTINEL"), []byte("FAILOVER"), []byte("m")})
			if got := string(w.Buf); got != tc.want {
				t.Fatalf("SENTINEL FAILOVER: %q, want %q", got, tc.want)
			}
			s.mu.Lock()
			forced := g.forced
			g.forced = false
			clear(g.replicas)
			s.mu.Unlock()
			if forced != (tc.want == "+OK\r\n") {
				t.Fatalf("failover forced: %v after %q", forced, tc.want)
			}
		})
	}
}
