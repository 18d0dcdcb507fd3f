package node

import "testing"

// TestAOFReplicationOffsets checks the map from the AOF's stream
// positions to replication offsets that WAITAOF and REPLCONF FACK use: a
// replica's offset jumps at a full sync (to a lower or a higher value)
// while the AOF's positions run on, and nothing counts as fsynced from a
// full sync until the rewrite after it has finished.
func TestAOFReplicationOffsets(t *testing.T) {
	type step struct {
		feed    int64 // bytes appended to the AOF
		replEnd int64 // the replication offset after them
		jump    int64 // a full sync to this offset first (0: none)
		fsync   bool  // the writer fsyncs everything so far
		rewrite bool  // the rewrite lifting a hold finishes
		want    int64 // fsyncedRepl afterwards
	}
	cases := []struct {
		name  string
		start int64 // replication offset when the AOF starts
		steps []step
	}{
		{"one history", 100, []step{
			{feed: 50, replEnd: 150, want: 100},
			{fsync: true, want: 150},
			{feed: 10, replEnd: 160, fsync: true, want: 160},
		}},
		{"jump down: the old offsets are not claimed", 1000, []step{
			{feed: 500, replEnd: 1500, fsync: true, want: 1500},
			{jump: 40, fsync: true, want: 0},
			{feed: 20, replEnd: 60, fsync: true, want: 0},
			{rewrite: true, want: 60},
			{feed: 5, replEnd: 65, fsync: true, want: 65},
		}},
		{"jump up", 10, []step{
			{feed: 5, replEnd: 15, fsync: true, want: 15},
			{jump: 9000, want: 0},
			{feed: 7, replEnd: 9007, rewrite: true, want: 9000},
			{fsync: true, want: 9007},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{}
			a := &s.aof
			a.init(s)
			a.on = true
			s.repl.offset = tc.start
			a.bufEnd = 0
			a.segs = []aofSeg{{0, tc.start}}
			a.fsyncedRepl = tc.start
			for i, st := range tc.steps {
				a.mu.Lock()
				if st.jump != 0 {
					s.repl.offset = st.jump
					a.markOffset(st.jump)
					a.holdDurable()
					a.rewriteFrom, a.rewriteEpoch = a.bufEnd, a.durableEpoch
				}
				a.mu.Unlock()
				if st.feed > 0 {
					s.repl.offset = st.replEnd
					a.feed(make([]byte, st.feed))
				}
				a.mu.Lock()
				if st.fsync {
					a.synced = a.bufEnd
					a.advanceFsynced(a.synced)
				}
				if st.rewrite && a.durableHold && a.rewriteEpoch == a.durableEpoch {
					a.durableHold = false
					a.advanceFsynced(max(a.rewriteFrom, a.synced))
				}
				got := a.fsyncedRepl
				a.mu.Unlock()
				if got != st.want {
					t.Fatalf("step %d: fsynced offset %d, want %d", i, got, st.want)
				}
			}
		})
	}
}
