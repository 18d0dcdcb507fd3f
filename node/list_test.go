package node

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/node/config"
)

// --- helpers shared by the list, hash and sort tests ---

// lhScript is a parsed compat script line.
type lhScript struct {
	lineNo    int
	args      []string
	noCompare bool
	// requires lists commands the rest of the script needs (from a
	// "#!requires CMD..." comment): this harness stops there if the
	// server lacks one, e.g. while another family is not merged yet.
	requires []string
}

func lhLoadScript(t *testing.T, name string) []lhScript {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "e2e", "compat", "testdata", name))
	if err != nil {
		t.Fatalf("reading script: %v", err)
	}
	var out []lhScript
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "#!requires "); ok {
			out = append(out, lhScript{lineNo: i + 1, requires: strings.Fields(rest)})
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s := lhScript{lineNo: i + 1}
		if rest, ok := strings.CutPrefix(line, "!nocompare "); ok {
			s.noCompare = true
			line = rest
		}
		args, ok := config.SplitArgs(line)
		if !ok {
			t.Fatalf("line %d: unbalanced quotes", i+1)
		}
		s.args = args
		out = append(out, s)
	}
	return out
}

// lhRunCompat runs a compat script against an in-process server and, if
// VIGIL_REF_REDIS is set (host:port of a scratch redis-server 7.0, which
// is flushed first), against it too, comparing replies byte for byte.
// Without a reference it still checks that every command gets a reply.
// Commands the server does not implement yet (other families) are
// skipped.
func lhRunCompat(t *testing.T, name string) {
	srv, addr := newTestServer(t)
	vc := dialRaw(t, addr)
	var ref *rawConn
	if refAddr := os.Getenv("VIGIL_REF_REDIS"); refAddr != "" {
		ref = dialRaw(t, refAddr)
		ref.Do("FLUSHALL")
		ref.Do("CONFIG", "SET", "list-max-listpack-size", "-2")
		ref.Do("CONFIG", "SET", "hash-max-listpack-entries", "128")
		ref.Do("CONFIG", "SET", "hash-max-listpack-value", "64")
	}
	skipped := 0
script:
	for _, s := range lhLoadScript(t, name) {
		for _, cmd := range s.requires {
			if srv.cmds.lookup([]byte(strings.ToLower(cmd))) == nil {
				t.Logf("%s:%d: %s not implemented yet, rest of the script skipped", name, s.lineNo, cmd)
				break script
			}
		}
		if s.requires != nil {
			continue
		}
		got := vc.Do(s.args...)
		if strings.HasPrefix(got, "-ERR unknown command") {
			if strings.EqualFold(s.args[0], "hello") && len(s.args) == 2 {
				// No HELLO yet: switch the protocol behind its back so the
				// RESP3 part of the script still runs.
				srv.mu.Lock()
				for _, cl := range srv.clients {
					cl.W.Proto = int(s.args[1][0] - '0')
				}
				srv.mu.Unlock()
			}
			skipped++
			if ref != nil {
				ref.Do(s.args...)
			}
			continue
		}
		if ref == nil {
			continue
		}
		want := ref.Do(s.args...)
		if !s.noCompare && got != want {
			t.Errorf("%s:%d %q:\n got %q\nwant %q", name, s.lineNo, s.args, got, want)
		}
	}
	if skipped > 0 {
		t.Logf("%s: %d commands skipped (not implemented by the server yet)", name, skipped)
	}
}

// lhCase is one step of a table test: a command and its exact raw reply.
type lhCase struct {
	cmd  []string
	want string
}

func lhRun(t *testing.T, r *rawConn, cases []lhCase) {
	t.Helper()
	for _, tc := range cases {
		if got := r.Do(tc.cmd...); got != tc.want {
			t.Errorf("%q:\n got %q\nwant %q", tc.cmd, got, tc.want)
		}
	}
}

func lhCmd(args ...string) []string { return args }

// lhHello3 switches a raw connection to RESP3, or skips the test if the
// server has no HELLO yet.
func lhHello3(t *testing.T, r *rawConn) {
	t.Helper()
	if got := r.Do("HELLO", "3"); strings.HasPrefix(got, "-") {
		t.Skipf("HELLO 3 not available: %q", got)
	}
}

// lhEncoding reads a key's OBJECT ENCODING straight from the keyspace.
func lhEncoding(s *Server, key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.ks.DBs[0].Peek(key)
	if v == nil {
		return "none"
	}
	return v.Encoding()
}

// --- list tests ---

func TestListCommandsRESP2(t *testing.T) {
	s, addr := newTestServer(t)
	r := dialRaw(t, addr)
	lhRun(t, r, []lhCase{
		{lhCmd("LPUSH", "l", "a", "b", "c"), ":3\r\n"},
		{lhCmd("RPUSH", "l", "x", "1", "-7"), ":6\r\n"},
		{lhCmd("LRANGE", "l", "0", "-1"), "*6\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nx\r\n$1\r\n1\r\n$2\r\n-7\r\n"},
		{lhCmd("LRANGE", "l", "-2", "100"), "*2\r\n$1\r\n1\r\n$2\r\n-7\r\n"},
		{lhCmd("LRANGE", "l", "4", "2"), "*0\r\n"},
		{lhCmd("LRANGE", "l", "a", "2"), "-ERR value is not an integer or out of range\r\n"},
		{lhCmd("LRANGE", "nokey", "0", "-1"), "*0\r\n"},
		{lhCmd("LLEN", "l"), ":6\r\n"},
		{lhCmd("LLEN", "nokey"), ":0\r\n"},
		{lhCmd("LINDEX", "l", "-1"), "$2\r\n-7\r\n"},
		{lhCmd("LINDEX", "l", "6"), "$-1\r\n"},
		{lhCmd("LINDEX", "nokey", "abc"), "$-1\r\n"},
		{lhCmd("LINDEX", "l", "abc"), "-ERR value is not an integer or out of range\r\n"},
		{lhCmd("LPUSHX", "nokey", "a"), ":0\r\n"},
		{lhCmd("RPUSHX", "l", "y", "z"), ":8\r\n"},
		{lhCmd("LSET", "nokey", "0", "v"), "-ERR no such key\r\n"},
		{lhCmd("LSET", "l", "8", "v"), "-ERR index out of range\r\n"},
		{lhCmd("LSET", "l", "x", "v"), "-ERR value is not an integer or out of range\r\n"},
		{lhCmd("LSET", "l", "-1", "Z"), "+OK\r\n"},
		{lhCmd("LINSERT", "l", "BEFORE", "a", "new"), ":9\r\n"},
		{lhCmd("LINSERT", "l", "after", "Z", "end"), ":10\r\n"},
		{lhCmd("LINSERT", "l", "after", "missing", "v"), ":-1\r\n"},
		{lhCmd("LINSERT", "nokey", "after", "a", "v"), ":0\r\n"},
		{lhCmd("LINSERT", "l", "middle", "a", "v"), "-ERR syntax error\r\n"},
		{lhCmd("LRANGE", "l", "0", "-1"), "*10\r\n$1\r\nc\r\n$1\r\nb\r\n$3\r\nnew\r\n$1\r\na\r\n$1\r\nx\r\n$1\r\n1\r\n$2\r\n-7\r\n$1\r\ny\r\n$1\r\nZ\r\n$3\r\nend\r\n"},
		{lhCmd("LPOP", "l"), "$1\r\nc\r\n"},
		{lhCmd("RPOP", "l", "2"), "*2\r\n$3\r\nend\r\n$1\r\nZ\r\n"},
		{lhCmd("LPOP", "l", "0"), "*0\r\n"},
		{lhCmd("LPOP", "l", "-1"), "-ERR value is out of range, must be positive\r\n"},
		{lhCmd("LPOP", "l", "abc"), "-ERR value is out of range, must be positive\r\n"},
		{lhCmd("LPOP", "l", "1", "2"), "-ERR wrong number of arguments for 'lpop' command\r\n"},
		{lhCmd("LPOP", "nokey"), "$-1\r\n"},
		{lhCmd("LPOP", "nokey", "2"), "*-1\r\n"},
		{lhCmd("RPUSH", "r", "a", "b", "a", "c", "a"), ":5\r\n"},
		{lhCmd("LREM", "r", "-2", "a"), ":2\r\n"},
		{lhCmd("LRANGE", "r", "0", "-1"), "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"},
		{lhCmd("LREM", "r", "0", "zz"), ":0\r\n"},
		{lhCmd("LREM", "r", "x", "a"), "-ERR value is not an integer or out of range\r\n"},
		{lhCmd("LREM", "nokey", "0", "a"), ":0\r\n"},
		{lhCmd("LTRIM", "r", "1", "-1"), "+OK\r\n"},
		{lhCmd("LRANGE", "r", "0", "-1"), "*2\r\n$1\r\nb\r\n$1\r\nc\r\n"},
		{lhCmd("LTRIM", "r", "5", "10"), "+OK\r\n"},
	})
	if enc := lhEncoding(s, "r"); enc != "none" {
		t.Fatalf("emptied list still present (%s)", enc)
	}
	lhRun(t, r, []lhCase{
		{lhCmd("LTRIM", "nokey", "a", "0"), "-ERR value is not an integer or out of range\r\n"},
		{lhCmd("RPUSH", "p", "a", "b", "c", "1", "2", "3", "c", "c"), ":8\r\n"},
		{lhCmd("LPOS", "p", "c"), ":2\r\n"},
		{lhCmd("LPOS", "p", "c", "RANK", "2"), ":6\r\n"},
		{lhCmd("LPOS", "p", "c", "RANK", "-1"), ":7\r\n"},
		{lhCmd("LPOS", "p", "c", "RANK", "-9223372036854775808"), ":7\r\n"},
		{lhCmd("LPOS", "p", "c", "COUNT", "0"), "*3\r\n:2\r\n:6\r\n:7\r\n"},
		{lhCmd("LPOS", "p", "c", "COUNT", "2", "RANK", "-1"), "*2\r\n:7\r\n:6\r\n"},
		{lhCmd("LPOS", "p", "c", "COUNT", "0", "MAXLEN", "7"), "*2\r\n:2\r\n:6\r\n"},
		{lhCmd("LPOS", "p", "3"), ":5\r\n"},
		{lhCmd("LPOS", "p", "zz"), "$-1\r\n"},
		{lhCmd("LPOS", "p", "zz", "COUNT", "1"), "*0\r\n"},
		{lhCmd("LPOS", "nokey", "a"), "$-1\r\n"},
		{lhCmd("LPOS", "nokey", "a", "COUNT", "0"), "*0\r\n"},
		{lhCmd("LPOS", "p", "c", "RANK", "0"), "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n"},
		{lhCmd("LPOS", "p", "c", "RANK", "x"), "-ERR value is not an integer or out of range\r\n"},
		{lhCmd("LPOS", "p", "c", "COUNT", "-1"), "-ERR COUNT can't be negative\r\n"},
		{lhCmd("LPOS", "p", "c", "MAXLEN", "x"), "-ERR MAXLEN can't be negative\r\n"},
		{lhCmd("LPOS", "p", "c", "RANK"), "-ERR syntax error\r\n"},
		{lhCmd("LPOS", "p", "c", "FOO", "1"), "-ERR syntax error\r\n"},
		{lhCmd("LMOVE", "p", "q", "LEFT", "RIGHT"), "$1\r\na\r\n"},
		{lhCmd("LMOVE", "p", "q", "right", "left"), "$1\r\nc\r\n"},
		{lhCmd("LRANGE", "q", "0", "-1"), "*2\r\n$1\r\nc\r\n$1\r\na\r\n"},
		{lhCmd("LMOVE", "q", "q", "LEFT", "RIGHT"), "$1\r\nc\r\n"},
		{lhCmd("LRANGE", "q", "0", "-1"), "*2\r\n$1\r\na\r\n$1\r\nc\r\n"},
		{lhCmd("LMOVE", "p", "q", "UP", "LEFT"), "-ERR syntax error\r\n"},
		{lhCmd("LMOVE", "nokey", "q", "LEFT", "LEFT"), "$-1\r\n"},
		{lhCmd("RPOPLPUSH", "p", "q"), "$1\r\nc\r\n"},
		{lhCmd("RPOPLPUSH", "nokey", "q"), "$-1\r\n"},
		{lhCmd("LMPOP", "2", "nokey", "p", "LEFT", "COUNT", "2"), "*2\r\n$1\r\np\r\n*2\r\n$1\r\nb\r\n$1\r\nc\r\n"},
		{lhCmd("LMPOP", "1", "p", "RIGHT"), "*2\r\n$1\r\np\r\n*1\r\n$1\r\n3\r\n"},
		{lhCmd("LMPOP", "1", "nokey", "RIGHT"), "*-1\r\n"},
		{lhCmd("LMPOP", "0", "p", "LEFT"), "-ERR numkeys should be greater than 0\r\n"},
		{lhCmd("LMPOP", "2", "p", "LEFT"), "-ERR syntax error\r\n"},
		{lhCmd("LMPOP", "1", "p", "MIDDLE"), "-ERR syntax error\r\n"},
		{lhCmd("LMPOP", "1", "p", "LEFT", "COUNT", "0"), "-ERR count should be greater than 0\r\n"},
		{lhCmd("LMPOP", "1", "p", "LEFT", "COUNT", "1", "COUNT", "1"), "-ERR syntax error\r\n"},
		{lhCmd("LMPOP", "1", "p"), "-ERR wrong number of arguments for 'lmpop' command\r\n"},
		{lhCmd("BLPOP", "p", "abc"), "-ERR timeout is not a float or out of range\r\n"},
		{lhCmd("BLPOP", "p", "-1"), "-ERR timeout is negative\r\n"},
		{lhCmd("BLMPOP", "abc", "1", "p", "LEFT"), "-ERR timeout is not a float or out of range\r\n"},
		{lhCmd("BLMOVE", "p", "x", "UP", "LEFT", "0"), "-ERR syntax error\r\n"},
		{lhCmd("BLPOP", "nokey", "p", "0"), "*2\r\n$1\r\np\r\n$1\r\n1\r\n"},
		{lhCmd("BRPOP", "p", "0.01"), "*2\r\n$1\r\np\r\n$1\r\n2\r\n"},
		{lhCmd("RPUSH", "p", "2"), ":1\r\n"},
		{lhCmd("BLMOVE", "p", "q", "LEFT", "LEFT", "0"), "$1\r\n2\r\n"},
		{lhCmd("BRPOPLPUSH", "nokey", "q", "0.01"), "*-1\r\n"},
		{lhCmd("BLPOP", "nokey", "0.01"), "*-1\r\n"},
		{lhCmd("BLMPOP", "0.01", "1", "nokey", "LEFT"), "*-1\r\n"},
	})
}

func TestListWrongType(t *testing.T) {
	s, addr := newTestServer(t)
	r := dialRaw(t, addr)
	r.Do("HSET", "h", "f", "v")
	if lhEncoding(s, "h") == "none" {
		t.Skip("HSET unavailable")
	}
	wt := "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
	r.Do("RPUSH", "l", "a")
	for _, cmd := range [][]string{
		{"LPUSH", "h", "a"}, {"RPUSHX", "h", "a"}, {"LPOP", "h"}, {"RPOP", "h", "2"}, {"LLEN", "h"},
		{"LRANGE", "h", "0", "1"}, {"LINDEX", "h", "0"}, {"LSET", "h", "0", "a"}, {"LREM", "h", "0", "a"},
		{"LTRIM", "h", "0", "1"}, {"LINSERT", "h", "BEFORE", "a", "b"}, {"LPOS", "h", "a"},
		{"LMOVE", "h", "l", "LEFT", "LEFT"}, {"LMOVE", "l", "h", "LEFT", "LEFT"}, {"RPOPLPUSH", "l", "h"},
		{"LMPOP", "2", "nokey", "h", "LEFT"}, {"BLPOP", "nokey", "h", "0"}, {"BLMOVE", "h", "l", "LEFT", "LEFT", "0"},
		{"BLMPOP", "0", "1", "h", "LEFT"},
	} {
		if got := r.Do(cmd...); got != wt {
			t.Errorf("%q: %q", cmd, got)
		}
	}
	// The failed moves left the source alone.
	if got := r.Do("LLEN", "l"); got != ":1\r\n" {
		t.Fatalf("LLEN l after failed moves: %q", got)
	}
}

func TestListRESP3(t *testing.T) {
	_, addr := newTestServer(t)
	r := dialRaw(t, addr)
	lhHello3(t, r)
	lhRun(t, r, []lhCase{
		{lhCmd("LPOP", "nokey"), "_\r\n"},
		{lhCmd("LPOP", "nokey", "1"), "_\r\n"},
		{lhCmd("LINDEX", "nokey", "0"), "_\r\n"},
		{lhCmd("LPOS", "nokey", "a"), "_\r\n"},
		{lhCmd("LMPOP", "1", "nokey", "LEFT"), "_\r\n"},
		{lhCmd("LMOVE", "nokey", "x", "LEFT", "LEFT"), "_\r\n"},
		{lhCmd("BLPOP", "nokey", "0.01"), "_\r\n"},
		{lhCmd("BLMOVE", "nokey", "x", "LEFT", "LEFT", "0.01"), "_\r\n"},
		{lhCmd("RPUSH", "l", "a", "b"), ":2\r\n"},
		{lhCmd("LPOP", "l", "0"), "*0\r\n"},
		{lhCmd("LMPOP", "1", "l", "LEFT"), "*2\r\n$1\r\nl\r\n*1\r\n$1\r\na\r\n"},
	})
}

func TestListEncodingAndNodes(t *testing.T) {
	s, addr := newTestServer(t, func(cfg *config.Config) { cfg.ListMaxListpackSize = 4 })
	r := dialRaw(t, addr)
	r.Do("RPUSH", "l", "a")
	if enc := lhEncoding(s, "l"); enc != "quicklist" {
		t.Fatalf("encoding %q, Redis 7.0 says quicklist", enc)
	}
	for i := 0; i < 10; i++ {
		r.Do("RPUSH", "l", fmt.Sprint(i))
	}
	s.mu.Lock()
	nodes := s.ks.DBs[0].Peek("l").List().Nodes()
	s.mu.Unlock()
	if nodes != 3 {
		t.Fatalf("11 elements with list-max-listpack-size 4: %d nodes", nodes)
	}
}

// blockedClients waits until the server reports n blocked clients.
func lhWaitBlocked(t *testing.T, s *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		b := s.blocking.Blocked()
		s.mu.Unlock()
		if b == n {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("blocked clients never reached %d", n)
}

func TestListBlockingFIFO(t *testing.T) {
	s, addr := newTestServer(t)
	const n = 8
	waiters := make([]*rawConn, n)
	for i := range waiters {
		waiters[i] = dialRaw(t, addr)
		// Each waits on two keys; the one that gets pushed is the second.
		waiters[i].Send("BLPOP", "other", "q", "0")
		lhWaitBlocked(t, s, i+1)
	}
	p := dialRaw(t, addr)
	// One push of n elements serves all waiters, oldest first, in order.
	args := []string{"RPUSH", "q"}
	for i := 0; i < n; i++ {
		args = append(args, fmt.Sprint("e", i))
	}
	if got := p.Do(args...); got != fmt.Sprintf(":%d\r\n", n) {
		t.Fatalf("RPUSH: %q", got)
	}
	for i, w := range waiters {
		want := fmt.Sprintf("*2\r\n$1\r\nq\r\n$2\r\ne%d\r\n", i)
		if got := w.Read(); got != want {
			t.Errorf("waiter %d got %q, want %q", i, got, want)
		}
	}
	lhWaitBlocked(t, s, 0)
	if enc := lhEncoding(s, "q"); enc != "none" {
		t.Fatal("served list not deleted")
	}
}

func TestListBlockingTimeoutsAndDisconnects(t *testing.T) {
	s, addr := newTestServer(t)
	a, b, c := dialRaw(t, addr), dialRaw(t, addr), dialRaw(t, addr)
	a.Send("BRPOP", "k", "0")
	lhWaitBlocked(t, s, 1)
	b.Send("BLMOVE", "k", "dst", "LEFT", "RIGHT", "0.1")
	lhWaitBlocked(t, s, 2)
	c.Send("BLMPOP", "0", "1", "k", "RIGHT", "COUNT", "5")
	lhWaitBlocked(t, s, 3)
	// b times out with a null bulk.
	start := time.Now()
	if got := b.Read(); got != "*-1\r\n" {
		t.Fatalf("BLMOVE timeout reply %q", got)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("timeout took %v", d)
	}
	// a disconnects while blocked: c is next in line.
	a.c.Close()
	lhWaitBlocked(t, s, 1)
	p := dialRaw(t, addr)
	p.Do("RPUSH", "k", "1", "2", "3")
	if got := c.Read(); got != "*2\r\n$1\r\nk\r\n*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n" {
		t.Fatalf("BLMPOP served %q", got)
	}
	lhWaitBlocked(t, s, 0)
}

func TestListBlockingMoveChain(t *testing.T) {
	s, addr := newTestServer(t)
	// a waits on k1 and moves to k2, b waits on k2 and moves to k3, c waits
	// on k3: one push travels down the chain in one go.
	a, b, c := dialRaw(t, addr), dialRaw(t, addr), dialRaw(t, addr)
	a.Send("BLMOVE", "k1", "k2", "RIGHT", "LEFT", "0")
	lhWaitBlocked(t, s, 1)
	b.Send("BRPOPLPUSH", "k2", "k3", "0")
	lhWaitBlocked(t, s, 2)
	c.Send("BLPOP", "k3", "0")
	lhWaitBlocked(t, s, 3)
	p := dialRaw(t, addr)
	p.Do("LPUSH", "k1", "v")
	for i, w := range []*rawConn{a, b} {
		if got := w.Read(); got != "$1\r\nv\r\n" {
			t.Errorf("mover %d got %q", i, got)
		}
	}
	if got := c.Read(); got != "*2\r\n$2\r\nk3\r\n$1\r\nv\r\n" {
		t.Errorf("BLPOP got %q", got)
	}
	lhWaitBlocked(t, s, 0)
	for _, k := range []string{"k1", "k2", "k3"} {
		if enc := lhEncoding(s, k); enc != "none" {
			t.Errorf("%s left behind", k)
		}
	}
}

func TestListBlockingInMulti(t *testing.T) {
	_, addr := newTestServer(t)
	r := dialRaw(t, addr)
	r.Do("MULTI")
	r.Do("BLPOP", "nokey", "0")
	r.Do("BLMOVE", "nokey", "x", "LEFT", "LEFT", "0")
	r.Do("BLMPOP", "0", "1", "nokey", "LEFT")
	r.Do("BRPOPLPUSH", "nokey", "x", "0")
	r.Do("RPUSH", "l", "a")
	r.Do("BLPOP", "l", "0")
	if got := r.Do("EXEC"); got != "*6\r\n*-1\r\n$-1\r\n*-1\r\n$-1\r\n:1\r\n*2\r\n$1\r\nl\r\n$1\r\na\r\n" {
		t.Fatalf("EXEC: %q", got)
	}
}

// TestListBlockingPropagation checks that served blocking commands reach
// the replication stream as their non-blocking equivalents.
func TestListBlockingPropagation(t *testing.T) {
	s, addr := newTestServer(t)
	stream := lhCaptureRepl(s)
	a := dialRaw(t, addr)
	a.Send("BLPOP", "k", "0")
	lhWaitBlocked(t, s, 1)
	p := dialRaw(t, addr)
	p.Do("RPUSH", "k", "x", "y")
	a.Read()
	p.Do("BLMPOP", "0", "1", "k", "RIGHT", "COUNT", "3")
	for _, want := range []string{
		"*4\r\n$5\r\nRPUSH\r\n$1\r\nk\r\n$1\r\nx\r\n$1\r\ny\r\n",
		"*2\r\n$4\r\nLPOP\r\n$1\r\nk\r\n",
		"*3\r\n$4\r\nRPOP\r\n$1\r\nk\r\n$1\r\n1\r\n",
	} {
		if got := stream(); !strings.Contains(got, want) {
			t.Errorf("replication stream lacks %q:\n%q", want, got)
		}
	}
	if got := strings.ToUpper(stream()); strings.Contains(got, "BLPOP") || strings.Contains(got, "BLMPOP") {
		t.Errorf("blocking command propagated verbatim: %q", got)
	}
}

// lhCaptureRepl attaches a consumer to the server's replication stream
// and returns a function giving everything fed so far.
func lhCaptureRepl(s *Server) func() string {
	var buf []byte
	s.mu.Lock()
	s.repl.addConsumer(func(chunk []byte) { buf = append(buf, chunk...) })
	s.mu.Unlock()
	return func() string {
		s.mu.Lock()
		defer s.mu.Unlock()
		return string(buf)
	}
}

func TestListCompatScript(t *testing.T) { lhRunCompat(t, "lists.txt") }

// TestListGoRedis drives the list commands through go-redis in RESP2 and
// RESP3 (the RESP3 run needs HELLO and is skipped without it).
func TestListGoRedis(t *testing.T) {
	_, addr := newTestServer(t)
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprint("RESP", proto), func(t *testing.T) {
			if proto == 3 {
				lhHello3(t, dialRaw(t, addr))
			}
			ctx := context.Background()
			rc := newTestClient(t, addr, proto)
			key := fmt.Sprint("gl", proto)
			if n, err := rc.RPush(ctx, key, "a", "b", "c", "d").Result(); err != nil || n != 4 {
				t.Fatalf("RPUSH: %v %v", n, err)
			}
			if v, err := rc.LRange(ctx, key, 0, -1).Result(); err != nil || strings.Join(v, ",") != "a,b,c,d" {
				t.Fatalf("LRANGE: %v %v", v, err)
			}
			if v, err := rc.LPopCount(ctx, key, 2).Result(); err != nil || strings.Join(v, ",") != "a,b" {
				t.Fatalf("LPOP count: %v %v", v, err)
			}
			if _, err := rc.LPopCount(ctx, "nokey", 2).Result(); err != redis.Nil {
				t.Fatalf("LPOP count on a missing key: %v", err)
			}
			if v, err := rc.LPos(ctx, key, "d", redis.LPosArgs{}).Result(); err != nil || v != 1 {
				t.Fatalf("LPOS: %v %v", v, err)
			}
			if k, vals, err := rc.LMPop(ctx, "right", 5, "nokey", key).Result(); err != nil || k != key || strings.Join(vals, ",") != "d,c" {
				t.Fatalf("LMPOP: %v %v %v", k, vals, err)
			}
			// go-redis rounds typed timeouts up to a second: send them raw.
			if v, err := rc.Do(ctx, "BLPOP", key, "0.01").Result(); err != redis.Nil {
				t.Fatalf("BLPOP timeout: %v %v", v, err)
			}
			if v, err := rc.Do(ctx, "BLMOVE", key, "x", "LEFT", "LEFT", "0.01").Result(); err != redis.Nil {
				t.Fatalf("BLMOVE timeout: %v %v", v, err)
			}
			pusher := newTestClient(t, addr, 2)
			go func() {
				time.Sleep(20 * time.Millisecond)
				pusher.LPush(context.Background(), key, "late")
			}()
			if v, err := rc.BRPop(ctx, 5*time.Second, "nokey", key).Result(); err != nil || strings.Join(v, ",") != key+",late" {
				t.Fatalf("BRPOP served: %v %v", v, err)
			}
		})
	}
}

// lhRefPair returns raw connections to an in-process server and to the
// reference redis-server named by VIGIL_REF_REDIS (flushed), or skips.
func lhRefPair(t *testing.T, mutate ...func(*config.Config)) (*Server, *rawConn, *rawConn) {
	refAddr := os.Getenv("VIGIL_REF_REDIS")
	if refAddr == "" {
		t.Skip("VIGIL_REF_REDIS not set")
	}
	s, addr := newTestServer(t, mutate...)
	ref := dialRaw(t, refAddr)
	ref.Do("FLUSHALL")
	return s, dialRaw(t, addr), ref
}

// TestListRandomVsReference runs random list commands against the server
// and a real redis-server and compares every reply byte for byte. Small
// node bounds make the quicklist split and drop nodes constantly.
func TestListRandomVsReference(t *testing.T) {
	_, vc, ref := lhRefPair(t, func(cfg *config.Config) { cfg.ListMaxListpackSize = 5 })
	ref.Do("CONFIG", "SET", "list-max-listpack-size", "5")
	defer ref.Do("CONFIG", "SET", "list-max-listpack-size", "-2")
	r := rand.New(rand.NewPCG(7, 8))
	elem := func() string {
		switch r.IntN(6) {
		case 0:
			return fmt.Sprint(r.IntN(5))
		case 1:
			return strings.Repeat("z", r.IntN(200))
		default:
			return string(rune('a' + r.IntN(4)))
		}
	}
	idx := func() string { return fmt.Sprint(r.IntN(30) - 15) }
	keys := []string{"ra", "rb"}
	for i := 0; i < 5000; i++ {
		k, k2 := keys[r.IntN(2)], keys[r.IntN(2)]
		var cmd []string
		switch r.IntN(16) {
		case 0, 1:
			cmd = []string{"LPUSH", k, elem(), elem()}
		case 2, 3:
			cmd = []string{"RPUSH", k, elem(), elem(), elem()}
		case 4:
			cmd = []string{"LPOP", k}
		case 5:
			cmd = []string{"RPOP", k, fmt.Sprint(r.IntN(4))}
		case 6:
			cmd = []string{"LRANGE", k, idx(), idx()}
		case 7:
			cmd = []string{"LINDEX", k, idx()}
		case 8:
			cmd = []string{"LSET", k, idx(), elem()}
		case 9:
			cmd = []string{"LINSERT", k, []string{"BEFORE", "AFTER"}[r.IntN(2)], elem(), elem()}
		case 10:
			cmd = []string{"LREM", k, fmt.Sprint(r.IntN(5) - 2), elem()}
		case 11:
			cmd = []string{"LTRIM", k, idx(), idx()}
		case 12:
			cmd = []string{"LPOS", k, elem(), "RANK", fmt.Sprint([]int{1, 2, -1, -2}[r.IntN(4)]), "COUNT", fmt.Sprint(r.IntN(3)), "MAXLEN", fmt.Sprint(r.IntN(10))}
		case 13:
			cmd = []string{"LMOVE", k, k2, []string{"LEFT", "RIGHT"}[r.IntN(2)], []string{"LEFT", "RIGHT"}[r.IntN(2)]}
		case 14:
			cmd = []string{"LMPOP", "2", k, k2, []string{"LEFT", "RIGHT"}[r.IntN(2)], "COUNT", fmt.Sprint(1 + r.IntN(3))}
		case 15:
			cmd = []string{"LLEN", k}
		}
		got, want := vc.Do(cmd...), ref.Do(cmd...)
		if got != want {
			t.Fatalf("step %d %q:\n got %q\nwant %q", i, cmd, got, want)
		}
	}
	for _, k := range keys {
		if got, want := vc.Do("LRANGE", k, "0", "-1"), ref.Do("LRANGE", k, "0", "-1"); got != want {
			t.Fatalf("final %s differs", k)
		}
	}
}

// TestListBlockingSkipsRetypedKey: a client blocked on two keys is served
// from the one that became ready even if the other meanwhile became a
// different type (Redis 7.0 serves from the ready key).
func TestListBlockingSkipsRetypedKey(t *testing.T) {
	s, addr := newTestServer(t)
	w := dialRaw(t, addr)
	w.Send("BLPOP", "a", "b", "0")
	lhWaitBlocked(t, s, 1)
	p := dialRaw(t, addr)
	p.Do("HSET", "a", "f", "v")
	p.Do("RPUSH", "b", "x")
	if got := w.Read(); got != "*2\r\n$1\r\nb\r\n$1\r\nx\r\n" {
		t.Fatalf("got %q", got)
	}
}
