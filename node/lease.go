package node

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The master lease (split-brain safety). Vigil sentinels renew it as their
// liveness probe of the master: LEASE RENEW <sentinel-id> <known
// sentinels> <lease-ms> <config-epoch> [<token>]. Each reply carries a
// fresh token; a renewal quoting the token grants the lease from the
// moment that token was sent, not from the renewal's arrival. So a
// renewal that sat in a socket buffer (the master was frozen, the network
// slow) cannot stretch the lease past what its sentinel saw: the lease
// ends before the sentinel's down-after measured from that reply could.
// A managed master accepts writes
// only while a majority of the sentinels it knows of renewed within their
// lease; the lease is shorter than down-after, so it has run out before
// any sentinel that renewed it can see the master down, and a vigil
// sentinel only votes while it sees the master down. Arrival times are
// monotonic (time.Now carries a monotonic reading), so a wall clock jump
// changes nothing, and a master that was frozen finds its lease expired
// the instant it wakes up. A node no vigil sentinel ever renewed behaves
// like Redis; master-lease no turns the check off.

type leaseState struct {
	renewed map[string]leaseRenewal
	voters  int
	epoch   uint64
	// tokens issued to each sentinel, with when they were sent.
	tokens    map[string]leaseToken
	nextToken int64
	// managed is set once a majority has renewed: from then on an expired
	// lease refuses writes (before, the node behaves like Redis).
	managed bool
	// until is when the lease runs out, recomputed on each renewal, so the
	// check on every write is one monotonic-clock comparison.
	until time.Time
}

// recompute sets until from the renewals: the lease holds while a
// majority's renewals do, i.e. until the need-th latest expiry.
func (l *leaseState) recompute() {
	ends := make([]time.Time, 0, len(l.renewed))
	for _, r := range l.renewed {
		ends = append(ends, r.at.Add(r.ttl))
	}
	need := l.voters/2 + 1
	if len(ends) < need {
		l.until = time.Time{}
		return
	}
	sort.Slice(ends, func(i, j int) bool { return ends[i].After(ends[j]) })
	l.until = ends[need-1]
}

type leaseToken struct {
	n  int64
	at time.Time
}

type leaseRenewal struct {
	at  time.Time
	ttl time.Duration
}

func leaseCommands() []*Command {
	return []*Command{
		{Name: "lease", Arity: -2, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagFast, Categories: []string{"admin", "fast"}, Group: "server", Since: "vigil",
			Summary: "Renew or show the master write lease (sent by vigil sentinels)", Complexity: "O(1)", Handler: cmdLease},
	}
}

func cmdLease(c *Ctx) {
	s := c.Srv
	l := &s.lease
	switch {
	case c.ArgIs(1, "renew") && (len(c.Args) == 6 || len(c.Args) == 7):
		voters, ok1 := ParseInt(c.Args[3])
		ms, ok2 := ParseInt(c.Args[4])
		epoch, ok3 := ParseInt(c.Args[5])
		token := int64(-1)
		ok4 := true
		if len(c.Args) == 7 {
			token, ok4 = ParseInt(c.Args[6])
		}
		if !ok1 || !ok2 || !ok3 || !ok4 || voters < 1 || ms < 1 || epoch < 0 {
			c.Error("ERR LEASE RENEW <sentinel-id> <known-sentinels> <lease-ms> <config-epoch> [<token>]")
			return
		}
		if s.repl.isReplica() {
			c.Error("ERR LEASE RENEW sent to a replica")
			return
		}
		id := c.Str(2)
		if l.tokens == nil {
			l.tokens = map[string]leaseToken{}
		}
		if t, ok := l.tokens[id]; ok && t.n == token {
			if l.renewed == nil {
				l.renewed = map[string]leaseRenewal{}
			}
			l.renewed[id] = leaseRenewal{at: t.at, ttl: time.Duration(ms) * time.Millisecond}
			l.voters = max(l.voters, int(voters))
			l.epoch = max(l.epoch, uint64(epoch))
			l.recompute()
		}
		l.nextToken++
		l.tokens[id] = leaseToken{n: l.nextToken, at: time.Now()}
		c.W.Int(l.nextToken)
	case c.ArgIs(1, "info") && len(c.Args) == 2:
		state, remaining := s.leaseStatus()
		c.W.Array(2)
		c.W.BulkString(state)
		c.W.Int(remaining.Milliseconds())
	default:
		c.Error("ERR unknown LEASE subcommand or wrong number of arguments")
	}
}

// leaseStatus is ok, expired or off, and how long the lease still holds.
func (s *Server) leaseStatus() (string, time.Duration) {
	l := &s.lease
	if !s.cfg.MasterLease || l.renewed == nil || s.repl.isReplica() {
		return "off", 0
	}
	left := time.Until(l.until)
	if !l.managed {
		if left <= 0 {
			return "off", 0
		}
		l.managed = true
		s.log.Info("master lease in force: a majority of the sentinels renewed it")
	}
	if left <= 0 {
		return "expired", 0
	}
	return "ok", left
}

// leaseRefusal refuses writes on a managed master whose lease expired.
func (s *Server) leaseRefusal() string {
	if state, _ := s.leaseStatus(); state == "expired" {
		return fmt.Sprintf("NOLEASE This master's write lease expired: fewer than %d of its %d sentinels renewed it in time, so it may have been replaced", s.lease.voters/2+1, s.lease.voters)
	}
	return ""
}

// resetLease forgets the renewals (on a role change).
func (s *Server) resetLease() { s.lease = leaseState{} }

// writeInfoLease adds the lease fields to INFO replication.
func (s *Server) writeInfoLease(field func(string, any)) {
	state, left := s.leaseStatus()
	field("master_lease", state)
	field("master_lease_remaining_ms", left.Milliseconds())
	ids := make([]string, 0, len(s.lease.renewed))
	now := time.Now()
	for id, r := range s.lease.renewed {
		ids = append(ids, id[:min(8, len(id))]+"="+strconv.FormatInt(now.Sub(r.at).Milliseconds(), 10)+"ms")
	}
	sort.Strings(ids)
	field("master_lease_renewals", strings.Join(ids, ","))
}
