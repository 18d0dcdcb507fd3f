package replication

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

// waitaof runs WAITAOF and returns its two counts as "local replicas".
func waitaof(t *testing.T, c *redis.Client, numlocal, numreplicas, timeoutMs int) string {
	t.Helper()
	v, err := c.Do(context.Background(), "WAITAOF", numlocal, numreplicas, timeoutMs).Slice()
	if err != nil || len(v) != 2 {
		t.Fatalf("WAITAOF %d %d %d: %v %v", numlocal, numreplicas, timeoutMs, v, err)
	}
	return fmt.Sprint(v[0], " ", v[1])
}

// TestWaitaofErrors: argument checks and refusals with Redis 7.2's error
// texts (redis-server 7.0 has no WAITAOF; the texts come from Redis's
// source and its test suite).
func TestWaitaofErrors(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t)
	replica := testutil.StartVigil(t)
	replicate(t, replica, master)
	mc, rc := master.Client(), replica.Client()
	cases := []struct {
		c    *redis.Client
		args []any
		want string
	}{
		{mc, []any{1, 0, 0}, "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled."},
		{mc, []any{2, 0, 0}, "ERR value is out of range, value must between 0 and 1"},
		{mc, []any{-1, 0, 0}, "ERR value is out of range, value must between 0 and 1"},
		{mc, []any{"x", 0, 0}, "ERR value is not an integer or out of range"},
		{mc, []any{0, -1, 0}, "ERR value is out of range, must be positive"},
		{mc, []any{0, "x", 0}, "ERR value is not an integer or out of range"},
		{mc, []any{0, 0, -1}, "ERR timeout is negative"},
		{mc, []any{0, 0, "x"}, "ERR timeout is not an integer or out of range"},
		{mc, []any{0, 0}, "ERR wrong number of arguments for 'waitaof' command"},
		{rc, []any{0, 0, 0}, "ERR WAITAOF cannot be used with replica instances. Please also note that writes to replicas are just local and are not propagated."},
	}
	for _, tc := range cases {
		err := tc.c.Do(ctx, append([]any{"WAITAOF"}, tc.args...)...).Err()
		if err == nil || err.Error() != tc.want {
			t.Errorf("WAITAOF %v: %v, want %q", tc.args, err, tc.want)
		}
	}
	// Nothing asked: both counts at once (no AOF anywhere).
	mc.Incr(ctx, "foo")
	if got := waitaof(t, mc, 0, 0, 0); got != "0 0" {
		t.Fatalf("WAITAOF 0 0 0 without AOF: %s", got)
	}
}

// TestWaitaof runs a vigil master with two replicas, one with the AOF
// and one without, and checks WAITAOF's counts as Redis 7.2's test suite
// describes them: a local copy counts once fsynced (never with
// appendfsync no), a replica once its REPLCONF ACK ... FACK covers the
// write (not a replica without AOF, not a frozen one); a client waiting
// for a local fsync gets an error when the AOF is turned off.
func TestWaitaof(t *testing.T) {
	ctx := context.Background()
	aof := []string{"--appendonly", "yes", "--appendfsync", "everysec"}
	master := testutil.StartVigil(t, aof...)
	withAOF := testutil.StartVigil(t, aof...)
	noAOF := testutil.StartVigil(t)
	replicate(t, withAOF, master)
	replicate(t, noAOF, master)
	// One connection, so WAITAOF follows the client's own write.
	mc := master.Client(func(o *redis.Options) { o.PoolSize = 1; o.ReadTimeout = -1 })
	waitSynced(t, withAOF.Client(), mc)
	waitSynced(t, noAOF.Client(), mc)

	// settle makes a step first wait (WAITAOF 1 1 0) until the local
	// and the AOF replica's copies are fsynced, so that what it checks
	// does not depend on when an everysec fsync comes.
	settle := false
	steps := []struct {
		name   string
		before func()
		args   [3]int
		want   string
	}{
		{"everysec local and the AOF replica", nil, [3]int{1, 1, 0}, "1 1"},
		{"the replica without AOF never counts", func() { settle = true }, [3]int{1, 2, 300}, "1 1"},
		{"appendfsync always", func() {
			mc.ConfigSet(ctx, "appendfsync", "always")
			withAOF.Client().ConfigSet(ctx, "appendfsync", "always")
		}, [3]int{1, 1, 0}, "1 1"},
		{"in MULTI: at once", nil, [3]int{0, 0, 0}, "1 1"},
		{"local appendfsync no never counts", func() {
			mc.ConfigSet(ctx, "appendfsync", "no")
		}, [3]int{1, 0, 300}, "0 1"},
		{"replica appendfsync no never counts", func() {
			mc.ConfigSet(ctx, "appendfsync", "always")
			withAOF.Client().ConfigSet(ctx, "appendfsync", "no")
		}, [3]int{0, 1, 300}, "1 0"},
		{"frozen replica", func() {
			withAOF.Client().ConfigSet(ctx, "appendfsync", "everysec")
			withAOF.Freeze()
		}, [3]int{0, 1, 300}, "1 0"},
		{"thawed replica", func() { withAOF.Thaw() }, [3]int{0, 1, 0}, "1 1"},
	}
	for i, st := range steps {
		if st.before != nil {
			st.before()
		}
		if err := mc.Incr(ctx, "foo").Err(); err != nil {
			t.Fatalf("%s: INCR: %v", st.name, err)
		}
		if settle {
			settle = false
			waitaof(t, mc, 1, 1, 0)
		}
		var got string
		if strings.HasPrefix(st.name, "in MULTI") {
			// Wait until both copies are fsynced, then WAITAOF in a
			// transaction answers at once with the counts.
			waitaof(t, mc, 1, 1, 0)
			cmds, err := mc.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Do(ctx, "WAITAOF", 1, 2, 0)
				return nil
			})
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			v, _ := cmds[0].(*redis.Cmd).Slice()
			got = fmt.Sprint(v[0], " ", v[1])
		} else {
			start := time.Now()
			got = waitaof(t, mc, st.args[0], st.args[1], st.args[2])
			if st.args[2] > 0 && time.Since(start) < time.Duration(st.args[2])*time.Millisecond/2 {
				t.Errorf("%s: WAITAOF returned before its timeout although short of its counts", st.name)
			}
		}
		if got != st.want {
			t.Fatalf("step %d (%s): WAITAOF %v answered %s, want %s", i, st.name, st.args, got, st.want)
		}
	}

	// A client waiting for the local fsync (appendfsync no: forever)
	// gets Redis's error when the AOF is turned off.
	mc.ConfigSet(ctx, "appendfsync", "no")
	mc.Incr(ctx, "foo")
	res := make(chan error, 1)
	go func() { res <- mc.Do(ctx, "WAITAOF", 1, 0, 0).Err() }()
	oc := master.Client()
	deadline := time.Now().Add(10 * time.Second)
	for infoField(t, oc, "clients", "blocked_clients") != "1" {
		if time.Now().After(deadline) {
			t.Fatal("WAITAOF never blocked")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := oc.ConfigSet(ctx, "appendonly", "no").Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-res:
		if want := "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled."; err == nil || err.Error() != want {
			t.Fatalf("blocked WAITAOF after appendonly no: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blocked WAITAOF not released when the AOF was turned off")
	}
	// No local AOF: only the replica's copy counts.
	mc.Incr(ctx, "foo")
	if got := waitaof(t, mc, 0, 1, 0); got != "0 1" {
		t.Fatalf("WAITAOF 0 1 0 with the master's AOF off: %s", got)
	}
	// Turned on at run time: the local copy counts once the first
	// rewrite has put the dataset in the AOF.
	oc.ConfigSet(ctx, "appendfsync", "everysec")
	if err := oc.ConfigSet(ctx, "appendonly", "yes").Err(); err != nil {
		t.Fatal(err)
	}
	mc.Incr(ctx, "foo")
	if got := waitaof(t, mc, 1, 1, 0); got != "1 1" {
		t.Fatalf("WAITAOF 1 1 0 with the AOF turned on at run time: %s", got)
	}
	if v := infoField(t, oc, "persistence", "aof_rewrite_in_progress"); v != "0" {
		t.Fatalf("local copy counted while the first rewrite runs (aof_rewrite_in_progress %s)", v)
	}
}

// TestWaitaofAfterReplicaFullSync: a replica whose offsets jump at a full
// sync from another master with a lower offset must not count for
// WAITAOF before its AOF holds the new dataset, and does once it does.
func TestWaitaofAfterReplicaFullSync(t *testing.T) {
	ctx := context.Background()
	aof := []string{"--appendonly", "yes", "--appendfsync", "always"}
	oldMaster := testutil.StartVigil(t, aof...)
	master := testutil.StartVigil(t, aof...)
	replica := testutil.StartVigil(t, aof...)
	// A long history on the old master: the replica's offsets are far
	// beyond the new master's.
	omc := oldMaster.Client()
	for i := 0; i < 200; i++ {
		omc.Set(ctx, "old", strings.Repeat("x", 1000), 0)
	}
	replicate(t, replica, oldMaster)
	waitSynced(t, replica.Client(), omc)
	mc := master.Client(func(o *redis.Options) { o.PoolSize = 1; o.ReadTimeout = -1 })
	mc.Set(ctx, "new", "1", 0)
	replicate(t, replica, master)
	mc.Incr(ctx, "foo")
	if got := waitaof(t, mc, 1, 1, 0); got != "1 1" {
		t.Fatalf("WAITAOF after the replica's full sync: %s", got)
	}
	// Counted only once it has the write: an offset of the old history
	// claimed as fsynced would have let WAITAOF return before.
	if v := replica.Client().Get(ctx, "foo").Val(); v != "1" {
		t.Fatalf("replica's foo %q once WAITAOF counted it", v)
	}
}

// TestWaitaofOnDemotedMaster: a client waiting in WAITAOF (or WAIT) when
// its master becomes a replica gets Redis's UNBLOCKED error.
func TestWaitaofOnDemotedMaster(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t, "--appendonly", "yes", "--appendfsync", "always")
	other := testutil.StartVigil(t)
	for _, cmd := range [][]any{{"WAITAOF", 0, 1, 0}, {"WAIT", 1, 0}} {
		c := master.Client(func(o *redis.Options) { o.PoolSize = 1; o.ReadTimeout = -1; o.MaxRetries = -1 })
		c.Incr(ctx, "foo")
		res := make(chan error, 1)
		go func() { res <- c.Do(ctx, cmd...).Err() }()
		oc := master.Client()
		deadline := time.Now().Add(10 * time.Second)
		for infoField(t, oc, "clients", "blocked_clients") != "1" {
			if time.Now().After(deadline) {
				t.Fatalf("%v never blocked", cmd)
			}
			time.Sleep(10 * time.Millisecond)
		}
		host, port := splitAddr(other.Addr)
		oc.SlaveOf(ctx, host, port)
		select {
		case err := <-res:
			if err == nil || !strings.HasPrefix(err.Error(), "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)") {
				t.Fatalf("%v on a demoted master: %v", cmd, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%v not released when the master became a replica", cmd)
		}
		oc.SlaveOf(ctx, "NO", "ONE")
		c.Close()
	}
}
