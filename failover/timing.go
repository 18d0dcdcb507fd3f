package failover

import "time"

// When a sentinel stands for election. Redis Sentinel waits a fixed
// 2 x failover-timeout after a failed attempt; when every sentinel sees
// the master down at the same moment they may all stand at once, each
// voting for itself, and a fixed wait would make them collide again.
// Here every wait is random, drawn from the caller's source (seeded in
// the simulation, so runs are reproducible), and a candidate whose
// election is decided against it (Defeated) stops waiting for its
// deadline: after a split the retry windows double with each failed
// attempt, so collisions become rarer while a candidate that keeps
// failing (a minority partition) bumps the epoch less and less often; a
// candidate beaten by a rival yields to it.

// Rand is the randomness the timing draws from; math/rand/v2's *Rand
// has this method.
type Rand interface {
	Int64N(n int64) int64
}

// ElectionTiming holds the bounds of the random delays of elections.
type ElectionTiming struct {
	// Desync bounds the delay between seeing the master objectively
	// down and the first attempt, so that sentinels that saw it at the
	// same moment usually do not stand at the same moment.
	Desync time.Duration
	// RetryBase is the window of the first retry; each further failed
	// attempt doubles it, up to RetryMax. A retry waits between half the
	// window and the window.
	RetryBase, RetryMax time.Duration
	// Yield and YieldJitter: after a vote request for a new epoch from
	// another candidate, a sentinel does not stand itself for Yield plus
	// up to YieldJitter, leaving that candidate time to fail over.
	Yield, YieldJitter time.Duration
}

// DefaultElectionTiming is the timing vigil-sentinel uses for a group
// with the given failover-timeout.
func DefaultElectionTiming(failoverTimeout time.Duration) ElectionTiming {
	return ElectionTiming{
		Desync:      100 * time.Millisecond,
		RetryBase:   200 * time.Millisecond,
		RetryMax:    max(200*time.Millisecond, failoverTimeout/2),
		Yield:       2 * time.Second,
		YieldJitter: time.Second,
	}
}

// FirstAttempt is the delay from objective down to the first attempt.
func (t ElectionTiming) FirstAttempt(r Rand) time.Duration {
	return jitter(r, t.Desync)
}

// Retry is the delay before the next attempt after failed failed
// attempts in a row (1 after the first).
func (t ElectionTiming) Retry(failed int, r Rand) time.Duration {
	w := t.RetryBase
	for i := 1; i < failed && w < t.RetryMax; i++ {
		w *= 2
	}
	w = min(w, t.RetryMax)
	return w/2 + jitter(r, w-w/2)
}

// YieldTo is how long a sentinel leaves another candidate before
// standing itself.
func (t ElectionTiming) YieldTo(r Rand) time.Duration {
	return t.Yield + jitter(r, t.YieldJitter)
}

// jitter is uniform in [0, d).
func jitter(r Rand, d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(r.Int64N(int64(d)))
}

// Defeat is how an open election stands for a candidate that has not
// won it.
type Defeat int

const (
	// Open: the candidate may still win, or a rival may: it waits for
	// the missing answers or its election's deadline.
	Open Defeat = iota
	// Split: no candidate can reach the votes it needs any more. The
	// candidate retries soon (after Retry) instead of waiting for its
	// deadline.
	Split
	// Beaten: a rival has the votes it needs and is failing over. The
	// candidate leaves it time (YieldTo): standing again at once would
	// start a second failover at a higher epoch, promoting a second
	// replica while the first promotion spreads.
	Beaten
)

// Defeated tells how the election whose votes (voter -> candidate,
// self's own included; "" for a voter that answered without voting in
// this epoch) candidate self has received so far stands, among voters
// known sentinels, when self has not won it: a candidate needs a majority
// of voters and at least quorum votes, and every sentinel that has not
// answered yet may still vote for anyone.
func Defeated(votes map[string]string, voters, quorum int, self string) Defeat {
	need := votesNeeded(voters, quorum)
	pending := max(voters-len(votes), 0)
	count := countVotes(votes)
	for c, n := range count {
		if c != self && n >= need {
			return Beaten
		}
	}
	if count[self]+pending >= need {
		return Open
	}
	for _, n := range count {
		if n+pending >= need {
			return Open // a rival may still win: wait and see
		}
	}
	return Split
}

// AfterDefeat is how long a candidate whose election ended in d (Split,
// Beaten, or Open at its deadline) waits before standing again, after
// failed failed attempts in a row.
func (t ElectionTiming) AfterDefeat(d Defeat, failed int, r Rand) time.Duration {
	if d == Beaten {
		return t.YieldTo(r)
	}
	return t.Retry(failed, r)
}
