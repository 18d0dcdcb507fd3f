package failover

import (
	"slices"
	"testing"
	"time"
)

func TestNextReconf(t *testing.T) {
	const s = time.Second
	pending := ReconfReplica{State: ReconfPending}
	sent := ReconfReplica{State: ReconfSent, SinceSent: s}
	inprog := ReconfReplica{State: ReconfInProgress, SinceSent: 20 * s}
	done := ReconfReplica{State: ReconfDone}
	down := func(r ReconfReplica) ReconfReplica { r.Down = true; return r }
	params := func(parallel int) ReconfParams {
		return ReconfParams{ParallelSyncs: parallel, SentTimeout: 10 * s, FailoverTimeout: 60 * s, Elapsed: 5 * s}
	}
	tests := []struct {
		name string
		rs   []ReconfReplica
		p    ReconfParams
		want ReconfPlan
	}{
		{"no replicas: finished at once", nil, params(1), ReconfPlan{Finished: true}},
		{"parallel 1 starts the first only", []ReconfReplica{pending, pending}, params(1), ReconfPlan{Send: []int{0}}},
		{"parallel 2 starts two of three", []ReconfReplica{pending, pending, pending}, params(2), ReconfPlan{Send: []int{0, 1}}},
		{"parallel 0 behaves as 1", []ReconfReplica{pending, pending}, params(0), ReconfPlan{Send: []int{0}}},
		{"one sent: the next waits", []ReconfReplica{sent, pending}, params(1), ReconfPlan{}},
		{"one syncing: the next waits", []ReconfReplica{inprog, pending}, params(1), ReconfPlan{}},
		{"one done: the next starts", []ReconfReplica{done, pending}, params(1), ReconfPlan{Send: []int{1}}},
		{"all done: finished", []ReconfReplica{done, done}, params(1), ReconfPlan{Finished: true}},
		{"a down pending replica is skipped", []ReconfReplica{down(pending), pending}, params(1), ReconfPlan{Send: []int{1}}},
		{"only down replicas left: finished", []ReconfReplica{done, down(pending)}, params(1), ReconfPlan{Finished: true}},
		{"a replica down while syncing does not hold the others", []ReconfReplica{down(inprog), pending}, params(1), ReconfPlan{Send: []int{1}}},
		{"sent too long ago: given up, the next starts",
			[]ReconfReplica{{State: ReconfSent, SinceSent: 11 * s}, pending}, params(1), ReconfPlan{Send: []int{1}, TimedOut: []int{0}}},
		{"sent timeout given up, nothing left: finished",
			[]ReconfReplica{done, {State: ReconfSent, SinceSent: 11 * s}}, params(1), ReconfPlan{TimedOut: []int{1}, Finished: true}},
		{"a long sync is not a sent timeout", []ReconfReplica{{State: ReconfInProgress, SinceSent: 50 * s}, pending}, params(1), ReconfPlan{}},
		{"failover-timeout: every replica not done is sent, finished",
			[]ReconfReplica{done, inprog, pending, down(pending)},
			ReconfParams{ParallelSyncs: 1, SentTimeout: 10 * s, FailoverTimeout: 60 * s, Elapsed: 61 * s},
			ReconfPlan{Send: []int{1, 2, 3}, EndForTimeout: true, Finished: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NextReconf(tt.rs, tt.p)
			if !slices.Equal(got.Send, tt.want.Send) || !slices.Equal(got.TimedOut, tt.want.TimedOut) ||
				got.EndForTimeout != tt.want.EndForTimeout || got.Finished != tt.want.Finished {
				t.Fatalf("NextReconf = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestNextReconfNeverExceedsParallel runs the phase to its end with
// replicas that finish in varying order and checks that no more than
// parallel-syncs are ever in flight and every replica is sent once.
func TestNextReconfNeverExceedsParallel(t *testing.T) {
	for parallel := 1; parallel <= 4; parallel++ {
		for n := 0; n <= 6; n++ {
			rs := make([]ReconfReplica, n)
			sends := make([]int, n)
			for step := 0; step < 100; step++ {
				plan := NextReconf(rs, ReconfParams{ParallelSyncs: parallel, SentTimeout: time.Hour, FailoverTimeout: time.Hour})
				for _, i := range plan.Send {
					rs[i].State = ReconfSent
					sends[i]++
				}
				inFlight := 0
				for _, r := range rs {
					if r.State == ReconfSent || r.State == ReconfInProgress {
						inFlight++
					}
				}
				if inFlight > parallel {
					t.Fatalf("parallel %d, %d replicas: %d in flight", parallel, n, inFlight)
				}
				if plan.Finished {
					break
				}
				// Advance one replica in flight (the one chosen by step, so
				// the order varies).
				var flying []int
				for i, r := range rs {
					if r.State == ReconfSent || r.State == ReconfInProgress {
						flying = append(flying, i)
					}
				}
				if len(flying) > 0 {
					rs[flying[step%len(flying)]].State++
				}
			}
			for i, c := range sends {
				if c != 1 || rs[i].State != ReconfDone {
					t.Fatalf("parallel %d, %d replicas: replica %d sent %d times, state %d", parallel, n, i, c, rs[i].State)
				}
			}
		}
	}
}
