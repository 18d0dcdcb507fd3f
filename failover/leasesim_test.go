package failover_test

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/vigilkv/vigil/failover"
	"github.com/vigilkv/vigil/node/lease"
)

// The lease simulation: one master, two replicas and 3 or 5 sentinels,
// modelled after sentinel/sentinel.go and node/lease.go, on a virtual
// clock with seeded randomness. Sentinels probe every data node every
// down-after/10 (the master with LEASE RENEW, the others with PING),
// mark SDOWN after down-after without a valid reply, ask their peers
// (ODOWN by quorum), vote once per epoch with failover.Ballot.Vote, count with
// Tally, pick a replica with SelectReplica, promote it, spread the new
// config and convert the old master when it answers again. Data nodes
// hold the real lease.Lease. The network delays, loses and (during a
// partition) holds messages; processes freeze (their clock runs, they do
// nothing, messages queue); every node's clock runs at its own rate.
//
// After every event the invariant is checked: no two data nodes both
// have the master role and would accept a write. Between events a lease
// can only run out, so checking at events covers every instant.

// lsRules are the safety rules: vigil's (vigilRules) and the ones the
// simulation showed are missing. A test turns one off to show that the
// simulation notices.
type lsRules struct {
	// voteOnlyIfDown: a sentinel votes only while it sees the master
	// subjectively down (vigil); off, it votes like Redis.
	voteOnlyIfDown bool
	// leaseFrac is the lease as a fraction of down-after (vigil: 1/2).
	leaseFrac float64
	// renewFromArrival grants the lease from the renewal's arrival
	// instead of from when the quoted token was sent (unsafe).
	renewFromArrival bool
	// quietAfterVote: a sentinel that voted in a failover of its master
	// stops renewing that master's lease (PINGs instead) until it learns
	// a newer config or the failover can no longer happen (see quiet).
	// Not in vigil today: a voter whose SDOWN clears (the partition
	// healed) renews the old master again while the failover it voted
	// for goes on, so the vote no longer proves its lease ran out.
	quietAfterVote bool
	// promoteManaged: a replica promoted by a sentinel requires a lease
	// at once (Lease.Require). Not in vigil today: a new master is
	// unmanaged, so it takes writes before any renewal, and for good if
	// it is cut off from the sentinels before a majority renewed it.
	promoteManaged bool
	// exclusive: a sentinel that switches to a new master renews it only
	// once the lease it granted the old one has run out (with a 10%
	// margin for drift), so its grants never overlap and two majorities
	// can never both hold a lease. Not in vigil today.
	exclusive bool
	// latchOnRenew: a lease becomes managed as soon as a renewal puts a
	// majority's lease in force. Not in vigil today: node/lease.go
	// latches it only when a write or INFO finds it in force, so a
	// master nobody wrote to, cut off before the sentinels' next INFO
	// (10 s), takes writes again once its lease has run out, like an
	// unmanaged node (see the idle-clients cases).
	latchOnRenew bool
	// dropElection: adopting a new config ends an open election. Not in
	// vigil today: switchMaster clears failing but not votes, so an
	// election opened against the old master can still be won after the
	// switch, and the winner fails over the new master, which none of
	// its voters saw down.
	dropElection bool
	// uniqueTokens: a data node never hands out a token number twice.
	// Not in vigil today: node/lease.go numbers tokens from 1 again
	// after every role change (resetLease) and every restart, so a
	// renewal that waited in a frozen node's socket can quote a stale
	// token that happens to equal the one just issued to its sentinel,
	// and the lease then runs from that moment: a renewal timed from its
	// arrival, which the sentinel's down-after never covered.
	uniqueTokens bool
	// forced injects SENTINEL FAILOVER on a random sentinel.
	forced bool
}

// lsConfig is one simulated deployment and its weather.
type lsConfig struct {
	sentinels int
	downAfter time.Duration
	failTO    time.Duration // failover-timeout
	drift     float64       // clock rates in [1-drift, 1+drift]
	loss      float64       // per message
	delay     time.Duration // usual one-way delay: uniform in [0, delay]
	spike     float64       // probability of a delay up to down-after
	duration  time.Duration
	chaos     int  // partitions and freezes per run
	idle      bool // no stale clients writing to every node
	flap      bool // every partition isolates the master for 1-1.6 down-after
	freezes   bool // every chaos event freezes the master
	rules     lsRules
}

// vigilRules are the rules vigil implements: the vote rule and a lease
// of half down-after, with the repairs the simulation showed were needed
// (repairB's exclusive grants, a promoted replica requiring a lease, the
// lease enforced from the renewal, unique tokens) and an election ending
// with a new config.
func vigilRules() lsRules {
	r := firstRules()
	r.promoteManaged, r.latchOnRenew, r.exclusive, r.uniqueTokens, r.dropElection = true, true, true, true, true
	return r
}

// firstRules are the rules of vigil's first lease, which the simulation
// found unsafe.
func firstRules() lsRules { return lsRules{voteOnlyIfDown: true, leaseFrac: 0.5} }

const (
	lsData    = 3 // data nodes 0..2; sentinels follow
	lsMaxAge  = 3 * time.Second
	lsFast    = 100 * time.Millisecond // sentinel tick and fast INFO period
	lsPing    = time.Second            // pingPeriod in sentinel.go
	lsInfo    = 10 * time.Second
	lsTimeout = 500 * time.Millisecond // per request
)

type lsEvent struct {
	at   time.Duration // real time
	seq  int
	node int // deferred while this node is frozen; -1: none
	fire func()
}

type lsQueue []*lsEvent

func (q lsQueue) Len() int { return len(q) }
func (q lsQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q lsQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *lsQueue) Push(x any)   { *q = append(*q, x.(*lsEvent)) }
func (q *lsQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// lsClock is a node's monotonic clock: local = off + rate * real.
type lsClock struct {
	off  time.Duration
	rate float64
}

// at is the clock's reading at a real instant; readings are time.Time
// values far from the zero time, as monotonic readings are.
func (c lsClock) at(real time.Duration) time.Time {
	return time.Unix(1_000_000, 0).Add(c.off + time.Duration(float64(real)*c.rate))
}

type lsNode struct {
	name   string
	clock  lsClock
	frozen time.Duration // frozen until (real)
	// data node
	master bool
	lease  lease.Lease
	// sentinel
	sn *lsSentinel
}

// lsInst is what a sentinel knows of one data node.
type lsInst struct {
	lastOK    time.Time
	role      string // from the last INFO
	lastInfo  time.Time
	token     int64
	waiting   int // request id in flight, 0 if none
	lastLease time.Time
	converted time.Time
}

type lsSentinel struct {
	id          string
	ballot      failover.Ballot
	curEpoch    uint64
	cfgEpoch    uint64
	master      int
	inst        [lsData]lsInst
	sdown       bool
	odown       bool
	lastAsk     time.Time
	downVotes   map[int]time.Time
	votes       map[string]string
	electEpoch  uint64
	deadline    time.Time
	nextAttempt time.Time
	lastTick    time.Time
	tiltUntil   time.Time
	lastGossip  time.Time
	quietUntil  time.Time
	forced      bool
	failing     *lsFailover
}

type lsFailover struct {
	epoch       uint64
	started     time.Time
	promoted    int // -1 until chosen
	coordinated bool
}

// lsViolation describes an instant with two writable masters.
type lsViolation struct {
	at    time.Duration
	nodes []int
	trace []string
}

type lsSim struct {
	cfg    lsConfig
	r      *rand.Rand
	now    time.Duration
	seq    int
	q      lsQueue
	nodes  []*lsNode
	cut    [][]int // partition counters, symmetric
	quorum int
	reqID  int
	events int
	trace  []string // only when tracing
	tr     bool
	viol   *lsViolation
	// stats
	promotions int
}

func (m *lsSim) logf(format string, args ...any) {
	if m.tr {
		m.trace = append(m.trace, fmt.Sprintf("%9.3fs ", m.now.Seconds())+fmt.Sprintf(format, args...))
	}
}

// at schedules fire after d of real time, for node (deferred while it
// is frozen; -1 for none).
func (m *lsSim) at(d time.Duration, node int, fire func()) {
	m.seq++
	heap.Push(&m.q, &lsEvent{at: m.now + d, seq: m.seq, node: node, fire: fire})
}

// after schedules fire after d on node's own clock.
func (m *lsSim) after(node int, d time.Duration, fire func()) {
	m.at(time.Duration(float64(d)/m.nodes[node].clock.rate), node, fire)
}

func (m *lsSim) local(node int) time.Time { return m.nodes[node].clock.at(m.now) }

// send delivers fn at to after a delay, unless lost; across a partition
// the message is held (TCP retransmits) and dropped once too old.
func (m *lsSim) send(from, to int, fn func()) {
	if m.r.Float64() < m.cfg.loss {
		return
	}
	sent := m.now
	d := time.Duration(m.r.Int64N(int64(m.cfg.delay) + 1))
	if m.r.Float64() < m.cfg.spike {
		d += time.Duration(m.r.Int64N(int64(m.cfg.downAfter)))
	}
	var deliver func()
	deliver = func() {
		if m.cut[from][to] > 0 {
			if m.now-sent > lsMaxAge {
				return
			}
			m.at(50*time.Millisecond+time.Duration(m.r.Int64N(int64(200*time.Millisecond))), to, deliver)
			return
		}
		fn()
	}
	m.at(d, to, deliver)
}

// writable is whether data node i would accept a write now. It asks a
// copy of the lease: Status latches "managed", which only a real write
// or INFO does (the clients' events below).
func (m *lsSim) writable(i int) bool {
	n := m.nodes[i]
	if !n.master || n.frozen > m.now {
		return false
	}
	l := n.lease
	return l.MayWrite(m.local(i))
}

func (m *lsSim) check() {
	var w []int
	for i := 0; i < lsData; i++ {
		if m.writable(i) {
			w = append(w, i)
		}
	}
	if len(w) > 1 && m.viol == nil {
		m.viol = &lsViolation{at: m.now, nodes: w}
	}
}

func (m *lsSim) sentinelIdx(k int) int { return lsData + k }

func (m *lsSim) ttl() time.Duration {
	return time.Duration(float64(m.cfg.downAfter) * m.cfg.rules.leaseFrac)
}

// probe is one round of a sentinel's PING/LEASE RENEW loop for data node j.
func (m *lsSim) probe(si, j int) {
	s := m.nodes[si].sn
	now := m.local(si)
	in := &s.inst[j]
	m.reqID++
	id := m.reqID
	in.waiting = id
	// INFO rides along when due: every 10 s, every 100 ms while the
	// master is in doubt or for a replica that last said it is a master.
	doubt := s.sdown || s.odown || s.failing != nil
	suspect := j != s.master && in.role != "slave"
	ip := lsInfo
	if doubt || suspect {
		ip = lsFast
	}
	info := now.Sub(in.lastInfo) >= ip
	renew := s.master == j && !(m.cfg.rules.quietAfterVote && now.Before(s.quietUntil)) &&
		!(m.cfg.rules.exclusive && m.granting(s, j, now))
	token, epoch := in.token, s.cfgEpoch
	voters, ttl := m.cfg.sentinels, m.ttl()
	m.send(si, j, func() {
		n := m.nodes[j]
		role, tok, renewed := "slave", int64(0), false
		if n.master {
			role = "master"
			if renew {
				at := m.local(j)
				tok = n.lease.Renew(s.id, token, voters, ttl, epoch, at)
				if m.cfg.rules.renewFromArrival {
					// Quote the fresh token at once: the lease runs from
					// the arrival.
					tok = n.lease.Renew(s.id, tok, voters, ttl, epoch, at)
				}
				if m.cfg.rules.latchOnRenew {
					n.lease.Status(at)
				}
				renewed = true
			}
			if info {
				// INFO replication reports the lease state, which
				// latches a lease in force as managed.
				n.lease.Status(m.local(j))
			}
		}
		m.send(j, si, func() { m.probeReply(si, j, id, info, role, tok, renewed) })
	})
	m.after(si, lsTimeout, func() {
		if in.waiting == id {
			in.waiting = 0
			m.after(si, m.period(), func() { m.probe(si, j) })
		}
	})
}

// granting reports whether a lease this sentinel granted to a data node
// other than j may still be in force (exclusive): it ran from a token
// the sentinel received by lastLease, for the lease's length on the
// granting node's clock, plus 10% for the two clocks' rates.
func (m *lsSim) granting(s *lsSentinel, j int, now time.Time) bool {
	for k := range s.inst {
		if ll := s.inst[k].lastLease; k != j && !ll.IsZero() && now.Before(ll.Add(m.ttl()+m.ttl()/10)) {
			return true
		}
	}
	return false
}

func (m *lsSim) period() time.Duration {
	return min(lsPing, max(m.cfg.downAfter/10, 10*time.Millisecond))
}

func (m *lsSim) probeReply(si, j, id int, info bool, role string, tok int64, renewed bool) {
	s := m.nodes[si].sn
	in := &s.inst[j]
	if in.waiting != id {
		return // timed out: the client dropped the connection
	}
	in.waiting = 0
	now := m.local(si)
	in.lastOK = now
	if info {
		in.role, in.lastInfo = role, now
	}
	if renewed {
		in.token = tok
		in.lastLease = now
	}
	// The old master come back is turned into a replica of ours.
	if info && j != s.master && role == "master" && s.failing == nil && !s.sdown && now.Sub(in.converted) >= lsFast {
		in.converted = now
		target := s.master
		m.logf("%s converts %s to a replica of %s", s.id, m.nodes[j].name, m.nodes[target].name)
		m.send(si, j, func() { m.replicaOf(j, target) })
	}
	m.after(si, m.period(), func() { m.probe(si, j) })
}

// replicaOf applies REPLICAOF at data node j (-1: NO ONE).
func (m *lsSim) replicaOf(j, target int) {
	n := m.nodes[j]
	if target < 0 {
		if !n.master {
			n.master = true
			n.lease = m.freshLease(n.lease) // unmanaged until renewed
			if m.cfg.rules.promoteManaged {
				n.lease.Require()
			}
			m.promotions++
			m.logf("%s promoted", n.name)
		}
		return
	}
	if target == j {
		return
	}
	if n.master {
		m.logf("%s demoted", n.name)
	}
	n.master = false
	n.lease = m.freshLease(n.lease)
}

// freshLease is the lease after a role change: empty, as resetLease
// makes it, but with uniqueTokens its token numbers go on.
func (m *lsSim) freshLease(old lease.Lease) lease.Lease {
	if m.cfg.rules.uniqueTokens {
		old.Reset() // empty, the token numbers kept
		return old
	}
	return lease.Lease{}
}

func (m *lsSim) tick(si int) {
	s := m.nodes[si].sn
	now := m.local(si)
	if !s.lastTick.IsZero() && now.Sub(s.lastTick) > 2*time.Second {
		s.tiltUntil = now.Add(30 * time.Second)
		m.logf("%s +tilt", s.id)
	}
	s.lastTick = now
	m.checkDown(si, now)
	if now.After(s.tiltUntil) {
		m.drive(si, now)
	}
	if now.Sub(s.lastGossip) >= time.Second {
		s.lastGossip = now
		m.gossip(si)
	}
	m.after(si, lsFast, func() { m.tick(si) })
}

func (m *lsSim) checkDown(si int, now time.Time) {
	s := m.nodes[si].sn
	down := now.Sub(s.inst[s.master].lastOK) > m.cfg.downAfter
	switch {
	case down && !s.sdown:
		s.sdown = true
		m.logf("%s +sdown %s", s.id, m.nodes[s.master].name)
	case !down && s.sdown:
		s.sdown, s.odown = false, false
		m.logf("%s -sdown %s", s.id, m.nodes[s.master].name)
	}
	if !s.sdown {
		return
	}
	if now.Sub(s.lastAsk) >= lsFast {
		s.lastAsk = now
		m.askPeers(si, "*", s.curEpoch)
	}
	n := 1
	for _, at := range s.downVotes {
		if now.Sub(at) < 5*lsPing {
			n++
		}
	}
	if !s.odown && n >= m.quorum {
		s.odown = true
		s.nextAttempt = now.Add(time.Duration(m.r.IntN(100)) * time.Millisecond)
		m.logf("%s +odown %s", s.id, m.nodes[s.master].name)
	}
}

// askPeers is SENTINEL IS-MASTER-DOWN-BY-ADDR to every peer.
func (m *lsSim) askPeers(si int, runid string, epoch uint64) {
	s := m.nodes[si].sn
	master := s.master
	for k := 0; k < m.cfg.sentinels; k++ {
		pi := m.sentinelIdx(k)
		if pi == si {
			continue
		}
		m.send(si, pi, func() {
			down, leader, le := m.isMasterDown(pi, master, epoch, runid)
			m.send(pi, si, func() {
				if s.master != master {
					return
				}
				if down {
					s.downVotes[pi] = m.local(si)
				} else {
					delete(s.downVotes, pi)
				}
				if runid != "*" && le == epoch && s.electEpoch == epoch && s.votes != nil {
					s.votes[m.nodes[pi].sn.id] = leader
				}
			})
		})
	}
}

func (m *lsSim) isMasterDown(pi, master int, epoch uint64, runid string) (bool, string, uint64) {
	p := m.nodes[pi].sn
	if p.master != master {
		return false, "", 0
	}
	if runid == "*" {
		return p.sdown, "", 0
	}
	seesDown := p.sdown || !m.cfg.rules.voteOnlyIfDown
	leader, le, _ := p.ballot.Vote(epoch, runid, seesDown)
	p.curEpoch = max(p.curEpoch, epoch)
	now := m.local(pi)
	if le == epoch && leader == runid {
		m.logf("%s votes for %s in epoch %d", p.id, runid, epoch)
		m.quiet(p, now)
		if leader != p.id {
			p.nextAttempt = now.Add(2*time.Second + time.Duration(m.r.IntN(1000))*time.Millisecond)
		}
	}
	return p.sdown, leader, le
}

// quiet starts the no-renewal period after a vote (quietAfterVote): long
// enough for the leader's election (1 s), its failover (failover-timeout)
// and a promotion message still in flight (lsMaxAge), with room for
// drift.
func (m *lsSim) quiet(s *lsSentinel, now time.Time) {
	s.quietUntil = now.Add(2*m.cfg.failTO + time.Second + lsMaxAge)
}

func (m *lsSim) drive(si int, now time.Time) {
	s := m.nodes[si].sn
	if s.failing != nil {
		m.stepFailover(si, now)
		return
	}
	if s.votes != nil {
		winner, ok := failover.Tally(s.votes, m.cfg.sentinels, m.quorum)
		if s.forced {
			winner, ok = s.id, true
		}
		if ok && winner == s.id {
			m.logf("%s +elected-leader epoch %d", s.id, s.electEpoch)
			s.failing = &lsFailover{epoch: s.electEpoch, started: now, promoted: -1, coordinated: s.forced && !s.sdown}
			s.votes = nil
			return
		}
		if now.After(s.deadline) {
			s.votes = nil
			s.nextAttempt = now.Add(time.Second + time.Duration(m.r.IntN(1000))*time.Millisecond)
		}
		return
	}
	if !(s.odown || s.forced) || now.Before(s.nextAttempt) {
		return
	}
	epoch := s.ballot.StartElection(s.id)
	if epoch <= s.curEpoch {
		epoch = s.curEpoch + 1
		s.ballot.Epoch, s.ballot.LeaderEpoch = epoch, epoch
	}
	s.curEpoch = epoch
	m.quiet(s, now)
	s.electEpoch = epoch
	s.votes = map[string]string{s.id: s.id}
	s.deadline = now.Add(max(m.cfg.failTO/10, time.Second))
	m.logf("%s +try-failover epoch %d", s.id, epoch)
	if !s.forced {
		m.askPeers(si, s.id, epoch)
	}
}

func (m *lsSim) stepFailover(si int, now time.Time) {
	s := m.nodes[si].sn
	f := s.failing
	if now.Sub(f.started) > m.cfg.failTO {
		m.logf("%s -failover-abort-timeout epoch %d", s.id, f.epoch)
		s.failing = nil
		s.nextAttempt = now.Add(time.Duration(m.r.IntN(1000)) * time.Millisecond)
		return
	}
	old := s.master
	if f.promoted < 0 {
		if !f.coordinated {
			// A forced failover waits out the lease it granted itself.
			if ll := s.inst[old].lastLease; !ll.IsZero() && m.cfg.downAfter/2-now.Sub(ll) > 0 {
				return
			}
		}
		var cands []failover.Replica
		var idx []int
		var masterDown time.Duration
		if s.sdown {
			masterDown = now.Sub(s.inst[old].lastOK) - m.cfg.downAfter
		}
		for j := 0; j < lsData; j++ {
			if j == old {
				continue
			}
			in := s.inst[j]
			cands = append(cands, failover.Replica{Addr: m.nodes[j].name, RunID: m.nodes[j].name, Priority: 100,
				Down: now.Sub(in.lastOK) > m.cfg.downAfter, SincePingReply: now.Sub(in.lastOK), InfoAge: now.Sub(in.lastInfo),
				Disconnected: in.role == "" || in.lastOK.IsZero()})
			idx = append(idx, j)
		}
		i, _ := failover.SelectReplica(cands, failover.Params{PingPeriod: lsPing, InfoPeriod: lsInfo, DownAfter: m.cfg.downAfter, MasterDown: masterDown})
		if i < 0 {
			s.failing = nil
			s.nextAttempt = now.Add(time.Second)
			return
		}
		p := idx[i]
		f.promoted = p
		m.logf("%s promotes %s (epoch %d, coordinated %v)", s.id, m.nodes[p].name, f.epoch, f.coordinated)
		if f.coordinated {
			// FAILOVER TO on the old master: it stops taking writes,
			// becomes a replica, then hands over.
			m.send(si, old, func() {
				if !m.nodes[old].master {
					return
				}
				m.replicaOf(old, p)
				m.send(old, p, func() { m.replicaOf(p, -1) })
			})
		} else {
			m.send(si, p, func() { m.replicaOf(p, -1) })
		}
		return
	}
	p := f.promoted
	if s.inst[p].role != "master" {
		return
	}
	for j := 0; j < lsData; j++ {
		if j != p {
			m.send(si, j, func() { m.replicaOf(j, p) })
		}
	}
	m.switchMaster(si, p, f.epoch)
	m.gossip(si)
}

func (m *lsSim) switchMaster(si, p int, epoch uint64) {
	s := m.nodes[si].sn
	s.cfgEpoch = epoch
	if s.master == p {
		return
	}
	m.logf("%s +switch-master %s -> %s epoch %d", s.id, m.nodes[s.master].name, m.nodes[p].name, epoch)
	s.master = p
	s.sdown, s.odown, s.failing, s.forced = false, false, nil, false
	if m.cfg.rules.dropElection {
		s.votes = nil
	}
	s.downVotes = map[int]time.Time{}
	s.quietUntil = time.Time{}
}

// gossip spreads this sentinel's config; the highest epoch wins.
func (m *lsSim) gossip(si int) {
	s := m.nodes[si].sn
	epoch, master := s.cfgEpoch, s.master
	for k := 0; k < m.cfg.sentinels; k++ {
		pi := m.sentinelIdx(k)
		if pi == si {
			continue
		}
		m.send(si, pi, func() {
			if epoch > m.nodes[pi].sn.cfgEpoch {
				m.switchMaster(pi, master, epoch)
			}
		})
	}
}

// client writes to data node j now and then (a stale client pinned to
// every node): a write is what latches a lease as managed.
func (m *lsSim) client(j int) {
	n := m.nodes[j]
	if n.master {
		n.lease.Status(m.local(j))
	}
	m.at(time.Duration(20+m.r.IntN(80))*time.Millisecond, j, func() { m.client(j) })
}

// chaos schedules one partition or freeze.
func (m *lsSim) chaos() {
	r := m.r
	start := time.Duration(r.Int64N(int64(m.cfg.duration * 8 / 10)))
	length := time.Duration(float64(m.cfg.downAfter) * (0.1 + 4*r.Float64()))
	kind := r.IntN(4)
	if m.cfg.flap {
		// Cut the master off just long enough for the sentinels to vote,
		// and heal before the new config has spread.
		length = time.Duration(float64(m.cfg.downAfter) * (1 + 0.6*r.Float64()))
		kind = 0
	}
	if m.cfg.freezes {
		kind = 3
	}
	total := len(m.nodes)
	m.at(start, -1, func() {
		var pairs [][2]int
		what := ""
		switch kind {
		case 0, 1:
			// The current master (by the nodes' roles) cut off from some
			// or all sentinels and replicas; its clients still reach it.
			master := 0
			for j := 0; j < lsData; j++ {
				if m.nodes[j].master {
					master = j
				}
			}
			for o := 0; o < total; o++ {
				if o != master && r.IntN(3) > 0 {
					pairs = append(pairs, [2]int{master, o})
				}
			}
			what = "isolate " + m.nodes[master].name
		case 2:
			// Two random sides.
			side := make([]int, total)
			for i := range side {
				side[i] = r.IntN(2)
			}
			for a := 0; a < total; a++ {
				for b := a + 1; b < total; b++ {
					if side[a] != side[b] {
						pairs = append(pairs, [2]int{a, b})
					}
				}
			}
			what = fmt.Sprint("split ", side)
		case 3:
			i := r.IntN(total)
			if m.cfg.freezes || (i < lsData && r.IntN(2) == 0) {
				for j := 0; j < lsData; j++ {
					if m.nodes[j].master {
						i = j
					}
				}
			}
			n := m.nodes[i]
			n.frozen = max(n.frozen, m.now+length)
			m.logf("freeze %s for %v", n.name, length)
			m.at(length, -1, func() { m.logf("thaw %s", n.name) })
			return
		}
		m.logf("partition %s for %v", what, length)
		for _, p := range pairs {
			m.cut[p[0]][p[1]]++
			m.cut[p[1]][p[0]]++
		}
		m.at(length, -1, func() {
			m.logf("heal %s", what)
			for _, p := range pairs {
				m.cut[p[0]][p[1]]--
				m.cut[p[1]][p[0]]--
			}
		})
	})
}

// runLeaseSim runs one seeded simulation and returns the first
// violation (nil if none) and how many events ran.
func runLeaseSim(cfg lsConfig, seed uint64, trace bool) (*lsViolation, *lsSim) {
	r := rand.New(rand.NewPCG(seed, uint64(cfg.sentinels)))
	// Any quorum from 1 to a majority: a leader needs a majority's votes
	// anyway, ODOWN only needs quorum.
	m := &lsSim{cfg: cfg, r: r, tr: trace, quorum: 1 + r.IntN(cfg.sentinels/2+1)}
	total := lsData + cfg.sentinels
	m.cut = make([][]int, total)
	for i := range m.cut {
		m.cut[i] = make([]int, total)
	}
	for i := 0; i < total; i++ {
		n := &lsNode{clock: lsClock{
			off:  time.Duration(r.Int64N(int64(1000 * time.Hour))),
			rate: 1 + cfg.drift*(2*r.Float64()-1),
		}}
		if i < lsData {
			n.name = fmt.Sprint("n", i)
			n.master = i == 0
		} else {
			n.name = fmt.Sprint("s", i-lsData)
			n.sn = &lsSentinel{id: n.name, downVotes: map[int]time.Time{}}
		}
		m.nodes = append(m.nodes, n)
	}
	for k := 0; k < cfg.sentinels; k++ {
		si := m.sentinelIdx(k)
		s := m.nodes[si].sn
		now := m.local(si)
		for j := range s.inst {
			s.inst[j].lastOK = now // as if just probed: the start is healthy
		}
		s.lastGossip = now
		for j := 0; j < lsData; j++ {
			m.at(time.Duration(r.Int64N(int64(m.period()))), si, func() { m.probe(si, j) })
		}
		m.at(time.Duration(r.Int64N(int64(lsFast))), si, func() { m.tick(si) })
	}
	for j := 0; j < lsData && !cfg.idle; j++ {
		m.at(time.Duration(r.IntN(50))*time.Millisecond, j, func() { m.client(j) })
	}
	// Let the lease settle for a few seconds before the weather starts.
	warm := 3 * time.Second
	for k := 0; k < cfg.chaos; k++ {
		m.at(warm, -1, func() { m.chaos() })
	}
	if cfg.rules.forced {
		m.at(warm+time.Duration(r.Int64N(int64(cfg.duration-warm))), -1, func() {
			si := m.sentinelIdx(r.IntN(cfg.sentinels))
			m.logf("SENTINEL FAILOVER on %s", m.nodes[si].name)
			m.nodes[si].sn.forced = true
		})
	}
	for m.q.Len() > 0 && m.viol == nil {
		e := heap.Pop(&m.q).(*lsEvent)
		if e.at > cfg.duration {
			break
		}
		m.now = e.at
		if e.node >= 0 && m.nodes[e.node].frozen > m.now {
			// A frozen process does nothing: its timers and messages wait.
			m.at(m.nodes[e.node].frozen-m.now, e.node, e.fire)
			continue
		}
		m.events++
		e.fire()
		m.check()
	}
	if m.viol != nil {
		m.viol.trace = m.trace
	}
	return m.viol, m
}

// describe is a violation's report: the instant, the two masters with
// their leases, and the trace leading to it.
func (v *lsViolation) describe(m *lsSim) string {
	var b strings.Builder
	fmt.Fprintf(&b, "at %.3fs nodes %v both master and writable\n", v.at.Seconds(), v.nodes)
	for _, i := range v.nodes {
		n := m.nodes[i]
		l := n.lease
		st, left, _ := l.Status(m.local(i))
		fmt.Fprintf(&b, "  %s: lease %v, %v left, renewals:", n.name, st, left)
		for _, r := range n.lease.Renewals() {
			fmt.Fprintf(&b, " %s from %.3fs ago", r.ID, m.local(i).Sub(r.From).Seconds())
		}
		b.WriteString("\n")
	}
	tr := v.trace
	if len(tr) > 60 {
		tr = tr[len(tr)-60:]
	}
	b.WriteString(strings.Join(tr, "\n"))
	return b.String()
}
