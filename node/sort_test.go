package node

import (
	"math"
	"strings"
	"testing"

	"github.com/vigilkv/vigil/node/keyspace"
)

func TestSortCompatScript(t *testing.T) { lhRunCompat(t, "sort.txt") }

func TestSortCommands(t *testing.T) {
	_, addr := newTestServer(t)
	r := dialRaw(t, addr)
	r.Do("RPUSH", "l", "3", "1", "2", "10")
	r.Do("HSET", "w_1", "v", "30", "n", "one")
	r.Do("HSET", "w_2", "v", "10", "n", "two")
	r.Do("HSET", "w_3", "v", "20")
	lhRun(t, r, []lhCase{
		{lhCmd("SORT", "l"), "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n10\r\n"},
		{lhCmd("SORT", "l", "DESC", "LIMIT", "1", "2"), "*2\r\n$1\r\n3\r\n$1\r\n2\r\n"},
		{lhCmd("SORT", "l", "ALPHA"), "*4\r\n$1\r\n1\r\n$2\r\n10\r\n$1\r\n2\r\n$1\r\n3\r\n"},
		{lhCmd("SORT", "l", "BY", "nosort", "DESC"), "*4\r\n$2\r\n10\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n3\r\n"},
		{lhCmd("SORT", "l", "BY", "w_*->v", "GET", "#", "GET", "w_*->n"),
			"*8\r\n$2\r\n10\r\n$-1\r\n$1\r\n2\r\n$3\r\ntwo\r\n$1\r\n3\r\n$-1\r\n$1\r\n1\r\n$3\r\none\r\n"},
		{lhCmd("SORT", "l", "STORE", "dst"), ":4\r\n"},
		{lhCmd("LRANGE", "dst", "0", "-1"), "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n10\r\n"},
		{lhCmd("SORT", "l", "GET", "w_*->n", "STORE", "dst"), ":4\r\n"},
		{lhCmd("LRANGE", "dst", "0", "-1"), "*4\r\n$3\r\none\r\n$3\r\ntwo\r\n$0\r\n\r\n$0\r\n\r\n"},
		{lhCmd("SORT", "nokey", "STORE", "dst"), ":0\r\n"},
		{lhCmd("LLEN", "dst"), ":0\r\n"},
		{lhCmd("SORT_RO", "l", "STORE", "dst"), "-ERR syntax error\r\n"},
		{lhCmd("SORT", "l", "LIMIT", "x", "1"), "-ERR value is not an integer or out of range\r\n"},
		{lhCmd("SORT", "w_1"), "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
		{lhCmd("RPUSH", "bad", "1", "x"), ":2\r\n"},
		{lhCmd("SORT", "bad"), "-ERR One or more scores can't be converted into double\r\n"},
	})
	if got := (&Command{Keys: sortKeys}).KeyIndexes([][]byte{[]byte("sort"), []byte("k"), []byte("LIMIT"), []byte("0"), []byte("1"),
		[]byte("GET"), []byte("store"), []byte("STORE"), []byte("d")}); len(got) != 2 || got[0] != 1 || got[1] != 8 {
		t.Errorf("sort keys %v", got)
	}
}

func TestSortStrtod(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"", 0, true}, {" 7", 7, true}, {"7 ", 0, false}, {"0x10", 16, true}, {"1e2", 100, true},
		{"-inf", math.Inf(-1), true}, {"nan", 0, false}, {"1e400", 0, false}, {"1e-400", 0, false},
		{" ", 0, false}, {"1_0", 0, false}, {".5", 0.5, true}, {"0", 0, true}, {"0e-400", 0, true},
	} {
		got, ok := sortStrtod(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("strtod(%q) = %v %v", tc.in, got, ok)
		}
	}
}

// TestSortStringPatterns uses string keys for BY and GET; they are put in
// the keyspace directly so the test does not depend on SET. Expected
// replies come from redis-server 7.0.
func TestSortStringPatterns(t *testing.T) {
	s, addr := newTestServer(t)
	s.mu.Lock()
	for k, v := range map[string]string{"weight_1": "30", "weight_2": "10", "weight_3": "20", "obj_1": "one", "obj_2": "two", "badw_1": "x"} {
		s.ks.DBs[0].Set(k, keyspace.NewString(strings.Clone(v)), false)
	}
	s.mu.Unlock()
	r := dialRaw(t, addr)
	r.Do("RPUSH", "s10", "1", "2", "3")
	lhRun(t, r, []lhCase{
		{lhCmd("SORT", "s10", "BY", "weight_*"), "*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n1\r\n"},
		{lhCmd("SORT", "s10", "BY", "weight_*", "GET", "obj_*", "GET", "#"), "*6\r\n$3\r\ntwo\r\n$1\r\n2\r\n$-1\r\n$1\r\n3\r\n$3\r\none\r\n$1\r\n1\r\n"},
		{lhCmd("SORT", "s10", "BY", "weight_*", "DESC", "GET", "obj_*"), "*3\r\n$3\r\none\r\n$-1\r\n$3\r\ntwo\r\n"},
		{lhCmd("SORT", "s10", "BY", "obj_*", "ALPHA", "GET", "obj_*"), "*3\r\n$-1\r\n$3\r\none\r\n$3\r\ntwo\r\n"},
		{lhCmd("SORT", "s10", "BY", "weight_*->x"), "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"},
		{lhCmd("SORT", "s10", "GET", "weight_*->x"), "*3\r\n$-1\r\n$-1\r\n$-1\r\n"},
		{lhCmd("SORT", "s10", "BY", "badw_*"), "-ERR One or more scores can't be converted into double\r\n"},
	})
}
