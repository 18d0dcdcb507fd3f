package failover

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Replica is what a sentinel knows of one replica when choosing the one
// to promote.
type Replica struct {
	Addr     string // ip:port, for messages
	RunID    string // from INFO; "" if not known yet
	Priority int    // replica-priority; 0 never promotes
	Offset   int64  // slave_repl_offset
	// Down is set while the replica is subjectively or objectively down;
	// Disconnected while the sentinel has no link to it.
	Down, Disconnected bool
	// SincePingReply is how long ago it last answered PING validly;
	// InfoAge how old its last INFO is.
	SincePingReply, InfoAge time.Duration
	// MasterLinkDown is its master_link_down_since_seconds (0 while up).
	MasterLinkDown time.Duration
}

// Params are the monitoring settings the choice depends on.
type Params struct {
	PingPeriod time.Duration // 1 s in Redis
	InfoPeriod time.Duration // 10 s in Redis
	DownAfter  time.Duration // down-after-milliseconds
	// MasterDown is how long the master has been subjectively down
	// (0 if it is not).
	MasterDown time.Duration
}

// Exclusion says why a replica cannot be promoted.
type Exclusion struct {
	Addr   string
	Reason string
	// StaleInfo is set when the only reason is an INFO too old: a fresh
	// one may qualify the replica (see AwaitFreshInfo).
	StaleInfo bool
}

// AwaitFreshInfo reports whether the leader should wait before choosing
// a replica (instead of choosing among the others, or aborting with
// -failover-abort-no-good-slave): some replica was excluded only because
// its INFO is too old, and the leader has waited less than bound since
// it began the choice. A vigil sentinel polls INFO fast once the master
// is down, but an election can end before that poll (within 100 ms of
// +sdown), and choosing without a replica's current offset could promote
// one that lags.
func AwaitFreshInfo(excluded []Exclusion, waited, bound time.Duration) bool {
	return waited < bound && InfoPending(excluded)
}

// InfoPending reports whether some replica was excluded only because its
// INFO is too old, so that a fresh one may qualify it.
func InfoPending(excluded []Exclusion) bool {
	return slices.ContainsFunc(excluded, func(e Exclusion) bool { return e.StaleInfo })
}

func (e Exclusion) String() string { return e.Addr + ": " + e.Reason }

// SelectReplica picks the replica to promote: of those not excluded, the
// lowest priority, then the highest replication offset, then the smallest
// run id. It returns -1 when none qualifies, and every exclusion with its
// reason (for -failover-abort-no-good-slave and the logs).
func SelectReplica(replicas []Replica, p Params) (int, []Exclusion) {
	var excluded []Exclusion
	var good []int
	infoValidity := 3 * p.InfoPeriod
	if p.MasterDown > 0 {
		// While the master is down INFO is refreshed every ping period.
		infoValidity = 5 * p.PingPeriod
	}
	maxLinkDown := p.MasterDown + 10*p.DownAfter
	for i, r := range replicas {
		reason, stale := "", false
		switch {
		case r.Down:
			reason = "down"
		case r.Disconnected:
			reason = "disconnected"
		case r.SincePingReply > 5*p.PingPeriod:
			reason = fmt.Sprintf("no valid PING reply for %v", r.SincePingReply.Round(time.Millisecond))
		case r.Priority == 0:
			reason = "replica-priority 0"
		case r.InfoAge > infoValidity:
			reason, stale = fmt.Sprintf("INFO %v old", r.InfoAge.Round(time.Millisecond)), true
		case r.MasterLinkDown > maxLinkDown:
			reason = fmt.Sprintf("disconnected from the master for %v", r.MasterLinkDown.Round(time.Second))
		}
		if reason != "" {
			excluded = append(excluded, Exclusion{Addr: r.Addr, Reason: reason, StaleInfo: stale})
			continue
		}
		good = append(good, i)
	}
	if len(good) == 0 {
		return -1, excluded
	}
	slices.SortStableFunc(good, func(a, b int) int { return compareReplicas(replicas[a], replicas[b]) })
	return good[0], excluded
}

// compareReplicas orders candidates, best first.
func compareReplicas(a, b Replica) int {
	if a.Priority != b.Priority {
		return a.Priority - b.Priority
	}
	if a.Offset != b.Offset {
		if a.Offset > b.Offset {
			return -1
		}
		return 1
	}
	// An unknown run id sorts last.
	switch {
	case a.RunID == "" && b.RunID == "":
		return 0
	case a.RunID == "":
		return 1
	case b.RunID == "":
		return -1
	}
	return strings.Compare(a.RunID, b.RunID)
}
