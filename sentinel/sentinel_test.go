package sentinel

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/vigilkv/vigil/deploy/proc"
)

// A sentinel that voted for another candidate and then sees the master
// objectively down keeps the delay the vote set, so it does not start a
// competing election while the leader's failover runs.
func TestODownKeepsTheDelayAfterAVote(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name        string
		nextAttempt time.Time
		wantAfter   time.Time
	}{
		{"after a vote", now.Add(2 * time.Second), now.Add(2 * time.Second)},
		{"no vote", time.Time{}, now},
		{"stale attempt", now.Add(-time.Minute), now},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Sentinel{log: zap.NewNop(), subs: newPubsub(), peers: map[string]*peer{},
				st: &persisted{MyID: "me", Groups: map[string]*groupConfig{}, Peers: map[string]string{}}}
			g := &group{cfg: Group{Name: "m", Quorum: 1, DownAfter: time.Second},
				master:   &instance{host: "127.0.0.1", port: 1, lastOK: now.Add(-2 * time.Second)},
				replicas: map[string]*instance{}, downVotes: map[string]time.Time{}, nextAttempt: tc.nextAttempt}
			s.checkDown(g, now)
			if !g.odown {
				t.Fatal("the master is not objectively down")
			}
			if g.nextAttempt.Before(tc.wantAfter) || g.nextAttempt.After(tc.wantAfter.Add(100*time.Millisecond)) {
				t.Fatalf("next attempt in %v, want %v (+ up to 100 ms)", g.nextAttempt.Sub(now), tc.wantAfter.Sub(now))
			}
		})
	}
}

// A vote request for a new epoch delays this sentinel's own attempts
// whether or not it votes: a sentinel that saw the master down a moment
// too late to vote must not start a competing election at once.
func TestVoteRequestDelaysOwnAttempt(t *testing.T) {
	for _, tc := range []struct {
		name      string
		seesDown  bool
		wantVote  string
		candidate string
		delayed   bool
	}{
		{"voted", true, "other", "other", true},
		{"refused, master not down here", false, "*", "other", true},
		{"own request", true, "me", "me", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Now()
			s := &Sentinel{log: zap.NewNop(), subs: newPubsub(), peers: map[string]*peer{}, path: filepath.Join(t.TempDir(), "state.json"),
				st: &persisted{MyID: "me", Groups: map[string]*groupConfig{"m": {Host: "127.0.0.1", Port: 1}}, Peers: map[string]string{}}}
			g := &group{cfg: Group{Name: "m", Quorum: 2, DownAfter: time.Second},
				master:   &instance{host: "127.0.0.1", port: 1},
				replicas: map[string]*instance{}, downVotes: map[string]time.Time{}}
			if tc.seesDown {
				g.sdownSince = now
			}
			s.grps = map[string]*group{"m": g}
			_, leader, _ := s.isMasterDown("127.0.0.1", 1, 1, tc.candidate)
			if leader != tc.wantVote {
				t.Fatalf("vote %q, want %q", leader, tc.wantVote)
			}
			if got := g.nextAttempt.After(now.Add(2 * time.Second)); got != tc.delayed {
				t.Fatalf("own attempt delayed: %v, want %v (next attempt in %v)", got, tc.delayed, g.nextAttempt.Sub(now))
			}
		})
	}
}

// A candidate that has not won gives up as soon as its election is
// decided: after a split vote it retries within the first retry window;
// beaten by a rival (seen in a five-sentinel CI run: the loser stood
// again 150 ms later, before the winner's +switch-master reached it, and
// was elected at the next epoch) it leaves the rival the yield time; while
// the rival may still win it waits.
func TestDefeatedCandidateWaits(t *testing.T) {
	for _, tc := range []struct {
		name     string
		votes    map[string]string
		open     bool
		min, max time.Duration
	}{
		{"beaten", map[string]string{"me": "me", "a": "a", "b": "a", "c": "a"}, false, 2 * time.Second, 3 * time.Second},
		{"split", map[string]string{"me": "me", "a": "a", "b": "a", "c": "c", "d": "c"}, false, 100 * time.Millisecond, 200 * time.Millisecond},
		{"a rival may still win", map[string]string{"me": "me", "a": "a", "b": "a", "c": ""}, true, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Now()
			s := &Sentinel{log: zap.NewNop(), subs: newPubsub(), peers: map[string]*peer{},
				st: &persisted{MyID: "me", Groups: map[string]*groupConfig{"m": {Host: "127.0.0.1", Port: 1}},
					Peers: map[string]string{"a": "", "b": "", "c": "", "d": ""}}}
			g := &group{cfg: Group{Name: "m", Quorum: 3, DownAfter: time.Second, FailoverTimeout: 10 * time.Second},
				master:   &instance{host: "127.0.0.1", port: 1},
				replicas: map[string]*instance{}, downVotes: map[string]time.Time{},
				votes: tc.votes, announced: true, electEpoch: 1, electDeadline: now.Add(time.Second)}
			s.drive(g, now)
			if tc.open {
				if g.votes == nil {
					t.Fatal("gave up while a rival may still win")
				}
				return
			}
			if g.votes != nil {
				t.Fatal("still waiting for a decided election")
			}
			if wait := g.nextAttempt.Sub(now); wait < tc.min || wait >= tc.max {
				t.Fatalf("next attempt in %v, want [%v, %v)", wait, tc.min, tc.max)
			}
		})
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// memDir is a directory for a test's state file in memory (/dev/shm)
// where there is one: every runtime change fsyncs the state file, which
// on a disk made the command fuzzer a hundred times slower.
func memDir(t testing.TB) string {
	dir, err := os.MkdirTemp("/dev/shm", "vigil-sentinel-test-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startTestSentinel runs a sentinel with cfg on loopback, at a free RESP
// port and with its state in memory, until the test ends.
func startTestSentinel(t testing.TB, cfg Config) *Sentinel {
	t.Helper()
	cfg.Bind, cfg.Port, cfg.Dir = "127.0.0.1", freePort(t), memDir(t)
	s, err := New(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

// runTestSentinel runs a sentinel monitoring g, gossiping alone, until
// the test ends, and returns it with a client once it answers.
func runTestSentinel(t testing.TB, g Group) (*Sentinel, *redis.Client) {
	t.Helper()
	s := startTestSentinel(t, Config{GossipPort: freePort(t), Groups: []Group{g}})
	ctx := context.Background()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.cfg.Port))
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true,
		ReadTimeout: 2 * time.Second, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	deadline := time.Now().Add(10 * time.Second)
	// proc.Ping, not the client's: go-redis logs every failed dial.
	for proc.Ping(ctx, addr) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the sentinel does not answer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s, c
}

// memberlist calls NotifyUpdate (which takes the sentinel's lock) while
// holding its own lock, so the sentinel must never call into memberlist
// under its lock: GET-MASTER-ADDR-BY-NAME did (to count the live
// sentinels) and deadlocked with a gossip update right after a failover
// (seen in the rolling-restart drill: the leader hung and never gossiped
// the new configuration).
func TestNoDeadlockBetweenQueriesAndGossip(t *testing.T) {
	ctx := context.Background()
	s, c := runTestSentinel(t, Group{Name: "m", Host: "127.0.0.1", Port: freePort(t), Quorum: 2, DownAfter: time.Second, FailoverTimeout: 10 * time.Second})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			// A changed configuration, gossiped: memberlist notifies the
			// update of our own node under its lock.
			s.mu.Lock()
			s.st.Groups["m"].ConfigEpoch++
			s.mu.Unlock()
			s.ml.UpdateNode(0)
		}
	}()
	for i := 0; i < 2000; i++ {
		if err := c.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "m").Err(); err != nil && !strings.HasPrefix(err.Error(), "NOQUORUM") {
			close(stop)
			t.Fatalf("query %d: %v (deadlocked?)", i, err)
		}
		if err := c.Do(ctx, "SENTINEL", "CKQUORUM", "m").Err(); err != nil && !strings.HasPrefix(err.Error(), "NOQUORUM") {
			close(stop)
			t.Fatalf("CKQUORUM %d: %v (deadlocked?)", i, err)
		}
	}
	close(stop)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the gossip update never returned (deadlocked)")
	}
}

// A node reporting role master is converted to follow our master only
// while our master reports role master itself.
func TestConvertOnlyToASaneMaster(t *testing.T) {
	for _, tc := range []struct {
		masterRole string
		convert    bool
	}{{"master", true}, {"slave", false}, {"", false}} {
		t.Run("master reports "+tc.masterRole, func(t *testing.T) {
			core, logs := observer.New(zap.InfoLevel)
			s := &Sentinel{log: zap.New(core), subs: newPubsub(), peers: map[string]*peer{},
				st: &persisted{MyID: "me", Groups: map[string]*groupConfig{}, Peers: map[string]string{}}}
			g := &group{cfg: Group{Name: "m", Quorum: 2, DownAfter: time.Second}, replicas: map[string]*instance{}, downVotes: map[string]time.Time{},
				ctx: context.Background()}
			g.master = s.newInstance("127.0.0.1", freePort(t), g)
			g.master.role = tc.masterRole
			r := s.newInstance("127.0.0.1", freePort(t), g)
			defer g.master.client.Close()
			defer r.client.Close()
			g.replicas[r.addr()] = r
			// It has reported master for a while (a node that just turned
			// master is given time: failover.ShouldConvertToReplica).
			r.role, r.roleTime = "master", time.Now().Add(-time.Minute)
			s.mu.Lock()
			s.parseInfo(g, r, "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n", time.Now())
			s.mu.Unlock()
			if converted := logs.FilterMessage("+convert-to-slave").Len() > 0; converted != tc.convert {
				t.Fatalf("converted %v, want %v", converted, tc.convert)
			}
		})
	}
}

// A peer's answer to our vote request counts as answered whether or not
// it voted for us in this epoch, so a split or refused election is seen
// as decided (failover.Defeated) before its deadline; answers to another
// election are ignored.
func TestRecordVote(t *testing.T) {
	for _, tc := range []struct {
		name        string
		epoch       uint64 // of the answer
		leader      string
		leaderEpoch uint64
		want        map[string]string
	}{
		{"a vote for us", 3, "me", 3, map[string]string{"me": "me", "p": "me"}},
		{"a vote for another", 3, "other", 3, map[string]string{"me": "me", "p": "other"}},
		{"a refusal (an older vote)", 3, "other", 2, map[string]string{"me": "me", "p": ""}},
		{"an answer to an older election", 2, "me", 2, map[string]string{"me": "me"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &group{electEpoch: 3, votes: map[string]string{"me": "me"}}
			g.recordVote("p", tc.epoch, tc.leader, tc.leaderEpoch)
			if len(g.votes) != len(tc.want) {
				t.Fatalf("votes %v, want %v", g.votes, tc.want)
			}
			for k, v := range tc.want {
				if got, ok := g.votes[k]; !ok || got != v {
					t.Fatalf("votes %v, want %v", g.votes, tc.want)
				}
			}
		})
	}
}

// A leader elected within a poll of +sdown may find the replicas' INFO
// older than the 5 s allowed while the master is down: it waits for the
// fast poll to refresh it (up to freshInfoWait) instead of aborting with
// -failover-abort-no-good-slave and retrying a second later.
func TestLeaderWaitsForFreshReplicaInfo(t *testing.T) {
	for _, tc := range []struct {
		name        string
		refreshedAt time.Duration // when the INFO turns fresh, after the choice began; 0: never
		wantEvent   string
	}{
		{"refreshed by the fast poll", 100 * time.Millisecond, "+selected-slave"},
		{"never refreshed", 0, "-failover-abort-no-good-slave"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zap.InfoLevel)
			s := &Sentinel{log: zap.New(core), subs: newPubsub(), peers: map[string]*peer{},
				st: &persisted{MyID: "me", Groups: map[string]*groupConfig{"m": {}}, Peers: map[string]string{}}}
			start := time.Now()
			g := &group{cfg: Group{Name: "m", Quorum: 2, DownAfter: time.Second, FailoverTimeout: 10 * time.Second},
				replicas: map[string]*instance{}, downVotes: map[string]time.Time{}, ctx: context.Background(), sdownSince: start.Add(-100 * time.Millisecond)}
			g.master = s.newInstance("127.0.0.1", freePort(t), g)
			r := s.newInstance("127.0.0.1", freePort(t), g)
			defer g.master.client.Close()
			defer r.client.Close()
			r.role, r.priority, r.lastOK, r.infoTime = "slave", 100, start, start.Add(-6*time.Second)
			g.replicas[r.addr()] = r
			g.failing = &failoverRun{epoch: 1, started: start, oldHost: "127.0.0.1", oldPort: g.master.port}
			gc := s.st.Groups["m"]
			for at := time.Duration(0); at <= 2*freshInfoWait; at += tickPeriod {
				now := start.Add(at)
				r.lastOK = now
				if tc.refreshedAt > 0 && at >= tc.refreshedAt {
					r.infoTime = now
				}
				s.stepFailover(g, gc, now)
				if g.failing == nil || g.failing.promoted != nil {
					break
				}
			}
			for _, ev := range []string{"+selected-slave", "-failover-abort-no-good-slave"} {
				if n, want := logs.FilterMessage(ev).Len(), boolInt(ev == tc.wantEvent); n != want {
					t.Fatalf("%d %s events, want %d", n, ev, want)
				}
			}
			if n := logs.FilterMessage("+failover-state-select-slave").Len(); n != 1 {
				t.Fatalf("%d +failover-state-select-slave events, want 1", n)
			}
		})
	}
}

// A peer's configuration sent straight to us (gossipConfig's datagram,
// ahead of the gossiped update) is adopted like a gossiped one: a newer
// config epoch switches the master, an older one changes nothing. The
// datagram port takes anything anyone sends: garbage, a truncated
// message or one without a sender id changes nothing either.
func TestConfigSentStraightIsLearned(t *testing.T) {
	master := Group{Name: "m", Host: "127.0.0.1", Port: 6001, Quorum: 2, DownAfter: time.Second, FailoverTimeout: 10 * time.Second}
	config := func(id string, epoch uint64) []byte {
		b, err := json.Marshal(nodeMeta{ID: id, Addr: "127.0.0.1:26999",
			Configs: map[string]groupSummary{"m": {Epoch: epoch, Host: "127.0.0.1", Port: 6002}}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name      string
		msg       []byte
		wantPort  int
		wantPeers int
	}{
		{"newer", config("peer", 3), 6002, 1},
		{"not newer", config("peer", 2), 6001, 1},
		{"garbage", []byte("\x00\xff not json"), 6001, 0},
		{"truncated", config("peer", 3)[:40], 6001, 0},
		{"no sender id", config("", 3), 6001, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := runTestSentinel(t, master)
			s.mu.Lock()
			s.st.Groups["m"].ConfigEpoch = 2
			s.mu.Unlock()
			delegate{s}.NotifyMsg(tc.msg)
			s.mu.Lock()
			defer s.mu.Unlock()
			if got := s.grps["m"].master.port; got != tc.wantPort {
				t.Fatalf("master port %d, want %d", got, tc.wantPort)
			}
			if got := len(s.st.Peers); got != tc.wantPeers {
				t.Fatalf("%d peers known, want %d", got, tc.wantPeers)
			}
		})
	}
}
