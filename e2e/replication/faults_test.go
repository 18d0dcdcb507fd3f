package replication

import (
	"context"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vigilkv/vigil/internal/testutil"
)

func digestsEqual(t *testing.T, a, b *testutil.Proc) {
	t.Helper()
	ctx := context.Background()
	if x, y := a.Client().Do(ctx, "DEBUG", "DIGEST").Val(), b.Client().Do(ctx, "DEBUG", "DIGEST").Val(); x != y {
		t.Fatalf("datasets differ: digest %v vs %v", x, y)
	}
}

// TestReplicaKilledMidFullSync: a replica killed while its full sync
// streams, restarted, syncs again and converges.
func TestReplicaKilledMidFullSync(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t, debugArgs...)
	mc := master.Client()
	if err := mc.Do(ctx, "DEBUG", "POPULATE", "300000", "key", "100").Err(); err != nil {
		t.Fatal(err)
	}
	host, port := splitAddr(master.Addr)
	replica := testutil.StartVigil(t, debugArgs...)
	replica.Client().SlaveOf(ctx, host, port)
	// Kill it as soon as the transfer is under way.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(replica.Client().Info(ctx, "replication").Val(), "master_sync_in_progress:1") {
		if time.Now().After(deadline) {
			t.Fatal("the full sync never started")
		}
		time.Sleep(time.Millisecond)
	}
	replica.Kill()
	mc.Set(ctx, "after-kill", "1", 0)
	replica.Restart()
	replica.Client().SlaveOf(ctx, host, port)
	testutil.WaitInfo(t, replica.Client(), "replication", "master_link_status:up")
	waitSynced(t, replica.Client(), mc)
	digestsEqual(t, master, replica)
}

// TestBacklogOverflowForcesFullSync: a replica frozen and cut off while
// more than the backlog is written comes back with a full resync and
// converges; one cut off briefly continues partially.
func TestBacklogOverflowForcesFullSync(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t, append([]string{"--repl-backlog-size", "16384"}, debugArgs...)...)
	replica := testutil.StartVigil(t, debugArgs...)
	mc := master.Client()
	replicate(t, replica, master)
	replica.Freeze()
	mc.Do(ctx, "CLIENT", "KILL", "TYPE", "replica")
	for i := 0; i < 2000; i++ {
		mc.Set(ctx, "k"+strings.Repeat("x", i%10), strings.Repeat("v", 100), 0)
	}
	replica.Thaw()
	testutil.WaitInfo(t, replica.Client(), "replication", "master_link_status:up")
	waitSynced(t, replica.Client(), mc)
	digestsEqual(t, master, replica)
	if n := infoInt(mc.Info(ctx, "stats").Val(), "sync_full"); n != 2 {
		t.Fatalf("sync_full %d: a backlog overflow needs a second full sync", n)
	}
}

// TestMasterKilledMidTransfer: the master dies during a full sync; the
// replica keeps retrying and converges with the restarted master.
func TestMasterKilledMidTransfer(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t, append([]string{"--save", "60 1"}, debugArgs...)...)
	mc := master.Client()
	mc.Do(ctx, "DEBUG", "POPULATE", "200000", "key", "100")
	if err := mc.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	replica := testutil.StartVigil(t, debugArgs...)
	host, port := splitAddr(master.Addr)
	replica.Client().SlaveOf(ctx, host, port)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(replica.Client().Info(ctx, "replication").Val(), "master_sync_in_progress:1") {
		if time.Now().After(deadline) {
			t.Fatal("the full sync never started")
		}
		time.Sleep(time.Millisecond)
	}
	master.Kill()
	master.Restart()
	testutil.WaitInfo(t, replica.Client(), "replication", "master_link_status:up")
	waitSynced(t, replica.Client(), master.Client())
	digestsEqual(t, master, replica)
}

// processorsTestable says whether the processor count a node reports
// follows its work here (see node/procs).
func processorsTestable() bool {
	return runtime.NumCPU() >= 2 && os.Getenv("GOMAXPROCS") == ""
}

// TestLocalReplicaTakesNoProcessor: a master serves clients on one
// processor, and a replica on the same host does not earn it a second
// (it would take the replica's share of the cores); TestReplicaCutOff
// checks that a replica on another host does, and that the master gives
// it back when that replica is gone.
func TestLocalReplicaTakesNoProcessor(t *testing.T) {
	if !processorsTestable() {
		t.Skip("needs two CPUs and no GOMAXPROCS override")
	}
	master := testutil.StartVigil(t, debugArgs...)
	mc := master.Client()
	testutil.WaitInfo(t, mc, "server", "go_maxprocs:1")
	replica := testutil.StartVigil(t, debugArgs...)
	replicate(t, replica, master)
	waitSynced(t, replica.Client(), mc)
	for i := 0; i < 10; i++ {
		if info := mc.Info(context.Background(), "server").Val(); !strings.Contains(info, "go_maxprocs:1") {
			t.Fatalf("a replica on this host took a processor:\n%s", info)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
