// Package lease is the data node's master write lease: the rule that
// decides whether a master managed by sentinels may take a write. It has
// no I/O, so the node and the deterministic lease simulation (in
// failover's tests) run the same code; it knows nothing of sentinels
// beyond the renewals they send.
package lease

import (
	"slices"
	"strings"
	"time"
)

// Vigil sentinels renew the lease as their liveness probe of the master
// (see the README, "Split-brain safety"): each LEASE RENEW quotes the
// token of the master's previous reply to that sentinel, and the renewal
// grants the lease from the moment that token was sent, not from the
// renewal's arrival. A renewal that sat in a socket buffer (the master
// was frozen, the network slow) therefore cannot stretch the lease past
// what its sentinel saw: the lease ends before the sentinel's down-after,
// measured from when it received that reply, could.

// Lease is a master's write lease: the renewals of the sentinels that
// manage it and the tokens it handed out. The zero value is a lease no
// sentinel ever renewed, under which the node behaves like Redis. Times
// are passed in by the caller and only compared with each other, so the
// node passes monotonic readings and the simulation its virtual clock.
type Lease struct {
	renewed map[string]Renewal
	// tokens holds the token last issued to each sentinel, with when it
	// was sent.
	tokens    map[string]issued
	nextToken int64
	voters    int
	epoch     uint64
	// managed is set once a majority has renewed: from then on an expired
	// lease refuses writes (before, the node behaves like Redis).
	managed bool
	// until is when the lease runs out, recomputed on each renewal, so
	// the check on every write is one comparison.
	until time.Time
}

// Renewal is one sentinel's standing renewal: the lease it granted
// runs from From (when the quoted token was sent) for TTL.
type Renewal struct {
	ID   string
	From time.Time
	TTL  time.Duration
}

// issued is a token handed to a sentinel and when it was sent.
type issued struct {
	n  int64
	at time.Time
}

// State is what a lease allows.
type State int

const (
	// Off: no sentinel ever renewed (or no majority yet): writes go
	// through, as in Redis.
	Off State = iota
	// OK: a majority of the known sentinels renewed in time.
	OK
	// Expired: the lease was in force and ran out: writes are
	// refused.
	Expired
)

// String is the INFO spelling (master_lease:ok|expired|off).
func (s State) String() string {
	switch s {
	case OK:
		return "ok"
	case Expired:
		return "expired"
	}
	return "off"
}

// Renew handles LEASE RENEW from sentinel id quoting token (-1 for none):
// if token is the one last issued to id, the lease is renewed from when
// that token was sent, for ttl, counted among voters known sentinels.
// Either way a fresh token, sent at now, is returned for the reply.
func (l *Lease) Renew(id string, token int64, voters int, ttl time.Duration, epoch uint64, now time.Time) int64 {
	if l.tokens == nil {
		l.tokens = map[string]issued{}
	}
	if t, ok := l.tokens[id]; ok && t.n == token {
		if l.renewed == nil {
			l.renewed = map[string]Renewal{}
		}
		l.renewed[id] = Renewal{ID: id, From: t.at, TTL: ttl}
		l.voters = max(l.voters, voters)
		l.epoch = max(l.epoch, epoch)
		l.recompute()
	}
	l.nextToken++
	l.tokens[id] = issued{n: l.nextToken, at: now}
	return l.nextToken
}

// recompute sets until from the renewals: the lease holds while a
// majority's renewals do, i.e. until the need-th latest expiry.
func (l *Lease) recompute() {
	ends := make([]time.Time, 0, len(l.renewed))
	for _, r := range l.renewed {
		ends = append(ends, r.From.Add(r.TTL))
	}
	need := l.Need()
	if len(ends) < need {
		l.until = time.Time{}
		return
	}
	slices.SortFunc(ends, func(a, b time.Time) int { return b.Compare(a) })
	l.until = ends[need-1]
}

// Reset forgets the renewals (a role change) but not the token numbers:
// a renewal still queued from before must never match a new token.
func (l *Lease) Reset() { *l = Lease{nextToken: l.nextToken} }

// StartTokensAt makes the next token number first+1, so a new process
// (seeded at random) does not reuse the numbers of the one before it.
func (l *Lease) StartTokensAt(first int64) { l.nextToken = first }

// Require makes the lease managed before any renewal: writes are
// refused until a majority of the sentinels renews. For a master that
// sentinels promoted: unmanaged, it would take writes with no lease at
// all if it were cut off before its first renewals.
func (l *Lease) Require() {
	if l.renewed == nil {
		l.renewed = map[string]Renewal{}
	}
	l.managed = true
}

// Status is the lease's state at now and how long it still holds. The
// first call that finds a majority's lease in force makes the lease
// managed (from then on it can expire) and reports started, so the
// caller can log it.
func (l *Lease) Status(now time.Time) (state State, left time.Duration, started bool) {
	if l.renewed == nil {
		return Off, 0, false
	}
	left = l.until.Sub(now)
	if !l.managed {
		if left <= 0 {
			return Off, 0, false
		}
		l.managed = true
		started = true
	}
	if left <= 0 {
		return Expired, 0, started
	}
	return OK, left, started
}

// MayWrite reports whether a master under this lease accepts a write at
// now: unless the lease is expired.
func (l *Lease) MayWrite(now time.Time) bool {
	st, _, _ := l.Status(now)
	return st != Expired
}

// Voters is the largest number of known sentinels a renewal reported;
// Need is the majority of it that must renew.
func (l *Lease) Voters() int { return l.voters }

// Need is how many sentinels must renew for the lease to hold.
func (l *Lease) Need() int { return l.voters/2 + 1 }

// Renewals lists the standing renewals by sentinel id.
func (l *Lease) Renewals() []Renewal {
	out := make([]Renewal, 0, len(l.renewed))
	for _, r := range l.renewed {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Renewal) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Snapshot is a lease in relative terms, for handing it to another
// process (an in-place upgrade) whose clock readings cannot be compared
// with ours: each time is an age in ms at the moment of the snapshot,
// rounded up so the lease can only get shorter on the way.
type Snapshot struct {
	Voters    int                 `json:"voters"`
	Epoch     uint64              `json:"epoch"`
	Managed   bool                `json:"managed"`
	NextToken int64               `json:"next_token"`
	Renewed   map[string][2]int64 `json:"renewed"` // id: age of From, TTL
	Tokens    map[string][2]int64 `json:"tokens"`  // id: token, age
}

// Snapshot describes the lease at now.
func (l *Lease) Snapshot(now time.Time) Snapshot {
	s := Snapshot{Voters: l.voters, Epoch: l.epoch, Managed: l.managed, NextToken: l.nextToken,
		Renewed: map[string][2]int64{}, Tokens: map[string][2]int64{}}
	for id, r := range l.renewed {
		s.Renewed[id] = [2]int64{now.Sub(r.From).Milliseconds() + 1, r.TTL.Milliseconds()}
	}
	for id, t := range l.tokens {
		s.Tokens[id] = [2]int64{t.n, now.Sub(t.at).Milliseconds() + 1}
	}
	return s
}

// Restore rebuilds a lease from a snapshot at now, every age
// lengthened by transit (the time the snapshot took to arrive).
func Restore(s Snapshot, now time.Time, transit time.Duration) Lease {
	l := Lease{voters: s.Voters, epoch: s.Epoch, managed: s.Managed, nextToken: s.NextToken}
	if s.Renewed != nil || s.Managed {
		l.renewed = map[string]Renewal{}
	}
	for id, v := range s.Renewed {
		age := time.Duration(v[0])*time.Millisecond + transit
		l.renewed[id] = Renewal{ID: id, From: now.Add(-age), TTL: time.Duration(v[1]) * time.Millisecond}
	}
	if len(s.Tokens) > 0 {
		l.tokens = map[string]issued{}
	}
	for id, v := range s.Tokens {
		l.tokens[id] = issued{n: v[0], at: now.Add(-(time.Duration(v[1])*time.Millisecond + transit))}
	}
	l.recompute()
	return l
}
