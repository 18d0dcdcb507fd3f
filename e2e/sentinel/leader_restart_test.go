package sentinel

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

// sentinelState is the part of a sentinel's state file the epoch checks
// read.
type sentinelState struct {
	CurrentEpoch uint64 `json:"current_epoch"`
	Groups       map[string]struct {
		ConfigEpoch uint64 `json:"config_epoch"`
		Ballot      struct {
			Epoch       uint64
			Leader      string
			LeaderEpoch uint64
		} `json:"ballot"`
	} `json:"groups"`
}

func readState(t *testing.T, p *testutil.Proc) sentinelState {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.Dir, "sentinel-state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st sentinelState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("%s: %v", p.Dir, err)
	}
	return st
}

// TestLeaderRestartedMidFailover: the sentinel leading a failover dies
// right after +elected-leader, or right after it promoted the replica
// (before +switch-master and before the new configuration is on its disk
// or gossiped), as SENTINEL SIMULATE-FAILURE makes it, and is started
// again at once with its state file. The flag is set on every sentinel
// (the leader is not known in advance), so a survivor elected next dies
// too and is restarted the same way: each restart forgets the flag.
// The failover must complete once: every +switch-master names the same
// new master, every sentinel ends on it with the same config epoch, one
// replica is master and the other follows it; and no restarted
// sentinel's epochs or vote went back (cmd/drill's leader-kill drill
// kills the leader after +selected-slave with kill -9 and checks the
// agreement, not the epochs on disk).
func TestLeaderRestartedMidFailover(t *testing.T) {
	for _, sim := range []string{"crash-after-election", "crash-after-promotion"} {
		t.Run(sim, func(t *testing.T) { leaderRestarted(t, sim) })
	}
}

func leaderRestarted(t *testing.T, sim string) {
	ctx := context.Background()
	g := startGroup(t, "mymaster", 2)
	// failover-timeout 3 s: after crash-after-promotion nobody is left to
	// re-point the other replica but +fix-slave-config, which waits for
	// failover-timeout without a configuration change (as Redis).
	sents := testutil.StartSentinelsWith(t, 3, append(g.monitorArg(2), "--down-after-milliseconds", "1000", "--failover-timeout", "3000")...)
	var clients []*redis.Client
	for _, s := range sents {
		clients = append(clients, sentinelClient(t, s))
	}
	waitTopology(t, clients, []*dataGroup{g})
	for _, c := range clients {
		if err := c.Do(ctx, "SENTINEL", "SIMULATE-FAILURE", sim).Err(); err != nil {
			t.Fatal(err)
		}
	}
	g.master.Kill()
	killed := time.Now()

	// Restart whatever crashes until every sentinel names the same
	// replica with the same config epoch.
	type crash struct {
		who int
		st  sentinelState
	}
	var crashes []crash
	ok := g.replicaPorts()
	var port string
	var epoch int
	deadline := time.Now().Add(45 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("no agreement 45 s after the kill (%d crashes so far)", len(crashes))
		}
		for i, s := range sents {
			if s.Running() {
				continue
			}
			if err := s.ExitErr(); err == nil || !strings.Contains(err.Error(), "exit status 99") {
				t.Fatalf("sentinel %d exited: %v", i, err)
			}
			crashes = append(crashes, crash{i, readState(t, s)})
			s.Restart()
		}
		ports, epochs := map[string]bool{}, map[string]bool{}
		for _, c := range clients {
			if f, err := masterInfo(ctx, c, "mymaster"); err == nil {
				ports[f["port"]], epochs[f["config-epoch"]] = true, true
				port = f["port"]
				epoch, _ = strconv.Atoi(f["config-epoch"])
			} else {
				ports["?"] = true
			}
		}
		if len(ports) == 1 && len(epochs) == 1 && ok[port] && epoch > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%s: %d crash(es) of the leader; every sentinel on port %s at config epoch %d %v after the kill",
		sim, len(crashes), port, epoch, time.Since(killed).Round(time.Millisecond))
	if len(crashes) == 0 {
		t.Fatal("no leader crashed: the simulated failure never fired")
	}

	// A replica promoted by a crashed leader and not chosen in the end is
	// converted back after failover.ConvertWait (2 s).
	var newMaster, other *testutil.Proc
	for _, r := range g.replicas {
		if strconv.Itoa(r.Port) == port {
			newMaster = r
		} else {
			other = r
		}
	}
	fixStart := time.Now()
	testutil.WaitFor(t, 20*time.Second, "the other replica to follow the new master", func() (bool, string) {
		info := other.Client().Info(ctx, "replication").Val()
		return strings.Contains(info, "role:slave") && strings.Contains(info, "master_port:"+port) &&
			strings.Contains(info, "master_link_status:up"), info
	})
	t.Logf("the other replica follows the new master %v later", time.Since(fixStart).Round(time.Millisecond))
	if info := newMaster.Client().Info(ctx, "replication").Val(); !strings.Contains(info, "role:master") {
		t.Fatalf("the new master does not say so:\n%s", info)
	}

	// Once: every +switch-master in every sentinel's log (across its
	// restarts) names the same new master.
	promotions := 0
	targets := map[string]bool{}
	for _, s := range sents {
		for _, line := range strings.Split(s.Log(), "\n") {
			switch {
			case strings.Contains(line, "+switch-master"):
				f := strings.Fields(line[strings.Index(line, "+switch-master"):])
				targets[strings.Trim(f[len(f)-1], `"}`)] = true
			case strings.Contains(line, "+promoted-slave"):
				promotions++
			}
		}
	}
	if len(targets) != 1 || !targets[port] {
		t.Fatalf("+switch-master named %v, want only %s", targets, port)
	}
	t.Logf("%d +promoted-slave in the logs", promotions)

	// Epochs only grow across the restarts, and the vote each crashed
	// sentinel had cast is still on its disk.
	for _, c := range crashes {
		now := readState(t, sents[c.who])
		before, after := c.st.Groups["mymaster"], now.Groups["mymaster"]
		if now.CurrentEpoch < c.st.CurrentEpoch || after.Ballot.Epoch < before.Ballot.Epoch || after.ConfigEpoch < before.ConfigEpoch {
			t.Errorf("sentinel %d went back: at the crash %+v, now %+v", c.who, c.st, now)
		}
		if after.Ballot.LeaderEpoch < before.Ballot.LeaderEpoch ||
			(after.Ballot.LeaderEpoch == before.Ballot.LeaderEpoch && after.Ballot.Leader != before.Ballot.Leader) {
			t.Errorf("sentinel %d's vote changed: %+v at the crash, %+v now", c.who, before.Ballot, after.Ballot)
		}
		if uint64(epoch) < before.Ballot.LeaderEpoch && before.Ballot.Leader != "" {
			// Not an error by itself (a later election may have failed),
			// but the final configuration comes from the highest epoch
			// that completed.
			t.Logf("sentinel %d crashed in epoch %d, the final config epoch is %d", c.who, before.Ballot.LeaderEpoch, epoch)
		}
	}
}
