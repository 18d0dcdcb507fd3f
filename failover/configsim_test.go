package failover

import (
	"container/heap"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// The config simulation: N sentinels fail a dead master over to one of
// three replicas and spread the new configuration by gossip, on a virtual
// clock with seeded randomness, while the network loses, delays and
// partitions messages, sentinels crash and restart, stall (their timers
// and messages wait until they wake up) or see their clock jump, and the
// master of the newest configuration dies in turn (dead nodes come back).
// It runs the real decision code: Ballot.StartElection / Vote, Tally,
// Defeated and ElectionTiming; what it models is sentinel/sentinel.go's loop
// around them:
//
//   - a sentinel sees the master down (down-after after it died, or
//     after the sentinel started) while its configuration names a dead
//     node; it stands after FirstAttempt,
//     gives up at its election's deadline or as soon as Defeated says
//     the election is decided against it, and stands again after
//     AfterDefeat; a vote request for a newer epoch makes it yield
//     (YieldTo);
//   - the ballot and the configuration are on disk: a crash loses only
//     the election in progress;
//   - a leader promotes one replica, then writes the configuration (its
//     epoch, the replica) and gossips it; a sentinel adopts a gossiped
//     configuration only if its epoch is higher than its own (learn);
//     gossip is also repeated periodically to one random peer, as
//     memberlist's push-pull does;
//   - a stall or a clock jump puts the sentinel in TILT: it keeps
//     answering votes and adopting configurations but neither stands nor
//     promotes (tick skips drive). The TILT period is shortened (3 s for
//     30 s) so that a run ends in virtual seconds.
//
// Checked after every event: at most one leader and at most one promotion
// per epoch, every sentinel's current epoch and config epoch only grow
// (across restarts too). Checked at the end, after every fault has been
// healed and a quiet period: every sentinel has adopted the same, highest
// configuration, and a failover happened.

// csRules are the rules the simulation checks vigil's code against; the
// teeth test breaks one at a time.
type csRules struct {
	// forgetVote: a restarted sentinel has lost its vote of the current
	// epoch (the vote was not persisted before the reply);
	// forgetBallot: it has lost its whole ballot, the current epoch too
	// (the state file was not written).
	forgetVote, forgetBallot bool
	// adoptAny: a gossiped configuration replaces the sentinel's own
	// whenever it differs, even with a lower epoch.
	adoptAny bool
	// noAntiEntropy: a configuration is gossiped once, when it changes,
	// and never repeated (no push-pull).
	noAntiEntropy bool
}

// csConfig is one run's weather.
type csConfig struct {
	n, quorum     int
	downAfter     time.Duration
	loss          float64
	maxDelay      time.Duration
	faults        int           // partitions, heals, crashes, stalls, jumps, deaths
	restartMax    time.Duration // a crashed sentinel restarts within it
	chaos, settle time.Duration // faults happen in [0, chaos); then settle
	rules         csRules
}

// Fixed model constants (vigil's defaults where they exist).
const (
	csFailoverTimeout = 2 * time.Second
	csDeadline        = time.Second // an election's deadline
	csTilt            = 3 * time.Second
	csGossip          = 200 * time.Millisecond
)

type csEvent struct {
	at   time.Duration
	seq  int
	fire func()
}

type csQueue []*csEvent

func (q csQueue) Len() int { return len(q) }
func (q csQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q csQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *csQueue) Push(x any)   { *q = append(*q, x.(*csEvent)) }
func (q *csQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// csConf is a group's configuration as a sentinel holds it.
type csConf struct {
	epoch  uint64
	master string
}

type csSentinel struct {
	id string
	// On disk: survive a crash.
	ballot Ballot
	conf   csConf
	// Process state.
	up                      bool
	stalledUntil, tiltUntil time.Duration
	upSince                 time.Duration // (re)started then
	// The election in progress (lost on a crash). gen invalidates timers
	// scheduled before a crash, a new attempt or a yield.
	gen      int
	epoch    uint64
	votes    map[string]string
	won      bool
	failed   int
	deadline time.Duration
	// What the checks saw last.
	seenEpoch, seenConf uint64
}

type csSim struct {
	cfg   csConfig
	r     *rand.Rand
	now   time.Duration
	seq   int
	q     csQueue
	s     []*csSentinel
	side  map[string]int
	timer ElectionTiming
	// The data nodes: when each died (absent: up). m0 is the first
	// master, r1-r3 its replicas.
	deadSince map[string]time.Duration
	// Results.
	leaders    map[uint64]string
	promotions map[uint64][]string
	// replaced: the configurations a promotion has replaced. A second
	// promotion replacing the same one is a double failover: legal (the
	// higher epoch wins) but it demotes a master that may have taken
	// writes.
	replaced  map[csConf]bool
	events    int
	violation string
	// stats counts what the faults did (logged: the runs exercise them).
	stats map[string]int
}

func (m *csSim) after(d time.Duration, fire func()) {
	m.seq++
	heap.Push(&m.q, &csEvent{at: m.now + d, seq: m.seq, fire: fire})
}

func (m *csSim) fail(format string, args ...any) {
	if m.violation == "" {
		m.violation = fmt.Sprintf("at %v: ", m.now) + fmt.Sprintf(format, args...)
	}
}

// on runs fn as s's work: dropped if s is down (or crashed and came back
// since: gen), delayed while s is stalled.
func (m *csSim) on(s *csSentinel, gen int, fn func()) {
	switch {
	case !s.up || (gen >= 0 && gen != s.gen):
	case m.now < s.stalledUntil:
		m.stats["work delayed by a stall"]++
		m.after(s.stalledUntil-m.now, func() { m.on(s, gen, fn) })
	default:
		fn()
	}
}

// send delivers fn to s after a random delay, unless the message is lost
// or the partition separates the two.
func (m *csSim) send(from, to *csSentinel, fn func()) {
	if m.side[from.id] != m.side[to.id] || m.r.Float64() < m.cfg.loss {
		return
	}
	m.after(time.Duration(m.r.Int64N(int64(m.cfg.maxDelay))), func() {
		// A partition that began meanwhile cuts it too.
		if m.side[from.id] == m.side[to.id] {
			m.on(to, -1, fn)
		}
	})
}

func (m *csSim) tilted(s *csSentinel) bool { return m.now < s.tiltUntil }

// seesDown: the configuration names a dead master and down-after ran
// since it died and since the sentinel started.
func (m *csSim) seesDown(s *csSentinel) bool {
	died, dead := m.deadSince[s.conf.master]
	return dead && m.now >= max(died, s.upSince)+m.cfg.downAfter
}

// schedule arms s's next attempt after d, replacing any armed before.
func (m *csSim) schedule(s *csSentinel, d time.Duration) {
	s.gen++
	s.votes, s.won = nil, false
	gen := s.gen
	m.after(d, func() { m.on(s, gen, func() { m.attempt(s) }) })
}

// attempt is drive(): stand for election if the master is down.
func (m *csSim) attempt(s *csSentinel) {
	if m.tilted(s) && m.seesDown(s) {
		m.stats["attempts held by TILT"]++
	}
	if m.tilted(s) || !m.seesDown(s) {
		m.schedule(s, 100*time.Millisecond)
		return
	}
	epoch := s.ballot.StartElection(s.id)
	m.schedule(s, csDeadline) // the deadline: a failed attempt
	s.epoch, s.votes, s.deadline = epoch, map[string]string{s.id: s.id}, m.now+csDeadline
	gen := s.gen
	for _, o := range m.s {
		if o == s {
			continue
		}
		m.send(s, o, func() { m.vote(o, s, epoch, gen) })
	}
}

// vote is IS-MASTER-DOWN-BY-ADDR with a run id on voter o.
func (m *csSim) vote(o, c *csSentinel, epoch uint64, cgen int) {
	news := epoch > o.ballot.Epoch
	leader, le, _ := o.ballot.Vote(epoch, c.id, m.seesDown(o))
	if news && !o.won {
		// Leave that candidate time before standing ourselves.
		m.schedule(o, m.timer.YieldTo(m.r))
	}
	m.send(o, c, func() {
		if c.gen != cgen || c.epoch != epoch || c.votes == nil || c.won {
			return
		}
		if le == epoch {
			c.votes[o.id] = leader
		} else {
			c.votes[o.id] = ""
		}
		m.count(c)
	})
}

// count is the candidate's tally after a reply.
func (m *csSim) count(c *csSentinel) {
	if w, ok := Tally(c.votes, m.cfg.n, m.cfg.quorum); ok && w == c.id {
		if prev, dup := m.leaders[c.epoch]; dup && prev != c.id {
			m.fail("epoch %d has two leaders: %s and %s", c.epoch, prev, c.id)
		}
		m.leaders[c.epoch] = c.id
		// The failover replaces the election's deadline; it is bounded
		// by failover-timeout, then the sentinel may stand again.
		epoch := c.epoch
		m.schedule(c, csFailoverTimeout)
		c.epoch, c.won = epoch, true
		gen := c.gen
		m.after(time.Duration(10+m.r.IntN(90))*time.Millisecond, func() { m.on(c, gen, func() { m.promote(c, epoch) }) })
		return
	}
	if d := Defeated(c.votes, m.cfg.n, m.cfg.quorum, c.id); d != Open {
		c.failed++
		m.schedule(c, m.timer.AfterDefeat(d, c.failed, m.r))
	}
}

// promote is the leader's failover: REPLICAOF NO ONE to a replica, then,
// once it reports role:master, the new configuration.
func (m *csSim) promote(c *csSentinel, epoch uint64) {
	if m.tilted(c) {
		m.stats["promotions held by TILT"]++
		gen := c.gen
		m.after(100*time.Millisecond, func() { m.on(c, gen, func() { m.promote(c, epoch) }) })
		return
	}
	if c.conf.epoch >= epoch {
		m.stats["failovers ended by a newer configuration"]++
		return // a newer configuration arrived: switchMaster ended the failover
	}
	var alive []string
	for _, n := range []string{"m0", "r1", "r2", "r3"} {
		if _, dead := m.deadSince[n]; !dead && n != c.conf.master {
			alive = append(alive, n)
		}
	}
	if len(alive) == 0 {
		return // -failover-abort-no-good-slave
	}
	replica := alive[m.r.IntN(len(alive))]
	m.promotions[epoch] = append(m.promotions[epoch], c.id+"->"+replica)
	if m.replaced[c.conf] {
		m.stats["second promotions replacing one master"]++
	}
	m.replaced[c.conf] = true
	if len(m.promotions[epoch]) > 1 {
		m.fail("epoch %d has %d promotions: %v", epoch, len(m.promotions[epoch]), m.promotions[epoch])
	}
	gen := c.gen
	m.after(time.Duration(5+m.r.IntN(50))*time.Millisecond, func() {
		m.on(c, gen, func() {
			if c.conf.epoch < epoch {
				m.adopt(c, csConf{epoch, replica})
				m.schedule(c, 100*time.Millisecond) // failover over
				m.broadcast(c)
			}
		})
	})
}

// adopt makes conf s's configuration (written to disk).
func (m *csSim) adopt(s *csSentinel, conf csConf) { s.conf = conf }

// broadcast gossips s's configuration to every peer.
func (m *csSim) broadcast(s *csSentinel) {
	for _, o := range m.s {
		if o != s {
			m.gossipTo(s, o)
		}
	}
}

func (m *csSim) gossipTo(s, o *csSentinel) {
	conf := s.conf
	m.send(s, o, func() {
		if conf.epoch > o.conf.epoch || (m.cfg.rules.adoptAny && conf != o.conf) {
			m.adopt(o, conf)
			m.broadcast(o)
		}
	})
}

// antiEntropy is memberlist's periodic exchange with one random peer.
func (m *csSim) antiEntropy(s *csSentinel) {
	m.after(csGossip/2+time.Duration(m.r.Int64N(int64(csGossip))), func() { m.antiEntropy(s) })
	if m.cfg.rules.noAntiEntropy {
		return
	}
	m.on(s, -1, func() {
		o := m.s[m.r.IntN(len(m.s))]
		if o != s {
			m.gossipTo(s, o)
		}
	})
}

// check runs after every event: epochs only grow.
func (m *csSim) check() {
	for _, s := range m.s {
		if s.ballot.Epoch < s.seenEpoch {
			m.fail("%s: current epoch went from %d to %d", s.id, s.seenEpoch, s.ballot.Epoch)
		}
		if s.conf.epoch < s.seenConf {
			m.fail("%s: config epoch went from %d to %d", s.id, s.seenConf, s.conf.epoch)
		}
		s.seenEpoch, s.seenConf = s.ballot.Epoch, s.conf.epoch
	}
}

// fault injects one random fault.
func (m *csSim) fault() {
	s := m.s[m.r.IntN(len(m.s))]
	switch m.r.IntN(7) {
	case 0: // a partition into two random sides
		for _, o := range m.s {
			m.side[o.id] = m.r.IntN(2)
		}
	case 1: // heal
		m.side = map[string]int{}
	case 2: // crash, restart later from disk
		if !s.up {
			return
		}
		m.stats["crashes"]++
		if s.won {
			m.stats["leaders crashed"]++
		}
		s.up = false
		s.gen++
		s.votes, s.epoch, s.won, s.failed = nil, 0, false, 0
		m.after(50*time.Millisecond+time.Duration(m.r.Int64N(int64(m.cfg.restartMax))), func() { m.restart(s) })
	case 3: // a stall of more than the TILT trigger, then TILT
		d := 2*time.Second + time.Duration(m.r.Int64N(int64(2*time.Second)))
		s.stalledUntil = max(s.stalledUntil, m.now+d)
		s.tiltUntil = max(s.tiltUntil, s.stalledUntil+csTilt)
	case 4: // the wall clock jumps: TILT at once
		s.tiltUntil = max(s.tiltUntil, m.now+csTilt)
	case 5: // the master of the highest configuration dies
		top := s.conf
		for _, o := range m.s {
			if o.conf.epoch > top.epoch {
				top = o.conf
			}
		}
		if _, dead := m.deadSince[top.master]; !dead {
			m.deadSince[top.master] = m.now
		}
	case 6: // a dead node comes back (drawn from the seed: a map's own
		// order would make a seed's run differ from one test run to the next)
		if dead := slices.Sorted(maps.Keys(m.deadSince)); len(dead) > 0 {
			delete(m.deadSince, dead[m.r.IntN(len(dead))])
		}
	}
}

// restart brings a crashed sentinel back with what its disk holds; it
// sees the master down again only after down-after.
func (m *csSim) restart(s *csSentinel) {
	if s.up {
		return
	}
	s.up = true
	if m.cfg.rules.forgetVote {
		s.ballot.Leader, s.ballot.LeaderEpoch = "", 0
	}
	if m.cfg.rules.forgetBallot {
		s.ballot = Ballot{}
	}
	s.upSince = m.now
	m.schedule(s, m.cfg.downAfter+m.timer.FirstAttempt(m.r))
}

// runConfigSim runs one seed; the simulation it returns holds the first
// violation (m.violation, "" if none) and the figures.
func runConfigSim(cfg csConfig, seed uint64) (m *csSim) {
	r := rand.New(rand.NewPCG(seed, uint64(cfg.n)))
	// The master dies at 0.
	m = &csSim{cfg: cfg, r: r, side: map[string]int{}, timer: DefaultElectionTiming(csFailoverTimeout), deadSince: map[string]time.Duration{"m0": 0},
		leaders: map[uint64]string{}, promotions: map[uint64][]string{}, replaced: map[csConf]bool{}, stats: map[string]int{}}
	for i := 0; i < cfg.n; i++ {
		// Each sentinel's PINGs run at their own phase.
		s := &csSentinel{id: fmt.Sprint("s", i), up: true, conf: csConf{0, "m0"}, upSince: time.Duration(r.Int64N(int64(100 * time.Millisecond)))}
		m.s = append(m.s, s)
		m.schedule(s, s.upSince+m.timer.FirstAttempt(r))
		m.antiEntropy(s)
	}
	for k := 0; k < cfg.faults; k++ {
		m.after(time.Duration(r.Int64N(int64(cfg.chaos))), m.fault)
	}
	// Every fault ends with the chaos: heal, restart the crashed (their
	// own restart timers may lie beyond) and bring back the dead nodes
	// but one, the first master, so that a failover is still due if it
	// is the master.
	m.after(cfg.chaos, func() {
		m.side = map[string]int{}
		m.deadSince = map[string]time.Duration{"m0": m.deadSince["m0"]}
		for _, s := range m.s {
			m.restart(s)
		}
	})
	end := cfg.chaos + cfg.settle
	for m.q.Len() > 0 && m.violation == "" {
		e := heap.Pop(&m.q).(*csEvent)
		if e.at > end {
			break
		}
		m.now = e.at
		e.fire()
		m.events++
		m.check()
	}
	if m.violation != "" {
		return m
	}
	var top csConf
	for _, s := range m.s {
		if s.conf.epoch > top.epoch {
			top = s.conf
		}
	}
	if top.epoch == 0 {
		m.fail("no failover in %v", end)
	}
	for _, s := range m.s {
		if s.conf != top {
			m.fail("%s did not converge: it has %+v, the highest is %+v", s.id, s.conf, top)
		}
	}
	return m
}

// csWeather is the default weather: up to 20% loss, up to 50 ms delay,
// 12 faults in 10 s, then 15 s of calm.
func csWeather(n int, seed uint64, rules csRules) csConfig {
	r := rand.New(rand.NewPCG(seed, 7))
	return csConfig{n: n, quorum: n/2 + 1 - r.IntN(2), downAfter: time.Second, restartMax: time.Second, loss: r.Float64() * 0.2, maxDelay: 50 * time.Millisecond,
		faults: 12, chaos: 10 * time.Second, settle: 15 * time.Second, rules: rules}
}

// csSeeds is how many seeds a test runs per size.
func csSeeds() int {
	switch {
	case testing.Short():
		return 50
	case raceBuild:
		return 500
	}
	return 3000
}

// TestConfigSimulation: with loss, delay, partitions, crashes and
// restarts, stalls and clock jumps, vigil's rules keep one leader and one
// promotion per epoch, epochs that only grow, and every sentinel ends on
// the highest configuration.
func TestConfigSimulation(t *testing.T) {
	for _, n := range []int{3, 5} {
		seeds := csSeeds()
		events, failovers, epochs := 0, 0, uint64(0)
		stats := map[string]int{}
		start := time.Now()
		for seed := uint64(0); seed < uint64(seeds); seed++ {
			m := runConfigSim(csWeather(n, seed, csRules{}), seed)
			if m.violation != "" {
				t.Fatalf("%d sentinels, seed %d: %s", n, seed, m.violation)
			}
			events += m.events
			failovers += len(m.promotions)
			for k, v := range m.stats {
				stats[k] += v
			}
			for _, s := range m.s {
				epochs = max(epochs, s.conf.epoch)
			}
		}
		t.Logf("%d sentinels: %d seeds, %d events, %d promotions (highest config epoch %d), all converged (%v); %v",
			n, seeds, events, failovers, epochs, time.Since(start).Round(time.Millisecond), stats)
	}
}

// TestConfigSimFindsBrokenRules shows the checks have teeth: with one
// rule broken, some seed violates an invariant.
func TestConfigSimFindsBrokenRules(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rules   csRules
		weather func(*csConfig)
		want    string // in the violation
	}{
		// A restarted voter votes only once it sees the master down
		// again, after down-after: a forgotten vote shows when a
		// request of the same epoch arrives then, before its
		// candidate's deadline (1 s). Short down-after, slow messages,
		// many quick crashes.
		{"vote forgotten on restart", csRules{forgetVote: true}, func(c *csConfig) {
			c.downAfter, c.maxDelay, c.faults, c.restartMax = 20*time.Millisecond, 300*time.Millisecond, 200, 100*time.Millisecond
		}, "two leaders"},
		{"ballot not persisted", csRules{forgetBallot: true}, nil, "current epoch went"},
		{"lower configuration adopted", csRules{adoptAny: true}, nil, "config epoch went"},
		{"no periodic gossip", csRules{noAntiEntropy: true}, nil, "did not converge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(0); seed < 3000; seed++ {
				cfg := csWeather(3, seed, tc.rules)
				if tc.weather != nil {
					tc.weather(&cfg)
				}
				m := runConfigSim(cfg, seed)
				if m.violation == "" || (liveness(m.violation) && !liveness(tc.want)) {
					// A failover slowed past the run's end by harsh
					// weather is not what this row looks for.
					continue
				}
				if !contains(m.violation, tc.want) {
					t.Fatalf("seed %d: unexpected violation %q, want one with %q", seed, m.violation, tc.want)
				}
				t.Logf("seed %d: %s", seed, m.violation)
				// The same weather with vigil's rules: the violation is the
				// broken rule's, not the weather's.
				cfg.rules = csRules{}
				if v := runConfigSim(cfg, seed).violation; v != "" && !liveness(v) {
					t.Fatalf("seed %d with vigil's rules: %s", seed, v)
				}
				return
			}
			t.Fatal("no violation found in 3000 seeds")
		})
	}
}

// liveness tells the end-of-run checks' violations from the safety ones.
func liveness(violation string) bool {
	return contains(violation, "no failover") || contains(violation, "did not converge")
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
