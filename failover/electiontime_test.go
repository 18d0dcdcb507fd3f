package failover

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// Time to a decided leader when every sentinel sees the master
// objectively down at the same instant: the worst case for split votes.
// The simulation follows vigil-sentinel's loop: each sentinel acts on
// ticks (every 25 ms, at its own phase), stands after FirstAttempt, makes
// its epoch durable (an fsync) before asking, voters make their vote
// durable before replying, messages take a random one-way delay, and a
// candidate counts its votes on its ticks. Virtual time, seeded
// randomness: every run is reproducible.

// electionPolicy is how a candidate retries.
type electionPolicy struct {
	name string
	// timing gives the random delays.
	timing ElectionTiming
	// useDefeated: a candidate whose election is decided against it
	// (Defeated) stops waiting for the deadline; countRefusals: a voter
	// that answers without a vote counts as answered (as
	// vigil-sentinel's recordVote does), else only votes count.
	useDefeated, countRefusals bool
	// retry is the wait after an election that ended in d, failed
	// failed attempts in a row.
	retry func(t ElectionTiming, d Defeat, failed int, r Rand) time.Duration
}

// The policies compared: vigil's (failover.ElectionTiming with Defeated) and
// the one it replaced (wait for the 1 s deadline, then 1-2 s).
var (
	policyBackoff = electionPolicy{name: "backoff, Defeated, refusals", timing: DefaultElectionTiming(10 * time.Second), useDefeated: true,
		countRefusals: true, retry: ElectionTiming.AfterDefeat}
	policyNoRefusals = electionPolicy{name: "backoff, Defeated", timing: DefaultElectionTiming(10 * time.Second), useDefeated: true,
		retry: ElectionTiming.AfterDefeat}
	policyFixed = electionPolicy{name: "deadline, then 1-2 s", timing: DefaultElectionTiming(10 * time.Second),
		retry: func(_ ElectionTiming, _ Defeat, _ int, r Rand) time.Duration {
			return time.Second + jitter(r, time.Second)
		}}
)

// netProfile bounds the one-way delay of a message and the fsync time.
type netProfile struct {
	name                   string
	minDelay, maxDelay     time.Duration
	minFsync, maxFsync     time.Duration
	electionDeadline, tick time.Duration
	// stagger: each sentinel sees the master subjectively down at a
	// random time within it (its PINGs' phase) instead of all at 0, and
	// stands once quorum sentinels (itself included) do; until then it
	// refuses to vote.
	stagger time.Duration
}

var (
	profileLAN       = netProfile{"LAN", 100 * time.Microsecond, time.Millisecond, 500 * time.Microsecond, 3 * time.Millisecond, time.Second, 25 * time.Millisecond, 0}
	profileSlow      = netProfile{"slow network", time.Millisecond, 40 * time.Millisecond, time.Millisecond, 20 * time.Millisecond, time.Second, 25 * time.Millisecond, 0}
	profileStaggered = netProfile{"LAN, staggered", 100 * time.Microsecond, time.Millisecond, 500 * time.Microsecond, 3 * time.Millisecond, time.Second, 25 * time.Millisecond, 100 * time.Millisecond}
)

type etEvent struct {
	at   time.Duration
	seq  int
	fire func()
}

type etQueue []*etEvent

func (q etQueue) Len() int { return len(q) }
func (q etQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q etQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *etQueue) Push(x any)   { *q = append(*q, x.(*etEvent)) }
func (q *etQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type etSentinel struct {
	id     string
	ballot Ballot
	phase  time.Duration
	// downAt is when it sees the master subjectively down, odownAt
	// objectively (it has heard of quorum-1 others).
	downAt, odownAt time.Duration
	// candidate state
	nextAttempt time.Duration
	failed      int
	votes       map[string]string
	epoch       uint64
	announced   bool
	deadline    time.Duration
}

type etSim struct {
	r      *rand.Rand
	pol    electionPolicy
	prof   netProfile
	now    time.Duration
	seq    int
	q      etQueue
	s      []*etSentinel
	quorum int
	// results
	leaders  map[uint64]string
	decided  time.Duration
	epochs   uint64
	attempts int
}

func (m *etSim) after(d time.Duration, fire func()) {
	m.seq++
	heap.Push(&m.q, &etEvent{at: m.now + d, seq: m.seq, fire: fire})
}

func (m *etSim) between(lo, hi time.Duration) time.Duration { return lo + jitter(m.r, hi-lo) }

func (m *etSim) send(fn func()) { m.after(m.between(m.prof.minDelay, m.prof.maxDelay), fn) }

func (m *etSim) fsync(fn func()) { m.after(m.between(m.prof.minFsync, m.prof.maxFsync), fn) }

// tick is one sentinel's drive(): count the votes, give up, or stand.
func (m *etSim) tick(c *etSentinel) {
	defer m.after(m.prof.tick, func() { m.tick(c) })
	voters := len(m.s)
	if c.votes != nil {
		if w, ok := Tally(c.votes, voters, m.quorum); ok && w == c.id && c.announced {
			if prev, dup := m.leaders[c.epoch]; dup && prev != c.id {
				panic(fmt.Sprintf("epoch %d has two leaders: %s and %s", c.epoch, prev, c.id))
			}
			m.leaders[c.epoch] = c.id
			if m.decided == 0 {
				m.decided = m.now
			}
			c.votes = nil
			return
		}
		d := Defeated(c.votes, voters, m.quorum, c.id)
		if m.now > c.deadline || (m.pol.useDefeated && c.announced && d != Open) {
			c.votes = nil
			c.failed++
			c.nextAttempt = m.now + m.pol.retry(m.pol.timing, d, c.failed, m.r)
		}
		return
	}
	if m.decided != 0 || m.now < c.nextAttempt || m.now < c.odownAt {
		return
	}
	epoch := c.ballot.StartElection(c.id)
	m.attempts++
	m.epochs = max(m.epochs, epoch)
	c.epoch, c.votes, c.announced, c.deadline = epoch, map[string]string{c.id: c.id}, false, m.now+m.prof.electionDeadline
	m.fsync(func() {
		if c.epoch != epoch || c.votes == nil {
			return
		}
		c.announced = true
		for _, o := range m.s {
			if o == c {
				continue
			}
			o := o
			m.send(func() { m.vote(o, c, epoch) })
		}
	})
}

// vote is isMasterDown with a vote request: every voter sees the master
// down.
func (m *etSim) vote(o, c *etSentinel, epoch uint64) {
	news := epoch > o.ballot.Epoch
	leader, le, changed := o.ballot.Vote(epoch, c.id, m.now >= o.downAt)
	if news || (leader == c.id && le == epoch) {
		// Let that candidate work before standing ourselves (as
		// isMasterDown does, whether or not we voted for it).
		o.nextAttempt = max(o.nextAttempt, m.now+m.pol.timing.YieldTo(m.r))
	}
	reply := func() {
		m.send(func() {
			if c.epoch != epoch || c.votes == nil {
				return
			}
			switch {
			case le == epoch:
				c.votes[o.id] = leader
			case m.pol.countRefusals:
				c.votes[o.id] = ""
			}
		})
	}
	if changed {
		m.fsync(reply)
	} else {
		reply()
	}
}

// runElectionTime returns the virtual time from objective down to a
// decided leader, the highest epoch used, and how many attempts were made.
func runElectionTime(seed uint64, n int, pol electionPolicy, prof netProfile) (time.Duration, uint64, int) {
	m := &etSim{r: rand.New(rand.NewPCG(seed, uint64(n))), pol: pol, prof: prof, quorum: n/2 + 1, leaders: map[uint64]string{}}
	for i := 0; i < n; i++ {
		c := &etSentinel{id: fmt.Sprint("s", i), phase: jitter(m.r, prof.tick), downAt: jitter(m.r, prof.stagger)}
		m.s = append(m.s, c)
		m.after(c.phase, func() { m.tick(c) })
	}
	for _, c := range m.s {
		// Objective down once quorum-1 others said they see it down (they
		// are asked every 50 ms), then the desync delay.
		var others []time.Duration
		for _, o := range m.s {
			if o != c {
				others = append(others, o.downAt)
			}
		}
		slices.Sort(others)
		c.odownAt = c.downAt
		if prof.stagger > 0 {
			c.odownAt = max(c.downAt, others[m.quorum-2]) + jitter(m.r, 50*time.Millisecond)
		}
		c.nextAttempt = c.odownAt + pol.timing.FirstAttempt(m.r)
	}
	for m.q.Len() > 0 && m.decided == 0 && m.now < 10*time.Minute {
		e := heap.Pop(&m.q).(*etEvent)
		m.now = e.at
		e.fire()
	}
	return m.decided, m.epochs, m.attempts
}

// TestElectionTimeToLeader: with 3 and 5 sentinels that all see the
// master down at the same instant, a leader is always decided, and the
// figures (percentiles of the time to a decided leader, how often the
// first epoch failed) are logged for both retry policies.
func TestElectionTimeToLeader(t *testing.T) {
	runs := 2000
	if testing.Short() || raceBuild {
		runs = 200
	}
	for _, prof := range []netProfile{profileLAN, profileSlow, profileStaggered} {
		for _, n := range []int{3, 5} {
			for _, pol := range []electionPolicy{policyBackoff, policyNoRefusals, policyFixed} {
				var times []time.Duration
				split, maxEpoch := 0, uint64(0)
				for seed := uint64(0); seed < uint64(runs); seed++ {
					d, epochs, _ := runElectionTime(seed, n, pol, prof)
					if d == 0 {
						t.Fatalf("%s, %d sentinels, %s, seed %d: no leader decided", prof.name, n, pol.name, seed)
					}
					times = append(times, d)
					if epochs > 1 {
						split++
					}
					maxEpoch = max(maxEpoch, epochs)
				}
				slices.Sort(times)
				pct := func(p float64) time.Duration { return times[int(p*float64(len(times)-1))].Round(time.Millisecond) }
				t.Logf("%-14s %d sentinels, %-23s: time to leader p50 %v p90 %v p99 %v max %v; first epoch split in %.1f%% of %d runs (max epoch %d)",
					prof.name, n, pol.name, pct(0.5), pct(0.9), pct(0.99), pct(1), 100*float64(split)/float64(runs), runs, maxEpoch)
			}
		}
	}
}
