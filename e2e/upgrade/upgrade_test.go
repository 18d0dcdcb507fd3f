// Package upgrade tests vigil-server's in-place binary upgrade against
// real processes: connections, subscriptions and blocked clients survive,
// nothing acknowledged is lost, and every failure before the commit
// leaves the old process serving.
package upgrade

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// infoField reads one INFO field.
func infoField(t *testing.T, c *redis.Client, section, name string) string {
	t.Helper()
	info, err := c.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatalf("INFO %s: %v", section, err)
	}
	v := testutil.InfoField(info, name)
	if v == "" {
		t.Fatalf("INFO %s has no %s", section, name)
	}
	return v
}

// serverPid is the pid of the process serving c now.
func serverPid(t *testing.T, c *redis.Client) int {
	t.Helper()
	pid, err := strconv.Atoi(infoField(t, c, "server", "process_id"))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// killAtEnd makes sure a process the harness did not start (an upgrade's
// new process) is gone when the test ends.
func killAtEnd(t *testing.T, pid int) {
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGTERM)
		for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
		syscall.Kill(pid, syscall.SIGKILL)
	})
}

// upgrade runs UPGRADE on its own connection and returns the new pid.
func upgrade(t *testing.T, addr string, args ...any) (int, error) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 1, MaxRetries: -1, ReadTimeout: time.Minute, DisableIdentity: true})
	defer c.Close()
	ctx := context.Background()
	err := c.Do(ctx, append([]any{"UPGRADE"}, args...)...).Err()
	if err != nil {
		return 0, err
	}
	pid := serverPid(t, c)
	killAtEnd(t, pid)
	return pid, nil
}

func TestUpgradeKeepsEverything(t *testing.T) {
	p := testutil.StartVigil(t, "--enable-debug-command", "yes")
	ctx := context.Background()
	admin := p.Client()
	if err := admin.Do(ctx, "DEBUG", "POPULATE", 100000).Err(); err != nil {
		t.Fatal(err)
	}
	var dials atomic.Int64
	pool := redis.NewClient(&redis.Options{Addr: p.Addr, PoolSize: 4, MinIdleConns: 4, MaxRetries: -1, DisableIdentity: true,
		ReadTimeout: 10 * time.Second, ConnMaxIdleTime: -1,
		OnConnect: func(context.Context, *redis.Conn) error { dials.Add(1); return nil }})
	defer pool.Close()
	single := redis.NewClient(&redis.Options{Addr: p.Addr, PoolSize: 1, MaxRetries: -1, DisableIdentity: true, ReadTimeout: 10 * time.Second, ConnMaxIdleTime: -1})
	defer single.Close()
	if err := single.Do(ctx, "CLIENT", "SETNAME", "keeper").Err(); err != nil {
		t.Fatal(err)
	}
	if err := single.Do(ctx, "SELECT", 3).Err(); err != nil {
		t.Fatal(err)
	}
	id0, err := single.Do(ctx, "CLIENT", "ID").Int64()
	if err != nil {
		t.Fatal(err)
	}

	// A subscriber must see every message, in order.
	sub := pool.Subscribe(ctx, "news")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	// A client blocked for the whole run must be served at the end.
	blocker := redis.NewClient(&redis.Options{Addr: p.Addr, PoolSize: 1, MaxRetries: -1, DisableIdentity: true, ReadTimeout: -1})
	defer blocker.Close()
	blpop := make(chan []string, 1)
	go func() {
		v, _ := blocker.BLPop(ctx, 0, "jobs").Result()
		blpop <- v
	}()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var acked []string
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("w%d:%d", w, i)
				if err := pool.Set(ctx, k, i, 0).Err(); err != nil {
					fail(fmt.Errorf("SET %s: %w", k, err))
					continue
				}
				mu.Lock()
				acked = append(acked, k)
				mu.Unlock()
				if err := pool.Get(ctx, k).Err(); err != nil {
					fail(fmt.Errorf("GET %s: %w", k, err))
				}
			}
		}()
	}
	published := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if err := pool.Publish(ctx, "news", strconv.Itoa(published)).Err(); err != nil {
				fail(fmt.Errorf("PUBLISH: %w", err))
				continue
			}
			published++
		}
	}()
	received := make(chan int, 1)
	go func() {
		n := 0
		for m := range sub.Channel() {
			n++
			if m.Payload == "end" {
				break
			}
			if m.Payload != strconv.Itoa(n-1) {
				fail(fmt.Errorf("subscriber got message %q, expected %d", m.Payload, n-1))
			}
		}
		received <- n
	}()

	upgrades := 20
	if testing.Short() {
		upgrades = 5
	}
	pid := p.Pid
	var longest time.Duration
	for i := 0; i < upgrades; i++ {
		time.Sleep(50 * time.Millisecond)
		start := time.Now()
		newPid, err := upgrade(t, p.Addr)
		if err != nil {
			t.Fatalf("upgrade %d: %v", i+1, err)
		}
		longest = max(longest, time.Since(start))
		if newPid == pid {
			t.Fatalf("upgrade %d: still pid %d", i+1, pid)
		}
		pid = newPid
	}
	close(stop)
	wg.Wait()
	t.Logf("%d upgrades, longest UPGRADE %v, %d writes acknowledged, %d messages published", upgrades, longest, len(acked), published)
	if err := pool.Publish(ctx, "news", "end").Err(); err != nil {
		t.Fatal(err)
	}
	if err := admin.RPush(ctx, "jobs", "job1").Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-blpop:
		if len(v) != 2 || v[1] != "job1" {
			t.Errorf("BLPOP got %v", v)
		}
	case <-time.After(10 * time.Second):
		t.Error("the client blocked in BLPOP was not served")
	}
	select {
	case n := <-received:
		if n != published+1 {
			t.Errorf("subscriber got %d messages, %d published", n, published+1)
		}
	case <-time.After(10 * time.Second):
		t.Error("the subscriber did not get the last message")
	}
	for _, err := range errs[:min(len(errs), 5)] {
		t.Errorf("client error across upgrades: %v", err)
	}
	if len(errs) > 0 {
		t.Fatalf("%d client errors", len(errs))
	}
	if n := dials.Load(); n > 5 {
		// 4 pooled connections plus the subscriber's.
		t.Errorf("the pool dialled %d connections: clients reconnected", n)
	}
	if id, err := single.Do(ctx, "CLIENT", "ID").Int64(); err != nil || id != id0 {
		t.Errorf("CLIENT ID %d (%v), was %d", id, err, id0)
	}
	if name := single.Do(ctx, "CLIENT", "GETNAME").Val(); name != "keeper" {
		t.Errorf("CLIENT GETNAME %v after upgrades", name)
	}
	if db := single.Do(ctx, "CLIENT", "INFO").String(); !strings.Contains(db, " db=3 ") {
		t.Errorf("selected db lost: %s", db)
	}
	for _, k := range acked {
		if pool.Exists(ctx, k).Val() != 1 {
			t.Fatalf("acknowledged write %s lost", k)
		}
	}
	if n := admin.DBSize(ctx).Val(); n < 100000 {
		t.Errorf("DBSIZE %d after upgrades", n)
	}
	if n := infoField(t, admin, "server", "upgrades"); n != strconv.Itoa(upgrades) {
		t.Errorf("INFO upgrades:%s after %d upgrades", n, upgrades)
	}
	t.Logf("last upgrade paused commands for %s ms", infoField(t, admin, "server", "upgrade_last_pause_ms"))
	checkFDs(t, admin, pid)
}

// checkFDs asserts the serving process holds no descriptor it should not:
// its sockets are the listener and the connected clients, nothing else
// (no control channel, no replication link left from the handoff).
func checkFDs(t *testing.T, c *redis.Client, pid int) {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("cannot list %s: %v", dir, err)
	}
	sockets := 0
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(target, "socket:"):
			sockets++
		case strings.HasPrefix(target, "anon_inode:"), strings.HasPrefix(target, "pipe:"), target == "/dev/null", strings.HasSuffix(target, ".log"),
			strings.HasPrefix(target, "/sys/fs/cgroup/"): // the Go runtime's own (GOMAXPROCS follows the CPU quota)
		default:
			t.Errorf("the new process holds fd %s -> %s", e.Name(), target)
		}
	}
	clients := strings.Count(c.ClientList(context.Background()).Val(), "\n")
	if sockets != clients+1 {
		t.Errorf("the new process holds %d sockets for 1 listener and %d clients", sockets, clients)
	}
}

// childOf finds a child process of pid.
func childOf(pid int) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			return n
		}
	}
	return 0
}

func TestUpgradeFailuresLeaveTheOldProcessServing(t *testing.T) {
	server := testutil.ServerBinary(t)
	dir := t.TempDir()
	script := func(name, body string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cases := []struct {
		name   string
		binary string
		kill   bool // kill -9 the new process as soon as it appears
		want   string
	}{
		{"missing binary", filepath.Join(dir, "nope"), false, "missing or not executable"},
		{"not executable", script("noexec", "#!/bin/sh\nexit 0\n", 0o644), false, "missing or not executable"},
		{"crashes on start", script("crash", "#!/bin/sh\nexit 3\n", 0o755), false, "exit status 3"},
		{"rejects the config", script("badconf", "#!/bin/sh\nexec "+server+" \"$@\" --maxmemory-policy nonsense\n", 0o755), false, "did not report ready"},
		{"killed mid-handoff", server, true, "ERR"},
	}
	p := testutil.StartVigil(t, "--enable-debug-command", "yes")
	ctx := context.Background()
	admin := p.Client()
	if err := admin.Do(ctx, "DEBUG", "POPULATE", 200000).Err(); err != nil {
		t.Fatal(err)
	}
	pool := redis.NewClient(&redis.Options{Addr: p.Addr, PoolSize: 1, MinIdleConns: 1, MaxRetries: -1, DisableIdentity: true, ConnMaxIdleTime: -1})
	defer pool.Close()
	id0 := pool.Do(ctx, "CLIENT", "ID").Val()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.kill {
				go func() {
					for i := 0; i < 5000; i++ {
						if c := childOf(p.Pid); c != 0 {
							syscall.Kill(c, syscall.SIGKILL)
							return
						}
						time.Sleep(200 * time.Microsecond)
					}
				}()
			}
			_, err := upgrade(t, p.Addr, "BINARY", tc.binary)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("UPGRADE error %v, want one containing %q", err, tc.want)
			}
			if pid := serverPid(t, admin); pid != p.Pid {
				t.Fatalf("served by pid %d, not the original %d", pid, p.Pid)
			}
			if err := pool.Set(ctx, "after:"+tc.name, 1, 0).Err(); err != nil {
				t.Fatalf("write after the failed upgrade: %v", err)
			}
			if id := pool.Do(ctx, "CLIENT", "ID").Val(); id != id0 {
				t.Fatalf("pooled connection replaced: CLIENT ID %v, was %v", id, id0)
			}
			if n := admin.DBSize(ctx).Val(); n < 200000 {
				t.Fatalf("DBSIZE %d", n)
			}
		})
	}
	if c := childOf(p.Pid); c != 0 {
		t.Errorf("a failed upgrade left child process %d", c)
	}
}

func TestUpgradeReplicationContinuesPartially(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t, "--enable-debug-command", "yes")
	replica := testutil.StartVigil(t, "--enable-debug-command", "yes", "--replicaof", "127.0.0.1 "+strconv.Itoa(master.Port))
	mc, rc := master.Client(), replica.Client()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	linkUp := func() bool { return strings.Contains(rc.Info(ctx, "replication").Val(), "master_link_status:up") }
	waitFor("the replica's link", linkUp)
	for i := 0; i < 1000; i++ {
		mc.Set(ctx, "k"+strconv.Itoa(i), i, 0)
	}
	full0 := infoField(t, mc, "stats", "sync_full")
	partial0, _ := strconv.Atoi(infoField(t, mc, "stats", "sync_partial_ok"))

	// The master is upgraded under a write load: its replica continues
	// from the new process and misses nothing (the digests compare the
	// whole datasets).
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			mc.Incr(ctx, "counter:"+strconv.Itoa(i%100))
		}
	}()
	time.Sleep(100 * time.Millisecond)
	_, err := upgrade(t, master.Addr)
	time.Sleep(100 * time.Millisecond)
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	waitFor("the replica to resync with the new master", func() bool {
		n, _ := strconv.Atoi(infoField(t, mc, "stats", "sync_partial_ok"))
		return n > partial0 && linkUp()
	})
	if f := infoField(t, mc, "stats", "sync_full"); f != full0 {
		t.Errorf("sync_full %s after the master's upgrade, was %s", f, full0)
	}
	mc.Set(ctx, "after-master", 1, 0)
	waitFor("the write to replicate", func() bool { return rc.Exists(ctx, "after-master").Val() == 1 })
	if a, b := mc.Do(ctx, "DEBUG", "DIGEST").Val(), rc.Do(ctx, "DEBUG", "DIGEST").Val(); a != b {
		t.Fatalf("the replica diverged across the master's upgrade: digest %v vs %v", a, b)
	}

	// The replica is upgraded: it continues from the master partially.
	partial1, _ := strconv.Atoi(infoField(t, mc, "stats", "sync_partial_ok"))
	if _, err := upgrade(t, replica.Addr); err != nil {
		t.Fatal(err)
	}
	waitFor("the upgraded replica to continue", func() bool {
		n, _ := strconv.Atoi(infoField(t, mc, "stats", "sync_partial_ok"))
		return n > partial1 && linkUp()
	})
	if f := infoField(t, mc, "stats", "sync_full"); f != full0 {
		t.Errorf("sync_full %s after the replica's upgrade, was %s", f, full0)
	}
	mc.Set(ctx, "after-replica", 1, 0)
	waitFor("the write to replicate", func() bool { return rc.Exists(ctx, "after-replica").Val() == 1 })
	if a, b := mc.DBSize(ctx).Val(), rc.DBSize(ctx).Val(); a != b {
		t.Errorf("master has %d keys, replica %d", a, b)
	}
}

func TestUpgradeMovesConnectionState(t *testing.T) {
	p := testutil.StartVigil(t)
	ctx := context.Background()
	admin := p.Client()
	admin.Set(ctx, "watched", "v0", 0)

	inMulti := p.Raw()
	inMulti.Expect("+OK\r\n", "MULTI")
	inMulti.Expect("+QUEUED\r\n", "INCR", "counter")
	inMulti.Expect("+QUEUED\r\n", "INCR", "counter")

	watcher := p.Raw()
	watcher.Expect("+OK\r\n", "WATCH", "watched")

	resp3 := p.Raw()
	if v := resp3.DoValue("HELLO", "3", "SETNAME", "r3"); v.Kind == 0 {
		t.Fatal("HELLO 3 failed")
	}

	monitor := p.Raw()
	monitor.Expect("+OK\r\n", "MONITOR")

	// Half a command: the rest arrives after the upgrade.
	partial := p.Raw()
	partial.Write([]byte("*3\r\n$3\r\nSET\r\n$7\r\npartial\r\n$2\r\nv"))
	time.Sleep(50 * time.Millisecond)

	if _, err := upgrade(t, p.Addr); err != nil {
		t.Fatal(err)
	}

	partial.Write([]byte("1\r\n"))
	if got := partial.Read(); string(got) != "+OK\r\n" {
		t.Errorf("the command split across the upgrade got %q", got)
	}
	if v := admin.Get(ctx, "partial").Val(); v != "v1" {
		t.Errorf("partial = %q", v)
	}
	if got := inMulti.Do("EXEC"); string(got) != "*2\r\n:1\r\n:2\r\n" {
		t.Errorf("EXEC of a transaction queued before the upgrade: %q", got)
	}
	// WATCH does not move: the transaction fails as if the key changed,
	// which is safe (the client retries).
	watcher.Expect("+OK\r\n", "MULTI")
	watcher.Expect("+QUEUED\r\n", "SET", "watched", "v1")
	if got := watcher.Do("EXEC"); string(got) != "*-1\r\n" {
		t.Errorf("EXEC after WATCH across the upgrade: %q, want a null array", got)
	}
	if got := resp3.Do("CLIENT", "GETNAME"); string(got) != "$2\r\nr3\r\n" {
		t.Errorf("CLIENT GETNAME: %q", got)
	}
	if got := resp3.Do("HGETALL", "nokey"); string(got) != "%0\r\n" {
		t.Errorf("RESP3 lost: HGETALL replied %q", got)
	}
	// The MONITOR connection moved too and goes on streaming commands
	// run after the upgrade.
	admin.Set(ctx, "after-upgrade", "1", 0)
	for deadline := time.Now().Add(10 * time.Second); ; {
		line := string(monitor.Read())
		if strings.Contains(line, `"after-upgrade"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("MONITOR saw no command after the upgrade (last line %q)", line)
		}
	}
}

func TestUpgradeContinuesTheAOF(t *testing.T) {
	p := testutil.StartVigil(t, "--appendonly", "yes", "--appendfsync", "always")
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: p.Addr, PoolSize: 2, MaxRetries: -1, DisableIdentity: true})
	defer c.Close()
	stop := make(chan struct{})
	done := make(chan []string)
	go func() {
		var acked []string
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- acked
				return
			default:
			}
			k := "k" + strconv.Itoa(i)
			if c.Set(ctx, k, i, 0).Err() == nil {
				acked = append(acked, k)
			}
		}
	}()
	time.Sleep(200 * time.Millisecond)
	pid, err := upgrade(t, p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	acked := <-done
	if n := infoField(t, c, "persistence", "aof_enabled"); n != "1" {
		t.Fatalf("aof_enabled:%s after the upgrade", n)
	}
	// A crash of the new process loses nothing acknowledged: it appended
	// to the same AOF.
	syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	p.Restart()
	c2 := p.Client()
	for _, k := range acked {
		if c2.Exists(ctx, k).Val() != 1 {
			t.Fatalf("acknowledged write %s lost (of %d) after the upgraded process crashed", k, len(acked))
		}
	}
	t.Logf("%d writes acknowledged across the upgrade, all in the AOF", len(acked))
}
