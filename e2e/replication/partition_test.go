package replication

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/deploy/proc"
	"github.com/vigilkv/vigil/internal/netns"
	"github.com/vigilkv/vigil/internal/testutil"
)

// TestReplicaCutOff cuts a replica off the network (it runs in its own
// network namespace, the link is taken down) mid full sync, mid stream,
// and for long enough to overflow the backlog; after healing it resyncs
// (partially when the backlog still covers it) and the datasets converge.
func TestReplicaCutOff(t *testing.T) {
	if err := netns.Available(); err != nil {
		t.Skip(err)
	}
	cases := []struct {
		name     string
		keys     int    // dataset before the replica attaches
		backlog  string // repl-backlog-size
		midSync  bool   // cut while the full sync runs
		during   int    // writes made during the cut
		wantSync string // the INFO stats counter that must grow
	}{
		{"mid full sync", 500000, "1mb", true, 100, "sync_full"},
		{"mid stream", 1000, "1mb", false, 200, "sync_partial_ok"},
		{"backlog overflow", 1000, "16kb", false, 3000, "sync_full"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			subnet := 40 + os.Getpid()%60*3 + i
			ns, err := netns.New(fmt.Sprint("vr", subnet), subnet)
			if err != nil {
				t.Skip(err)
			}
			t.Cleanup(func() { ns.Close() })
			ctx := context.Background()
			master := testutil.StartVigil(t, "--bind", "127.0.0.1", ns.HostIP, "--protected-mode", "no", "--repl-timeout", "2",
				"--repl-backlog-size", tc.backlog, "--enable-debug-command", "yes", "--repl-ping-replica-period", "1")
			mc := master.Client()
			if err := mc.Do(ctx, "DEBUG", "POPULATE", tc.keys, "key", 100).Err(); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			path, args := ns.Command(testutil.ServerBinary(t), "--bind", "0.0.0.0", "--protected-mode", "no", "--dir", dir, "--save", "",
				"--repl-timeout", "2", "--enable-debug-command", "yes", "--loglevel", "notice")
			replica := testutil.StartProcess(t, proc.Spec{Name: "replica (in " + ns.Name + ")", Path: path, Args: args, Dir: dir,
				Host: ns.IP, LogPath: filepath.Join(dir, "replica.log")})
			rc := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", replica.Port), Dialer: ns.Dial, DisableIdentity: true})
			t.Cleanup(func() { rc.Close() })
			before := infoInt(mc.Info(ctx, "stats").Val(), tc.wantSync)
			if err := rc.SlaveOf(ctx, ns.HostIP, strconv.Itoa(master.Port)).Err(); err != nil {
				t.Fatal(err)
			}
			if tc.midSync {
				testutil.WaitInfo(t, rc, "replication", "master_sync_in_progress:1")
			} else {
				testutil.WaitInfo(t, rc, "replication", "master_link_status:up")
				waitSynced(t, rc, mc)
				before = infoInt(mc.Info(ctx, "stats").Val(), tc.wantSync)
				if processorsTestable() {
					// A replica on another host earns the master a
					// processor to feed it.
					testutil.WaitInfo(t, mc, "server", "go_maxprocs:2")
				}
			}
			if err := ns.Cut(); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < tc.during; i++ {
				mc.Set(ctx, "during:"+strconv.Itoa(i), strings.Repeat("x", 50), 0)
			}
			// Long enough for both sides' repl-timeout to notice.
			time.Sleep(4 * time.Second)
			if processorsTestable() && !tc.midSync {
				// The master dropped the replica and gave its
				// processor back.
				testutil.WaitInfo(t, mc, "server", "go_maxprocs:1")
			}
			if err := ns.Heal(); err != nil {
				t.Fatal(err)
			}
			mc.Set(ctx, "after", "1", 0)
			testutil.WaitInfo(t, rc, "replication", "master_link_status:up")
			waitSynced(t, rc, mc)
			if x, y := mc.Do(ctx, "DEBUG", "DIGEST").Val(), rc.Do(ctx, "DEBUG", "DIGEST").Val(); x != y {
				t.Fatalf("datasets differ after healing: digest %v vs %v", x, y)
			}
			grow := int64(1)
			if tc.midSync {
				grow = 2 // the interrupted sync and the one after healing
			}
			if after := infoInt(mc.Info(ctx, "stats").Val(), tc.wantSync); after < before+grow {
				t.Errorf("%s went from %d to %d: expected %d more", tc.wantSync, before, after, grow)
			}
		})
	}
}
