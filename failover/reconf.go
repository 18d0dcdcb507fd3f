package failover

import "time"

// Re-pointing the replicas after a promotion, as Redis Sentinel paces it:
// at most parallel-syncs replicas sync from the new master at once (each
// full sync costs the new master a snapshot and bandwidth, and a syncing
// replica cannot serve reads), the next one starts when one finishes.
// A replica that never shows the new master in its INFO after the
// REPLICAOF is given up after a bound; the whole phase is bounded by
// failover-timeout, after which the remaining replicas are all sent
// REPLICAOF at once (Redis's +failover-end-for-timeout).

// ReconfState is where a replica is in being re-pointed.
type ReconfState int

// The states, in order; each replica only moves forward.
const (
	// ReconfPending: not sent REPLICAOF yet.
	ReconfPending ReconfState = iota
	// ReconfSent: REPLICAOF sent, its INFO does not name the new master
	// yet (Redis's +slave-reconf-sent).
	ReconfSent
	// ReconfInProgress: its INFO names the new master, the sync is not
	// done (+slave-reconf-inprog).
	ReconfInProgress
	// ReconfDone: master_link_status:up with the new master
	// (+slave-reconf-done), or given up.
	ReconfDone
)

// ReconfReplica is what the leader knows of one replica to re-point.
type ReconfReplica struct {
	State ReconfState
	// SinceSent is how long ago REPLICAOF was sent (Sent, InProgress).
	SinceSent time.Duration
	// Down: subjectively down or disconnected. A down replica is not sent
	// REPLICAOF and does not hold up the others; it is re-pointed when it
	// returns.
	Down bool
}

// ReconfParams bound the phase.
type ReconfParams struct {
	ParallelSyncs int
	// SentTimeout bounds ReconfSent (Redis: 10 s).
	SentTimeout time.Duration
	// FailoverTimeout bounds the whole phase; Elapsed is its age.
	FailoverTimeout, Elapsed time.Duration
}

// ReconfPlan is what to do now.
type ReconfPlan struct {
	// Send are the replicas (indexes) to send REPLICAOF now.
	Send []int
	// TimedOut are sent replicas given up on (they count as done).
	TimedOut []int
	// EndForTimeout: the phase ran past failover-timeout; Send holds every
	// replica not done yet (in flight or pending, down or not), a last
	// best-effort REPLICAOF.
	EndForTimeout bool
	// Finished: no replica is left to wait for; the failover ends.
	Finished bool
}

// NextReconf decides which replicas to re-point next. rs is in a stable
// order (the caller's, by address): replicas are started in that order.
func NextReconf(rs []ReconfReplica, p ReconfParams) ReconfPlan {
	var plan ReconfPlan
	if p.Elapsed > p.FailoverTimeout {
		plan.EndForTimeout, plan.Finished = true, true
		for i, r := range rs {
			if r.State != ReconfDone {
				plan.Send = append(plan.Send, i)
			}
		}
		return plan
	}
	parallel := max(p.ParallelSyncs, 1)
	inFlight := 0
	for i, r := range rs {
		switch {
		case r.State == ReconfSent && r.SinceSent > p.SentTimeout:
			plan.TimedOut = append(plan.TimedOut, i)
		case (r.State == ReconfSent || r.State == ReconfInProgress) && !r.Down:
			inFlight++
		}
	}
	waiting := inFlight
	for i, r := range rs {
		if r.State != ReconfPending || r.Down {
			continue
		}
		if inFlight < parallel {
			plan.Send = append(plan.Send, i)
			inFlight++
		}
		waiting++
	}
	plan.Finished = waiting == 0
	return plan
}
