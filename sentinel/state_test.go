package sentinel

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"go.uber.org/zap"
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
