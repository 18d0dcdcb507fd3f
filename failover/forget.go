package failover

import (
	"sort"
	"time"
)

// Forgetting (forget-after): a replica or a sentinel unreachable for
// longer than forget-after is dropped from what a sentinel knows, as
// SENTINEL RESET would drop it, so dead members do not accumulate. Off by
// default: every sentinel forgotten shrinks the electorate (the majority a
// leader needs), and sentinels that forget at different moments disagree
// about it for a while.

// Absent is a known member (a replica's address, a sentinel's id) that
// is unreachable now, and how long it has been.
type Absent struct {
	ID  string
	For time.Duration
}

// ForgetParams are what the decision depends on besides the members.
type ForgetParams struct {
	// After is forget-after; 0 turns forgetting off.
	After time.Duration
	// Busy: an election or a failover is under way (for replicas: in
	// their group; for sentinels: in any group), or the sentinel is in
	// TILT. The electorate and the candidate replicas must not change
	// under an election, and in TILT every measured time is suspect.
	Busy bool
}

// ForgetReplicas returns, sorted, the replicas to forget: those
// unreachable for longer than p.After, unless forgetting is off or busy.
func ForgetReplicas(absent []Absent, p ForgetParams) []string {
	if p.After <= 0 || p.Busy {
		return nil
	}
	return expired(absent, p.After)
}

// ForgetSentinels returns, sorted, the sentinels to forget: as
// ForgetReplicas, and only while this sentinel reaches a majority of the
// known sentinels (alive and voters both count itself). On the minority
// side of a partition every sentinel across it looks dead: forgetting
// them would let the minority make itself a majority and elect a leader
// of its own. On the majority side, forgetting the unreachable ones
// leaves the alive ones a majority of the smaller electorate.
func ForgetSentinels(absent []Absent, alive, voters int, p ForgetParams) []string {
	if p.After <= 0 || p.Busy || alive < voters/2+1 {
		return nil
	}
	return expired(absent, p.After)
}

func expired(absent []Absent, after time.Duration) []string {
	var out []string
	for _, a := range absent {
		if a.For > after {
			out = append(out, a.ID)
		}
	}
	sort.Strings(out)
	return out
}
