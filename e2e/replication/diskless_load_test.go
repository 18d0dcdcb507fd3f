package replication

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

// holdProxy forwards TCP connections to a target and can stop the
// target-to-client direction after a number of bytes, so that a test
// catches a replica in the middle of a full sync's transfer however fast
// the machine is. It is a network fault, not a stand-in for a server:
// both ends are real processes.
type holdProxy struct {
	ln     net.Listener
	target string

	mu sync.Mutex
	// holdAfter is how many bytes the next connection forwards from the
	// target before it waits for release (<0: never).
	holdAfter int64
	// refuse closes new connections at once (the link stays down).
	refuse  bool
	conns   []net.Conn
	held    chan struct{}
	release chan struct{}
}

// startHoldProxy listens on a free loopback port and forwards to target
// until the test ends.
func startHoldProxy(t *testing.T, target string) *holdProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &holdProxy{ln: ln, target: target, holdAfter: -1, held: make(chan struct{}, 16), release: make(chan struct{})}
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
	})
	return p
}

// addr is host and port of the proxy, for REPLICAOF.
func (p *holdProxy) addr() (string, string) { return splitAddr(p.ln.Addr().String()) }

func (p *holdProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse, holdAfter, release := p.refuse, p.holdAfter, p.release
		if !refuse {
			// One connection holds: a replica's next attempt goes through.
			p.holdAfter = -1
		}
		p.mu.Unlock()
		if refuse {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() {
			io.Copy(up, c)
			up.Close()
		}()
		go func() {
			p.forward(c, up, holdAfter, release)
			c.Close()
		}()
	}
}

// forward copies target to client, pausing once holdAfter bytes went
// through until release is closed; what the target sent meanwhile (and
// its end, if it died) follows afterwards.
func (p *holdProxy) forward(c, up net.Conn, holdAfter int64, release chan struct{}) {
	buf := make([]byte, 32<<10)
	var sent int64
	for {
		n, err := up.Read(buf)
		chunk := buf[:n]
		if holdAfter >= 0 && sent+int64(n) > holdAfter {
			first := chunk[:holdAfter-sent]
			if _, err := c.Write(first); err != nil {
				return
			}
			sent += int64(len(first))
			chunk = chunk[len(first):]
			holdAfter = -1
			p.held <- struct{}{}
			<-release
		}
		if _, werr := c.Write(chunk); werr != nil {
			return
		}
		sent += int64(len(chunk))
		if err != nil {
			return
		}
	}
}

// holdNext makes the next connection hold after n bytes from the
// target; the returned function releases it.
func (p *holdProxy) holdNext(n int64) (release func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holdAfter = n
	ch := make(chan struct{})
	p.release = ch
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

// setRefuse turns refusing new connections on or off.
func (p *holdProxy) setRefuse(on bool) {
	p.mu.Lock()
	p.refuse = on
	p.mu.Unlock()
}

// cut closes every forwarded connection.
func (p *holdProxy) cut() {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// waitHeld waits until a connection is holding.
func (p *holdProxy) waitHeld(t *testing.T) {
	t.Helper()
	select {
	case <-p.held:
	case <-time.After(30 * time.Second):
		t.Fatal("the full sync's transfer never reached the hold point")
	}
}

// infoField is one field of an INFO section ("" when absent).
func infoField(t *testing.T, c *redis.Client, section, field string) string {
	t.Helper()
	return testutil.InfoField(c.Info(context.Background(), section).Val(), field)
}

// TestDisklessLoadKeepsOldDataset catches a replica in the middle of a
// full sync of 200k keys (the transfer held by a proxy) for each
// repl-diskless-load mode and checks what clients get meanwhile (the old
// dataset, -LOADING or -MASTERDOWN, as Redis 7 answers) and INFO's
// loading fields; then the master is killed with kill -9 mid-transfer
// (or the transfer completes) and the replica must serve either its old
// dataset, intact, or the master's: never a half-loaded one.
func TestDisklessLoadKeepsOldDataset(t *testing.T) {
	const masterKeys = 200000
	const masterDown = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
	cases := []struct {
		name       string
		mode       string
		serveStale string
		// old: "" (the replica starts empty), "own" (its own keys,
		// another history) or "synced" (a full copy of the master from
		// before: the same history).
		old string
		// during is what GET marker answers mid-transfer: the old value,
		// or an error prefix.
		during           string
		loading, async   string
		kill             bool
		tempFileExpected bool
		// freeze: the master is stopped (SIGSTOP) mid-transfer instead
		// of killed; the replica gives up after repl-timeout and later
		// syncs again.
		freeze bool
	}{
		{"swapdb same history", "swapdb", "yes", "synced", "old", "0", "1", true, false, false},
		{"swapdb same history completes", "swapdb", "yes", "synced", "old", "0", "1", false, false, false},
		{"swapdb other history", "swapdb", "yes", "own", "LOADING", "1", "0", true, false, false},
		{"swapdb serve-stale no", "swapdb", "no", "synced", masterDown, "0", "1", true, false, false},
		{"swapdb master frozen", "swapdb", "yes", "synced", "old", "0", "1", false, false, true},
		{"disabled master frozen", "disabled", "yes", "own", "old", "0", "0", false, true, true},
		{"disabled", "disabled", "yes", "own", "old", "0", "0", true, true, false},
		{"disabled completes", "disabled", "yes", "synced", "old", "0", "0", false, true, false},
		{"disabled serve-stale no", "disabled", "no", "own", masterDown, "0", "0", true, true, false},
		{"on-empty-db with data", "on-empty-db", "yes", "own", "old", "0", "0", true, true, false},
		{"on-empty-db empty", "on-empty-db", "yes", "", "LOADING", "1", "0", true, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			master := testutil.StartVigil(t, append([]string{"--repl-backlog-size", "16384"}, debugArgs...)...)
			mc := master.Client()
			if err := mc.Do(ctx, "DEBUG", "POPULATE", masterKeys, "key", 10).Err(); err != nil {
				t.Fatal(err)
			}
			mc.Set(ctx, "marker", "old", 0)
			proxy := startHoldProxy(t, master.Addr)
			host, port := proxy.addr()
			replica := testutil.StartVigil(t, append([]string{"--repl-diskless-load", tc.mode, "--replica-serve-stale-data", tc.serveStale, "--repl-timeout", "3"}, debugArgs...)...)
			rc := replica.Client()
			oldKeys := int64(0)
			switch tc.old {
			case "own":
				rc.Do(ctx, "DEBUG", "POPULATE", 1000, "own", 10)
				rc.Set(ctx, "marker", "old", 0)
				oldKeys = 1001
			case "synced":
				rc.SlaveOf(ctx, host, port)
				testutil.WaitInfo(t, rc, "replication", "master_link_status:up")
				waitSynced(t, rc, mc)
				oldKeys = masterKeys + 1
				// Keep the replica away while more than the backlog is
				// written: it comes back with a full sync of the same
				// history.
				proxy.setRefuse(true)
				proxy.cut()
				testutil.WaitInfo(t, rc, "replication", "master_link_status:down")
				for i := 0; i < 300; i++ {
					mc.Set(ctx, "filler", strings.Repeat("x", 100), 0)
				}
			}
			mc.Set(ctx, "marker", "new", 0)
			release := proxy.holdNext(512 << 10)
			defer release()
			proxy.setRefuse(false)
			if tc.old != "synced" {
				rc.SlaveOf(ctx, host, port)
			}
			proxy.waitHeld(t)

			// Mid-transfer. The proxy counts what it forwarded, which can
			// sit in the replica's socket buffer while the replica is still
			// reading the master's +FULLRESYNC: the sync shows once the
			// replica gets to the payload, and the hold keeps it there.
			testutil.WaitInfo(t, rc, "replication", "master_sync_in_progress:1")
			if v := infoField(t, rc, "replication", "master_link_status"); v != "down" {
				t.Fatalf("master_link_status %q mid-transfer", v)
			}
			// The loading flags are set once the payload's loading
			// begins: right away from the socket, after the transfer
			// through a file.
			deadline := time.Now().Add(10 * time.Second)
			for {
				l, a := infoField(t, rc, "persistence", "loading"), infoField(t, rc, "persistence", "async_loading")
				if l == tc.loading && a == tc.async {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("mid-transfer loading:%s async_loading:%s, want %s and %s", l, a, tc.loading, tc.async)
				}
				time.Sleep(10 * time.Millisecond)
			}
			v, err := rc.Get(ctx, "marker").Result()
			if tc.during == "old" {
				if err != nil || v != "old" {
					t.Fatalf("GET marker mid-transfer: %q %v, want the old dataset's value", v, err)
				}
				if n := rc.DBSize(ctx).Val(); n != oldKeys {
					t.Fatalf("DBSIZE mid-transfer %d, want the old dataset's %d", n, oldKeys)
				}
			} else if err == nil || !strings.HasPrefix(err.Error(), tc.during) {
				t.Fatalf("GET marker mid-transfer: %q %v, want %s", v, err, tc.during)
			}
			if tc.during == masterDown && err.Error() != masterDown {
				t.Fatalf("MASTERDOWN text %q", err.Error())
			}
			if tc.async == "1" && tc.serveStale == "yes" {
				// Redis's no_async_loading commands: a save would write
				// the old dataset while the new one loads.
				if err := rc.BgSave(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "LOADING") {
					t.Fatalf("BGSAVE during async loading: %v", err)
				}
			}
			temps, _ := filepath.Glob(filepath.Join(replica.Dir, "temp-*.rdb"))
			if got := len(temps) > 0; got != tc.tempFileExpected {
				t.Fatalf("temporary RDB files mid-transfer: %v (expected one: %v)", temps, tc.tempFileExpected)
			}

			if tc.kill {
				// The master dies and the connection is cut where the
				// transfer stands (what the kernel had buffered past the
				// hold point, up to the whole payload on loopback, is lost
				// with it, as on a real network).
				master.Kill()
				proxy.setRefuse(true)
				proxy.cut()
				release()
				testutil.WaitInfo(t, rc, "replication", "master_sync_in_progress:0")
				if v := infoField(t, rc, "persistence", "loading") + infoField(t, rc, "persistence", "async_loading"); v != "00" {
					t.Fatalf("loading/async_loading %s after the failed transfer", v)
				}
				rc.ConfigSet(ctx, "replica-serve-stale-data", "yes")
				if n := rc.DBSize(ctx).Val(); n != oldKeys {
					t.Fatalf("DBSIZE %d after the failed transfer, want the old dataset's %d", n, oldKeys)
				}
				if oldKeys > 0 {
					if v := rc.Get(ctx, "marker").Val(); v != "old" {
						t.Fatalf("marker %q after the failed transfer", v)
					}
				}
				temps, _ := filepath.Glob(filepath.Join(replica.Dir, "temp-*.rdb"))
				if len(temps) > 0 {
					t.Fatalf("temporary RDB files left after the failed transfer: %v", temps)
				}
				return
			}
			if tc.freeze {
				master.Freeze()
				// The replica gives up on the silent master after
				// repl-timeout; its old dataset is intact meanwhile.
				testutil.WaitInfo(t, rc, "replication", "master_sync_in_progress:0")
				if v := infoField(t, rc, "persistence", "loading") + infoField(t, rc, "persistence", "async_loading"); v != "00" {
					t.Fatalf("loading/async_loading %s after the replica gave up", v)
				}
				if v := rc.Get(ctx, "marker").Val(); v != "old" {
					t.Fatalf("marker %q after the replica gave up on the frozen master", v)
				}
				if n := rc.DBSize(ctx).Val(); n != oldKeys {
					t.Fatalf("DBSIZE %d after the replica gave up, want the old dataset's %d", n, oldKeys)
				}
				if temps, _ := filepath.Glob(filepath.Join(replica.Dir, "temp-*.rdb")); len(temps) > 0 {
					t.Fatalf("temporary RDB files left after the replica gave up: %v", temps)
				}
				master.Thaw()
			}
			release()
			testutil.WaitInfo(t, rc, "replication", "master_link_status:up")
			waitSynced(t, rc, mc)
			if v, err := rc.Get(ctx, "marker").Result(); v != "new" {
				t.Fatalf("marker %q %v after the full sync", v, err)
			}
			digestsEqual(t, master, replica)
			if v := infoField(t, rc, "persistence", "loading") + infoField(t, rc, "persistence", "async_loading"); v != "00" {
				t.Fatalf("loading/async_loading %s after the full sync", v)
			}
			if tc.tempFileExpected {
				// Through a file: it became the replica's RDB file.
				if _, err := os.Stat(filepath.Join(replica.Dir, "dump.rdb")); err != nil {
					t.Fatalf("the received RDB is not the RDB file: %v", err)
				}
			}
		})
	}
}

// TestDisklessLoadConfig: repl-diskless-load takes Redis's three values
// at run time and refuses others with Redis's error.
func TestDisklessLoadConfig(t *testing.T) {
	ctx := context.Background()
	c := testutil.StartVigil(t).Client()
	if v := c.ConfigGet(ctx, "repl-diskless-load").Val()["repl-diskless-load"]; v != "disabled" {
		t.Fatalf("default %q", v)
	}
	for _, v := range []string{"on-empty-db", "swapdb", "disabled"} {
		if err := c.ConfigSet(ctx, "repl-diskless-load", v).Err(); err != nil {
			t.Fatalf("CONFIG SET %s: %v", v, err)
		}
		if got := c.ConfigGet(ctx, "repl-diskless-load").Val()["repl-diskless-load"]; got != v {
			t.Fatalf("CONFIG GET after SET %s: %q", v, got)
		}
	}
	var rerr redis.Error
	if err := c.ConfigSet(ctx, "repl-diskless-load", "sometimes").Err(); !errors.As(err, &rerr) {
		t.Fatalf("CONFIG SET a bad value: %v", err)
	}
}
