package sentinel

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestStateFileRestoresReplicasAndPeers: a state file names the known
// replicas and sentinels, and a sentinel started on it probes those
// replicas and can ask those peers for votes at once; a file written
// before these fields existed still loads (no replicas, its peers).
func TestStateFileRestoresReplicasAndPeers(t *testing.T) {
	const id = "0123456789012345678901234567890123456789"
	const peer = "abcdefabcdefabcdefabcdefabcdefabcdefabcd"
	for _, tc := range []struct {
		name         string
		file         string
		wantReplicas []string
		wantRunID    string
		wantPeers    []string
	}{
		{"without replicas (an older file)", `{"myid": "` + id + `", "current_epoch": 3,
			"groups": {"m": {"config_epoch": 2, "host": "127.0.0.1", "port": 7000,
				"ballot": {"Epoch": 3, "Leader": "` + peer + `", "LeaderEpoch": 3}}},
			"peers": {"` + peer + `": "127.0.0.1:26380"}}`,
			nil, "", []string{peer}},
		{"with replicas", `{"myid": "` + id + `", "current_epoch": 3,
			"groups": {"m": {"config_epoch": 2, "host": "127.0.0.1", "port": 7000,
				"ballot": {"Epoch": 3, "Leader": "` + peer + `", "LeaderEpoch": 3},
				"replicas": [{"addr": "127.0.0.1:7001", "runid": "r1"}, {"addr": "127.0.0.1:7002"},
					{"addr": "127.0.0.1:7000"}, {"addr": "no port"}]}},
			"peers": {"` + peer + `": "127.0.0.1:26380"}}`,
			[]string{"127.0.0.1:7001", "127.0.0.1:7002"}, "r1", []string{peer}},
		{"no peers, no replicas", `{"myid": "` + id + `", "current_epoch": 0, "groups": {}}`,
			nil, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "sentinel-state.json"), []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := Config{Dir: dir, Bind: "127.0.0.1", Groups: []Group{{Name: "m", Host: "127.0.0.1", Port: 7000, Quorum: 2,
				DownAfter: time.Second, FailoverTimeout: 10 * time.Second, ParallelSyncs: 1}}}
			s, err := New(cfg, zap.NewNop())
			if err != nil {
				t.Fatalf("loading the state file: %v", err)
			}
			if s.MyID() != id {
				t.Fatalf("id %q, want %q", s.MyID(), id)
			}
			g := s.grps["m"]
			var got []string
			for a := range g.replicas {
				got = append(got, a)
			}
			sort.Strings(got)
			if len(got) != len(tc.wantReplicas) || (len(got) > 0 && !slices.Equal(got, tc.wantReplicas)) {
				t.Fatalf("replicas %v, want %v", got, tc.wantReplicas)
			}
			if tc.wantRunID != "" && g.replicas[tc.wantReplicas[0]].runID != tc.wantRunID {
				t.Fatalf("run id %q, want %q", g.replicas[tc.wantReplicas[0]].runID, tc.wantRunID)
			}
			var peers []string
			for id := range s.peers {
				peers = append(peers, id)
			}
			if !slices.Equal(peers, tc.wantPeers) {
				t.Fatalf("peers %v, want %v", peers, tc.wantPeers)
			}
			for _, p := range s.peers {
				p.client.Close()
			}
			for _, in := range g.instances() {
				in.client.Close()
			}
			// The file rewritten at start keeps what it restored.
			st, err := loadState(s.path)
			if err != nil {
				t.Fatal(err)
			}
			var saved []string
			for _, kr := range st.Groups["m"].Replicas {
				saved = append(saved, kr.Addr)
			}
			if tc.wantReplicas != nil && !slices.Equal(saved, tc.wantReplicas) {
				t.Fatalf("replicas in the rewritten file %v, want %v", saved, tc.wantReplicas)
			}
		})
	}
}

// slowDisk is a state file writer that blocks until released, or fails.
type slowDisk struct {
	started chan struct{} // a write began
	release chan error    // what the write returns
}

func newSlowDisk() *slowDisk {
	return &slowDisk{started: make(chan struct{}, 16), release: make(chan error, 16)}
}

func (d *slowDisk) write(path string, data []byte) error {
	d.started <- struct{}{}
	if err := <-d.release; err != nil {
		return err
	}
	return writeStateFile(path, data)
}

// newTestSentinel is a sentinel on a temporary directory monitoring a
// group "m" at 127.0.0.1:1 (nothing listens there), not running; its
// events are in logs.
func newTestSentinel(t *testing.T) (*Sentinel, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.InfoLevel)
	cfg := Config{Dir: t.TempDir(), Bind: "127.0.0.1", Groups: []Group{{Name: "m", Host: "127.0.0.1", Port: 1, Quorum: 2,
		DownAfter: time.Second, FailoverTimeout: 10 * time.Second, ParallelSyncs: 1}}}
	s, err := New(cfg, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, in := range s.grps["m"].instances() {
			in.client.Close()
		}
	})
	return s, logs
}

// The vote reply waits for the state file, which is written without the
// sentinel's lock held (a slow disk must not stall PINGs, probes and
// gossip); if the write fails, the reply carries no vote and no
// +vote-for-leader is published.
func TestVoteIsDurableBeforeItIsAnnounced(t *testing.T) {
	for _, tc := range []struct {
		name       string
		writeErr   error
		wantLeader string
		wantEpoch  uint64
	}{
		{"write succeeds", nil, "cand", 5},
		{"write fails", errors.New("disk on fire"), "*", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, logs := newTestSentinel(t)
			disk := newSlowDisk()
			s.writeFile = disk.write
			s.grps["m"].sdownSince = time.Now()
			type reply struct {
				leader string
				epoch  uint64
			}
			replies := make(chan reply, 1)
			go func() {
				_, leader, le := s.isMasterDown("127.0.0.1", 1, 5, "cand")
				replies <- reply{leader, le}
			}()
			<-disk.started
			// The write is in progress: the lock is free and nothing has
			// been announced.
			if !s.mu.TryLock() {
				t.Fatal("the sentinel's lock is held while the state file is written")
			}
			s.mu.Unlock()
			select {
			case r := <-replies:
				t.Fatalf("replied %v before the vote was on disk", r)
			case <-time.After(50 * time.Millisecond):
			}
			if n := logs.FilterMessage("+vote-for-leader").Len(); n != 0 {
				t.Fatal("+vote-for-leader published before the vote was on disk")
			}
			disk.release <- tc.writeErr
			r := <-replies
			if r.leader != tc.wantLeader || r.epoch != tc.wantEpoch {
				t.Fatalf("replied %v, want %s %d", r, tc.wantLeader, tc.wantEpoch)
			}
			if got, want := logs.FilterMessage("+vote-for-leader").Len(), boolInt(tc.writeErr == nil); got != want {
				t.Fatalf("%d +vote-for-leader events, want %d", got, want)
			}
			st, err := loadState(s.path)
			if err != nil {
				t.Fatal(err)
			}
			if b := st.Groups["m"].Ballot; tc.writeErr == nil && (b.Leader != "cand" || b.LeaderEpoch != 5) {
				t.Fatalf("ballot on disk %+v, want the vote for cand in epoch 5", b)
			}
		})
	}
}

// An election is announced (+try-failover, vote requests to the peers)
// only once its epoch and our own vote are on disk, and its votes are
// counted only from then on.
func TestElectionStartsAfterItsEpochIsDurable(t *testing.T) {
	s, logs := newTestSentinel(t)
	disk := newSlowDisk()
	s.writeFile = disk.write
	ctx, cancel := context.WithCancel(context.Background())
	flushed := make(chan struct{})
	go s.flushLoop(ctx, flushed)
	defer func() {
		cancel()
		disk.release <- nil // the last write at the end
		<-flushed
	}()
	now := time.Now()
	s.mu.Lock()
	g := s.grps["m"]
	g.odown, g.sdownSince = true, now
	r := s.newInstance("127.0.0.1", 2, g)
	g.replicas[r.addr()] = r
	s.drive(g, now)
	epoch := g.electEpoch
	s.mu.Unlock()
	<-disk.started
	if epoch != 1 {
		t.Fatalf("election epoch %d, want 1", epoch)
	}
	time.Sleep(50 * time.Millisecond)
	if n := logs.FilterMessage("+try-failover").Len(); n != 0 {
		t.Fatal("+try-failover published before the epoch was on disk")
	}
	s.mu.Lock()
	g.votes["peer1"], g.votes["peer2"] = s.st.MyID, s.st.MyID // a majority, but not announced
	s.drive(g, now)
	elected := g.failing != nil
	s.mu.Unlock()
	if elected {
		t.Fatal("elected on votes counted before the election was announced")
	}
	disk.release <- nil
	deadline := time.Now().Add(10 * time.Second)
	for logs.FilterMessage("+try-failover").Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no +try-failover after the write")
		}
		time.Sleep(5 * time.Millisecond)
	}
	st, err := loadState(s.path)
	if err != nil {
		t.Fatal(err)
	}
	if st.CurrentEpoch != 1 || st.Groups["m"].Ballot.Leader != s.st.MyID {
		t.Fatalf("state on disk: epoch %d, vote %+v; want epoch 1 and our own vote", st.CurrentEpoch, st.Groups["m"].Ballot)
	}
}
