package node

import (
	"bufio"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilkv/vigil/internal/fuzzcmd"
	"github.com/vigilkv/vigil/internal/resp"
)

// blockingFuzzNames are what FuzzBlocking runs: the blocking commands,
// the commands that feed or drain their keys, and those that move,
// rename, expire or drop a key while someone waits on it. Names starting
// with "@" are the harness's own steps: switch to another connection,
// drop the current one and dial again, CLIENT UNBLOCK or CLIENT KILL it
// from a separate connection.
var blockingFuzzNames = []string{
	"@conn0", "@conn1", "@conn2", "@reconnect", "@unblock", "@unblock-error", "@kill",
	"blpop", "brpop", "blmove", "brpoplpush", "blmpop", "bzpopmin", "bzpopmax", "bzmpop",
	"lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "lmove", "rpoplpush", "lmpop",
	"linsert", "ltrim", "lrem", "lset", "zadd", "zincrby", "zpopmin", "zpopmax", "zrem",
	"zremrangebyrank", "zunionstore", "zrangestore", "sort", "del", "unlink", "rename",
	"renamenx", "copy", "move", "swapdb", "select", "flushdb", "flushall", "set", "sadd",
	"pexpire", "persist", "multi", "exec", "discard", "watch", "reset",
}

// blockingFuzzTokens keep the keys few, so that pushes meet waiters, and
// the timeouts short or zero (forever: the harness unblocks at the end).
var blockingFuzzTokens = []string{
	"k", "k2", "{k}x", "0", "1", "2", "-1", "0.01", "0.002", "0.3", "a", "b", "LEFT", "RIGHT",
	"MIN", "MAX", "COUNT", "inf", "-inf", "nan", "1e308", "NX", "XX", "GT", "LT", "CH", "INCR",
	"REPLACE", "DB", "STORE", "BEFORE", "AFTER", "10", "-2", "9223372036854775807",
}

// fuzzConn is one client connection of FuzzBlocking; its replies are read
// in the background, because a blocked client answers only when another
// connection's command serves it.
type fuzzConn struct {
	c       net.Conn
	id      string
	sent    int
	got     int
	replies chan string
	readErr chan error
	killed  bool // closed by the harness or CLIENT KILL: its errors are expected
}

func dialFuzzConn(addr string) (*fuzzConn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dialing %s: %w", addr, err)
	}
	fc := &fuzzConn{c: c, replies: make(chan string, 256), readErr: make(chan error, 1)}
	br := bufio.NewReader(c)
	c.Write(resp.AppendCommandStrings(nil, "CLIENT", "ID"))
	id, err := readRawReply(br)
	if err != nil || !strings.HasPrefix(id, ":") {
		c.Close()
		return nil, fmt.Errorf("CLIENT ID: %q, %v", id, err)
	}
	fc.id = strings.TrimSpace(id[1:])
	go func() {
		for {
			r, err := readRawReply(br)
			if err != nil {
				fc.readErr <- err
				close(fc.replies)
				return
			}
			fc.replies <- r
		}
	}()
	return fc, nil
}

// collect takes the replies that have arrived within wait; it reports a
// reply that tells of a panic, or a connection the server closed.
func (fc *fuzzConn) collect(wait time.Duration) error {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for fc.got < fc.sent {
		select {
		case r, ok := <-fc.replies:
			if !ok {
				if fc.killed {
					return nil
				}
				return fmt.Errorf("connection %s closed by the server: %v", fc.id, <-fc.readErr)
			}
			fc.got++
			if strings.Contains(r, "(a bug in vigil") {
				return fmt.Errorf("connection %s: %q", fc.id, r)
			}
		case <-timer.C:
			return nil
		}
	}
	return nil
}

func (fc *fuzzConn) pending() bool { return !fc.killed && fc.got < fc.sent }

// FuzzBlocking runs command sequences over three real connections, the
// blocking commands among them with short or no timeouts, with clients
// switching, disconnecting, unblocked and killed mid-wait. Whatever the
// sequence: no panic, a non-blocking command answers at once, every
// command is answered once its connection is unblocked, and afterwards the
// server holds no waiter (a leaked one would be served data meant for
// nobody, or count in blocked_clients forever).
func FuzzBlocking(f *testing.F) {
	s, addr := newTestServer(f)
	names := blockingFuzzNames
	for _, seed := range [][]string{
		{"BLPOP k 0", "@conn1", "BLPOP k 0", "@conn2", "RPUSH k a b"},
		{"BLMOVE k k2 LEFT RIGHT 0", "@conn1", "BLMOVE k2 k LEFT RIGHT 0", "@conn2", "LPUSH k a"},
		{"BZPOPMIN k 0.01", "@conn1", "BZMPOP 0 2 k k2 MAX COUNT 2", "@conn2", "ZADD k 1 a 2 b"},
		{"BLPOP k 0", "@conn1", "MULTI", "LPUSH k a", "RENAME k k2", "EXEC"},
		{"BRPOP k 0", "@reconnect", "@conn1", "LPUSH k a", "LPOP k"},
		{"BLPOP k 0", "@kill", "@conn1", "BLPOP k 0", "@unblock-error"},
		{"BLPOP k 0", "@conn1", "SELECT 1", "RPUSH k a", "SWAPDB 0 1"},
		{"BLMPOP 0 2 k k2 LEFT", "BLPOP k 0", "@conn1", "ZADD k 1 a", "DEL k", "RPUSH k2 a b"},
		{"BRPOPLPUSH k k 0", "@conn1", "BRPOPLPUSH k k 0", "@conn2", "RPUSH k a"},
	} {
		data, err := fuzzcmd.Encode(names, blockingFuzzTokens, seed...)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	ctl := dialRaw(f, addr)
	var conns [3]*fuzzConn
	for i := range conns {
		fc, err := dialFuzzConn(addr)
		if err != nil {
			f.Fatal(err)
		}
		conns[i] = fc
	}
	f.Cleanup(func() {
		for _, fc := range conns {
			fc.c.Close()
		}
	})

	f.Fuzz(func(t *testing.T, data []byte) {
		ctl := &rawConn{t: t, c: ctl.c, br: ctl.br} // f's methods must not run here
		cmds := fuzzcmd.Decode(data, names, blockingFuzzTokens)
		// Every input starts from nothing: fresh connections, no keys, no
		// waiters (a failed input may have left some).
		for i, fc := range conns {
			fc.c.Close()
			nc, err := dialFuzzConn(addr)
			if err != nil {
				t.Fatal(err)
			}
			conns[i] = nc
		}
		if r := ctl.Do("FLUSHALL"); r != "+OK\r\n" {
			t.Fatalf("FLUSHALL: %q", r)
		}
		for start := time.Now(); ; time.Sleep(time.Millisecond) {
			s.mu.Lock()
			count := s.blocking.count
			s.mu.Unlock()
			if count == 0 {
				break
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("%d clients still blocked 5 s after their connections closed", count)
			}
		}
		redial := func(i int) {
			conns[i].killed = true
			conns[i].c.Close()
			fc, err := dialFuzzConn(addr)
			if err != nil {
				t.Fatal(err)
			}
			conns[i] = fc
		}
		// No client may wait on a key that holds what it waits for: the
		// command that filled the key serves it before anyone else runs.
		checkWaiters := func(after [][]byte) {
			s.mu.Lock()
			defer s.mu.Unlock()
			for k, q := range s.blocking.waiters {
				db := s.ks.DBs[k.db]
				v := db.Peek(k.key)
				if k.key == waitKey || v == nil || db.IsLogicallyExpired(k.key) {
					continue
				}
				for e := q.Front(); e != nil; e = e.Next() {
					if cl := e.Value.(*Client); zsetIsBlockingGroup(cl.block.cmd.Group, v.Type()) {
						t.Fatalf("after %q: client %d still waits in %s on %q (db %d), which holds a %s", after, cl.ID, cl.block.cmd.Name, k.key, k.db, v.Type())
					}
				}
			}
		}
		cur := 0
		for _, args := range cmds {
			fc := conns[cur]
			name := string(args[0])
			switch name {
			case "@conn0", "@conn1", "@conn2":
				cur = int(name[5] - '0')
				continue
			case "@reconnect":
				redial(cur)
				continue
			case "@unblock", "@unblock-error":
				req := []string{"CLIENT", "UNBLOCK", fc.id}
				if name == "@unblock-error" {
					req = append(req, "ERROR")
				}
				ctl.Do(req...)
				continue
			case "@kill":
				fc.killed = true // before the server closes it
				ctl.Do("CLIENT", "KILL", "ID", fc.id)
				redial(cur)
				continue
			}
			wasPending := fc.pending()
			if _, err := fc.c.Write(resp.AppendCommand(nil, args...)); err != nil {
				t.Fatalf("sending %q: %v", args, err)
			}
			fc.sent++
			if wasPending {
				continue // queued behind a wait: answered once that ends
			}
			wait := 2 * time.Second
			if slices.Contains(names[7:15], strings.ToLower(name)) {
				wait = 20 * time.Millisecond // it may block
			}
			if err := fc.collect(wait); err != nil {
				t.Fatalf("after %q: %v", args, err)
			}
			if fc.pending() && wait > 20*time.Millisecond {
				t.Fatalf("%q got no reply in %v", args, wait)
			}
			// Replies on the other connections: the command may have
			// served them.
			for _, other := range conns {
				if err := other.collect(0); err != nil {
					t.Fatalf("after %q: %v", args, err)
				}
			}
			checkWaiters(args)
		}

		// Unblock until every connection has all its replies: a command
		// queued behind a wait may block in turn.
		deadline := time.Now().Add(5 * time.Second)
		for {
			waiting := false
			for i, fc := range conns {
				if err := fc.collect(10 * time.Millisecond); err != nil {
					t.Fatal(err)
				}
				if fc.pending() {
					waiting = true
					if time.Now().After(deadline) {
						t.Fatalf("connection %d (id %s) answered %d of %d commands, CLIENT UNBLOCK notwithstanding", i, fc.id, fc.got, fc.sent)
					}
					ctl.Do("CLIENT", "UNBLOCK", fc.id)
				}
			}
			if !waiting {
				break
			}
		}
		// The server forgets waiters of closed connections by itself; give
		// it a moment to notice.
		for {
			s.mu.Lock()
			count, queues, ready := s.blocking.count, len(s.blocking.waiters), len(s.blocking.ready)
			s.mu.Unlock()
			if count == 0 && queues == 0 && ready == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("every client answered, yet the server holds %d blocked clients, %d wait queues, %d ready keys", count, queues, ready)
			}
			time.Sleep(time.Millisecond)
		}
	})
}
