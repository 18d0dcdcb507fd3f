package failover

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestBallotVotesOncePerEpoch(t *testing.T) {
	var b Ballot
	for _, tc := range []struct {
		epoch     uint64
		candidate string
		down      bool
		leader    string
		lepoch    uint64
	}{
		{1, "a", true, "a", 1},
		{1, "b", true, "a", 1},  // already voted in epoch 1
		{2, "b", false, "a", 1}, // does not see the master down: no vote
		{2, "c", true, "c", 2},  // epoch 2 not voted yet
		{1, "d", true, "c", 2},  // an old epoch changes nothing
		{5, "d", true, "d", 5},
	} {
		l, le, _ := b.Vote(tc.epoch, tc.candidate, tc.down)
		if l != tc.leader || le != tc.lepoch {
			t.Fatalf("Vote(%d, %s): %s@%d, want %s@%d", tc.epoch, tc.candidate, l, le, tc.leader, tc.lepoch)
		}
	}
	if e := b.StartElection("me"); e != 6 || b.Leader != "me" {
		t.Fatalf("StartElection: epoch %d leader %s", e, b.Leader)
	}
}

func TestTally(t *testing.T) {
	for _, tc := range []struct {
		votes          map[string]string
		voters, quorum int
		winner         string
		ok             bool
	}{
		{map[string]string{"a": "a", "b": "a"}, 3, 2, "a", true},
		{map[string]string{"a": "a", "b": "b"}, 3, 2, "a", false},
		{map[string]string{"a": "a", "b": "a"}, 5, 2, "a", false}, // no majority of 5
		{map[string]string{"a": "a", "b": "a", "c": "a"}, 5, 2, "a", true},
		{map[string]string{"a": "a", "b": "a"}, 3, 3, "a", false}, // quorum above majority
		{map[string]string{"a": "a", "b": ""}, 3, 1, "a", false},
	} {
		w, ok := Tally(tc.votes, tc.voters, tc.quorum)
		if ok != tc.ok || (ok && w != tc.winner) {
			t.Errorf("Tally(%v, %d, %d) = %s %v, want %s %v", tc.votes, tc.voters, tc.quorum, w, ok, tc.winner, tc.ok)
		}
	}
}

// The simulation: N sentinels elect leaders over an unreliable network
// (loss, delay, partitions) with crashes and restarts, on a virtual clock
// and seeded randomness. Whatever happens, no epoch may have two leaders.

type simEvent struct {
	at   int64 // virtual ms
	seq  int
	fire func()
}

type simQueue []*simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(*simEvent)) }
func (q *simQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type simSentinel struct {
	id       string
	disk     Ballot // the persisted ballot: survives crashes
	up       bool
	seesDown bool
	// volatile election state
	epoch int64
	votes map[string]string
}

type sim struct {
	t       *testing.T
	r       *rand.Rand
	now     int64
	seq     int
	q       simQueue
	s       []*simSentinel
	side    map[string]int // partition side of each sentinel
	loss    float64
	quorum  int
	leaders map[uint64]string
	elected int
}

func (m *sim) after(ms int64, fire func()) {
	m.seq++
	heap.Push(&m.q, &simEvent{at: m.now + ms, seq: m.seq, fire: fire})
}

// send delivers fn to the receiver after a random delay unless lost or
// cut off by the partition.
func (m *sim) send(from, to *simSentinel, fn func()) {
	if m.side[from.id] != m.side[to.id] || m.r.Float64() < m.loss {
		return
	}
	m.after(int64(m.r.IntN(40)), func() {
		if to.up {
			fn()
		}
	})
}

func (m *sim) startElection(c *simSentinel) {
	if !c.up || !c.seesDown {
		return
	}
	epoch := c.disk.StartElection(c.id)
	c.epoch = int64(epoch)
	c.votes = map[string]string{c.id: c.id}
	for _, o := range m.s {
		if o == c {
			continue
		}
		o := o
		m.send(c, o, func() {
			leader, le, _ := o.disk.Vote(epoch, c.id, o.seesDown)
			m.send(o, c, func() {
				if c.epoch != int64(epoch) || le != epoch {
					return
				}
				c.votes[o.id] = leader
				if w, ok := Tally(c.votes, len(m.s), m.quorum); ok && w == c.id {
					if prev, dup := m.leaders[epoch]; dup && prev != c.id {
						m.t.Fatalf("epoch %d has two leaders: %s and %s", epoch, prev, c.id)
					}
					if _, dup := m.leaders[epoch]; !dup {
						m.elected++
					}
					m.leaders[epoch] = c.id
				}
			})
		})
	}
	// Retry later with a higher epoch (failover-timeout, randomized).
	m.after(200+int64(m.r.IntN(400)), func() { m.startElection(c) })
}

func runElectionSim(t *testing.T, seed uint64, n int) (elected int) {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	m := &sim{t: t, r: r, side: map[string]int{}, loss: r.Float64() * 0.3, quorum: n/2 + 1 - r.IntN(2), leaders: map[uint64]string{}}
	for i := 0; i < n; i++ {
		s := &simSentinel{id: fmt.Sprint("s", i), up: true}
		m.s = append(m.s, s)
	}
	// The master goes down: each sentinel notices at its own time.
	for _, s := range m.s {
		s := s
		m.after(int64(r.IntN(300)), func() {
			s.seesDown = true
			m.startElection(s)
		})
	}
	// Chaos: partitions, heals, crashes and restarts.
	for k := 0; k < 20; k++ {
		m.after(int64(r.IntN(5000)), func() {
			switch r.IntN(3) {
			case 0:
				for _, s := range m.s {
					m.side[s.id] = r.IntN(2)
				}
			case 1:
				m.side = map[string]int{}
			case 2:
				s := m.s[r.IntN(n)]
				s.up = false
				s.votes, s.epoch = nil, 0
				m.after(int64(50+r.IntN(500)), func() {
					s.up = true
					m.startElection(s)
				})
			}
		})
	}
	for m.q.Len() > 0 && m.now < 6000 {
		e := heap.Pop(&m.q).(*simEvent)
		m.now = e.at
		e.fire()
	}
	return m.elected
}

// TestElectionSimulation runs thousands of seeded simulations with 3 and
// 5 sentinels and asserts at most one leader per epoch.
func TestElectionSimulation(t *testing.T) {
	runs := 3000
	if testing.Short() {
		runs = 300
	}
	total := 0
	for seed := uint64(0); seed < uint64(runs); seed++ {
		for _, n := range []int{3, 5} {
			total += runElectionSim(t, seed, n)
		}
	}
	if total == 0 {
		t.Fatal("no election ever succeeded: the simulation is not exercising anything")
	}
	t.Logf("%d runs, %d epochs with a leader, never two", 2*runs, total)
}
