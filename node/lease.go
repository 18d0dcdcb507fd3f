package node

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
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

func leaseCommands() []*Command {
	return []*Command{
		{Name: "lease", Arity: -2, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagFast, Categories: []string{"admin", "fast"}, Group: "server", Since: "vigil",
			Summary: "Renew, require or show the master write lease (sent by vigil sentinels)", Complexity: "O(1)", Handler: cmdLease},
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
		// time.Now carries a monotonic reading, which is what the lease
		// compares.
		c.W.Int(l.Renew(c.Str(2), token, int(voters), time.Duration(ms)*time.Millisecond, uint64(epoch), time.Now()))
		// A lease is enforced from the renewal that puts it in force, not
		// from the next write or INFO that looks: an idle master cut off
		// before either would otherwise stay unmanaged for good.
		s.leaseStatus()
	case c.ArgIs(1, "require") && len(c.Args) == 2:
		// Sent by a sentinel just before it promotes this replica: the
		// new master takes no write before a majority renewed its lease.
		if s.repl.isReplica() {
			s.leaseOnPromotion = true
		} else {
			l.Require()
		}
		c.W.OK()
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
func (s *Server) leaseStatus() (string, time.Duration) { return s.leaseStatusAt(time.Now()) }

// leaseStatusAt is leaseStatus at now, a monotonic reading.
func (s *Server) leaseStatusAt(now time.Time) (string, time.Duration) {
	if !s.cfg.MasterLease || s.repl.isReplica() {
		return "off", 0
	}
	state, left, started := s.lease.Status(now)
	if started {
		s.log.Info("master lease in force: a majority of the sentinels renewed it")
		// A file write with fsyncs: not under the lock, on the write
		// path. A restart within the moment it takes is not fenced.
		go s.markManaged(s.cfg.Dir)
	}
	return state.String(), left
}

// leaseMarker is the file in dir recording that vigil sentinels manage
// this node.
const leaseMarker = "vigil-managed"

// markManaged records that sentinels manage this node, so that after a
// restart it takes no write before they renew its lease: an old master
// killed and restarted with its original command line would otherwise
// start unmanaged and take writes until the sentinels demote it (the kill
// drill saw 290 such writes, all lost). Without the lock; once per lease
// coming into force.
func (s *Server) markManaged(dir string) {
	path := filepath.Join(dir, leaseMarker)
	if _, err := os.Stat(path); err == nil {
		return
	}
	err := writeFileAtomically(path, func(w io.Writer) error {
		_, err := io.WriteString(w, "This node is managed by vigil sentinels: started as a master, it takes no write\nbefore a majority of them renewed its lease. Delete this file (or set\nmaster-lease no) to run it on its own.\n")
		return err
	})
	if err != nil {
		s.log.Warn("recording that sentinels manage this node", zap.Error(err))
	}
}

// requireLeaseIfManaged is the start-up check markManaged prepares for.
func (s *Server) requireLeaseIfManaged() {
	if !s.cfg.MasterLease || s.cfg.ReplicaOf != "" {
		return
	}
	if _, err := os.Stat(filepath.Join(s.cfg.Dir, leaseMarker)); err != nil {
		return
	}
	s.lease.Require()
	s.log.Warn("this node was managed by vigil sentinels: as a master it takes no write until a majority of them renews its lease (delete " + leaseMarker + " or set master-lease no to run it on its own)")
}

// leaseRefusal refuses writes on a managed master whose lease expired.
func (s *Server) leaseRefusal(now time.Time) string {
	if state, _ := s.leaseStatusAt(now); state == "expired" {
		if s.lease.Voters() == 0 {
			return "NOLEASE This master takes no write until a majority of its sentinels renews its write lease (it was just promoted or restarted)"
		}
		return fmt.Sprintf("NOLEASE This master's write lease expired: fewer than %d of its %d sentinels renewed it in time, so it may have been replaced", s.lease.Need(), s.lease.Voters())
	}
	return ""
}

// resetLease forgets the renewals (on a role change); token numbers go on.
func (s *Server) resetLease() {
	s.lease.Reset()
	s.leaseOnPromotion = false
}

// writeInfoLease adds the lease fields to INFO replication.
func (s *Server) writeInfoLease(field func(string, any)) {
	state, left := s.leaseStatus()
	field("master_lease", state)
	field("master_lease_remaining_ms", left.Milliseconds())
	rs := s.lease.Renewals()
	ids := make([]string, 0, len(rs))
	now := time.Now()
	for _, r := range rs {
		ids = append(ids, r.ID[:min(8, len(r.ID))]+"="+strconv.FormatInt(now.Sub(r.From).Milliseconds(), 10)+"ms")
	}
	sort.Strings(ids)
	field("master_lease_renewals", strings.Join(ids, ","))
}
