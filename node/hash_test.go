package node

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/node/config"
)

func TestHashCompatScript(t *testing.T) { lhRunCompat(t, "hashes.txt") }

func TestHashCommandsRESP2(t *testing.T) {
	s, addr := newTestServer(t)
	r := dialRaw(t, addr)
	lhRun(t, r, []lhCase{
		{lhCmd("HSET", "h", "a", "1", "b", "2"), ":2\r\n"},
		{lhCmd("HSET", "h", "a", "x", "c", "3"), ":1\r\n"},
		{lhCmd("HSET", "h", "a", "1", "b"), "-ERR wrong number of arguments for 'hset' command\r\n"},
		{lhCmd("HMSET", "h", "d", "4"), "+OK\r\n"},
		{lhCmd("HSETNX", "h", "a", "y"), ":0\r\n"},
		{lhCmd("HSETNX", "h", "e", "5"), ":1\r\n"},
		{lhCmd("HGET", "h", "a"), "$1\r\nx\r\n"},
		{lhCmd("HGET", "h", "zz"), "$-1\r\n"},
		{lhCmd("HGET", "nokey", "a"), "$-1\r\n"},
		{lhCmd("HMGET", "h", "a", "zz", "b"), "*3\r\n$1\r\nx\r\n$-1\r\n$1\r\n2\r\n"},
		{lhCmd("HMGET", "nokey", "a"), "*1\r\n$-1\r\n"},
		{lhCmd("HLEN", "h"), ":5\r\n"},
		{lhCmd("HEXISTS", "h", "e"), ":1\r\n"},
		{lhCmd("HEXISTS", "h", "zz"), ":0\r\n"},
		{lhCmd("HSTRLEN", "h", "b"), ":1\r\n"},
		{lhCmd("HGETALL", "h"), "*10\r\n$1\r\na\r\n$1\r\nx\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\ne\r\n$1\r\n5\r\n"},
		{lhCmd("HKEYS", "h"), "*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"},
		{lhCmd("HVALS", "h"), "*5\r\n$1\r\nx\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n"},
		{lhCmd("HGETALL", "nokey"), "*0\r\n"},
		{lhCmd("HDEL", "h", "a", "zz"), ":1\r\n"},
		{lhCmd("HINCRBY", "h", "b", "40"), ":42\r\n"},
		{lhCmd("HINCRBY", "h", "a2", "-3"), ":-3\r\n"},
		{lhCmd("HINCRBY", "h", "b", "x"), "-ERR value is not an integer or out of range\r\n"},
		{lhCmd("HSET", "h", "s", "abc", "max", "9223372036854775807"), ":2\r\n"},
		{lhCmd("HINCRBY", "h", "s", "1"), "-ERR hash value is not an integer\r\n"},
		{lhCmd("HINCRBY", "h", "max", "1"), "-ERR increment or decrement would overflow\r\n"},
		{lhCmd("HINCRBYFLOAT", "h", "f", "10.5"), "$4\r\n10.5\r\n"},
		{lhCmd("HINCRBYFLOAT", "h", "f", "0.1"), "$4\r\n10.6\r\n"},
		{lhCmd("HINCRBYFLOAT", "h", "max", "1"), "$19\r\n9223372036854775808\r\n"},
		{lhCmd("HINCRBYFLOAT", "h", "s", "1"), "-ERR hash value is not a float\r\n"},
		{lhCmd("HINCRBYFLOAT", "h", "f", "x"), "-ERR value is not a valid float\r\n"},
		{lhCmd("HINCRBYFLOAT", "h", "f", "inf"), "-ERR value is NaN or Infinity\r\n"},
		{lhCmd("HINCRBYFLOAT", "h2", "g", "1e4932"), "$" + fmt.Sprint(len(lhBig1e4932)) + "\r\n" + lhBig1e4932 + "\r\n"},
		{lhCmd("HINCRBYFLOAT", "h2", "g", "1e4932"), "-ERR increment would produce NaN or Infinity\r\n"},
		{lhCmd("HRANDFIELD", "nokey"), "$-1\r\n"},
		{lhCmd("HRANDFIELD", "nokey", "2"), "*0\r\n"},
		{lhCmd("HRANDFIELD", "h", "0"), "*0\r\n"},
		{lhCmd("HRANDFIELD", "h", "1", "WITHVALUE"), "-ERR syntax error\r\n"},
		{lhCmd("HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"), "-ERR value is out of range\r\n"},
		{lhCmd("HSCAN", "h", "x"), "-ERR invalid cursor\r\n"},
		{lhCmd("HSCAN", "nokey", "0"), "*2\r\n$1\r\n0\r\n*0\r\n"},
		{lhCmd("HSCAN", "h", "0", "COUNT", "0"), "-ERR syntax error\r\n"},
		{lhCmd("HSCAN", "h", "0", "MATCH", "[cd]"), "*2\r\n$1\r\n0\r\n*4\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n"},
	})
	if enc := lhEncoding(s, "h"); enc != "listpack" {
		t.Fatalf("encoding %s", enc)
	}
	// Deleting the last field deletes the key.
	r.Do("HSET", "one", "f", "v")
	lhRun(t, r, []lhCase{{lhCmd("HDEL", "one", "f", "g"), ":1\r\n"}})
	if enc := lhEncoding(s, "one"); enc != "none" {
		t.Fatalf("empty hash kept (%s)", enc)
	}
}

// lhBig1e4932 is 1e4932 as a long double, printed by Redis 7.0.
var lhBig1e4932 = func() string {
	f, _ := hashParseLongDouble([]byte("1e4932"))
	return hashFormatLongDouble(f)
}()

func TestHashLongDouble(t *testing.T) {
	for _, tc := range []struct{ a, b, want string }{
		{"10.5", "0.1", "10.6"},
		{"0.1", "0.2", "0.3"},
		{"1e18", "1", "1000000000000000001"},
		{"-0.000000000000000001", "0", "0"},
		{"1.23456789012345678901", "0", "1.23456789012345679"},
		{"3.14159265358979323846", "2.71828182845904523536", "5.85987448204883847"},
		{"-1.1", "0.00000001", "-1.09999999"},
		{"0x1p-2", "0x10", "16.25"},
	} {
		a, ok1 := hashParseLongDouble([]byte(tc.a))
		b, ok2 := hashParseLongDouble([]byte(tc.b))
		if !ok1 || !ok2 {
			t.Fatalf("parse %q %q", tc.a, tc.b)
		}
		sum := hashNewLongDouble().Add(a, b)
		if got := hashFormatLongDouble(sum); got != tc.want {
			t.Errorf("%s + %s = %s, want %s", tc.a, tc.b, got, tc.want)
		}
	}
	for _, bad := range []string{"", " 1", "1 ", "1_0", "0b1", "nan", "1e5000", "1e-5000", "0x", "e5", ".", "1e", "--1"} {
		if _, ok := hashParseLongDouble([]byte(bad)); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestHashConversionThresholds follows the configured thresholds.
func TestHashConversionThresholds(t *testing.T) {
	s, addr := newTestServer(t, func(cfg *config.Config) {
		cfg.HashMaxListpackEntries = 4
		cfg.HashMaxListpackValue = 8
	})
	r := dialRaw(t, addr)
	r.Do("HSET", "a", "1", "1", "2", "2", "3", "3", "4", "4")
	r.Do("HSET", "b", "f", "123456789")
	r.Do("HSET", "c", "f", "12345678")
	r.Do("HINCRBYFLOAT", "d", "f", "0.123456789")
	for key, want := range map[string]string{"a": "listpack", "b": "hashtable", "c": "listpack", "d": "hashtable"} {
		if got := lhEncoding(s, key); got != want {
			t.Errorf("%s: %s, want %s", key, got, want)
		}
	}
	r.Do("HSET", "a", "5", "5")
	if got := lhEncoding(s, "a"); got != "hashtable" {
		t.Errorf("a after 5 fields: %s", got)
	}
	// HSCAN over a hashtable: a full iteration sees every field once at
	// least, with small COUNTs.
	args := []string{"HSET", "big"}
	for i := 0; i < 300; i++ {
		args = append(args, fmt.Sprint("f", i), fmt.Sprint(i))
	}
	r.Do(args...)
	seen := map[string]bool{}
	cursor := "0"
	for {
		reply := r.Do("HSCAN", "big", cursor, "COUNT", "7")
		parts := strings.Split(reply, "\r\n")
		cursor = parts[2]
		for i := 5; i+2 < len(parts); i += 4 {
			seen[parts[i]] = true
		}
		if cursor == "0" {
			break
		}
	}
	if len(seen) != 300 {
		t.Fatalf("HSCAN saw %d fields", len(seen))
	}
}

func TestHashPropagation(t *testing.T) {
	s, addr := newTestServer(t)
	stream := lhCaptureRepl(s)
	r := dialRaw(t, addr)
	r.Do("HINCRBYFLOAT", "h", "f", "10.5")
	r.Do("HSETNX", "h", "f", "x")
	r.Do("HDEL", "h", "nope")
	got := stream()
	if !strings.Contains(got, "*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$4\r\n10.5\r\n") {
		t.Errorf("HINCRBYFLOAT not propagated as HSET: %q", got)
	}
	if strings.Contains(got, "HSETNX") || strings.Contains(got, "HDEL") {
		t.Errorf("no-op commands propagated: %q", got)
	}
}

func TestHashRESP3(t *testing.T) {
	_, addr := newTestServer(t)
	r := dialRaw(t, addr)
	lhHello3(t, r)
	lhRun(t, r, []lhCase{
		{lhCmd("HSET", "h", "a", "1"), ":1\r\n"},
		{lhCmd("HGETALL", "h"), "%1\r\n$1\r\na\r\n$1\r\n1\r\n"},
		{lhCmd("HGETALL", "nokey"), "%0\r\n"},
		{lhCmd("HRANDFIELD", "h", "1", "WITHVALUES"), "*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"},
		{lhCmd("HRANDFIELD", "h", "-2", "WITHVALUES"), "*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"},
		{lhCmd("HGET", "h", "zz"), "_\r\n"},
	})
}

// TestHashGoRedis drives the hash commands through go-redis in RESP2 and
// RESP3 (the RESP3 run needs HELLO and is skipped without it).
func TestHashGoRedis(t *testing.T) {
	_, addr := newTestServer(t)
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprint("RESP", proto), func(t *testing.T) {
			if proto == 3 {
				lhHello3(t, dialRaw(t, addr))
			}
			ctx := context.Background()
			rc := newTestClient(t, addr, proto)
			key := fmt.Sprint("gh", proto)
			if n, err := rc.HSet(ctx, key, "a", "1", "b", "x").Result(); err != nil || n != 2 {
				t.Fatalf("HSET: %v %v", n, err)
			}
			if m, err := rc.HGetAll(ctx, key).Result(); err != nil || len(m) != 2 || m["a"] != "1" || m["b"] != "x" {
				t.Fatalf("HGETALL: %v %v", m, err)
			}
			if v, err := rc.HMGet(ctx, key, "a", "zz").Result(); err != nil || v[0] != "1" || v[1] != nil {
				t.Fatalf("HMGET: %v %v", v, err)
			}
			if v, err := rc.HIncrByFloat(ctx, key, "a", 0.5).Result(); err != nil || v != 1.5 {
				t.Fatalf("HINCRBYFLOAT: %v %v", v, err)
			}
			if _, err := rc.HIncrBy(ctx, key, "b", 1).Result(); err == nil || err.Error() != "ERR hash value is not an integer" {
				t.Fatalf("HINCRBY on text: %v", err)
			}
			if kv, err := rc.HRandFieldWithValues(ctx, key, -3).Result(); err != nil || len(kv) != 3 {
				t.Fatalf("HRANDFIELD WITHVALUES: %v %v", kv, err)
			}
			if keys, cur, err := rc.HScan(ctx, key, 0, "*", 10).Result(); err != nil || cur != 0 || len(keys) != 4 {
				t.Fatalf("HSCAN: %v %v %v", keys, cur, err)
			}
			if _, err := rc.HGet(ctx, key, "zz").Result(); err != redis.Nil {
				t.Fatalf("HGET missing: %v", err)
			}
		})
	}
}

// TestHashRandomVsReference runs random hash commands against the server
// and a real redis-server, with small thresholds so hashes convert
// mid-run, and compares every reply byte for byte (whole-hash replies
// only while the hash is a listpack, whose order is deterministic).
func TestHashRandomVsReference(t *testing.T) {
	s, vc, ref := lhRefPair(t, func(cfg *config.Config) {
		cfg.HashMaxListpackEntries = 16
		cfg.HashMaxListpackValue = 10
	})
	ref.Do("CONFIG", "SET", "hash-max-listpack-entries", "16")
	ref.Do("CONFIG", "SET", "hash-max-listpack-value", "10")
	defer ref.Do("CONFIG", "SET", "hash-max-listpack-entries", "128")
	defer ref.Do("CONFIG", "SET", "hash-max-listpack-value", "64")
	r := rand.New(rand.NewPCG(9, 10))
	field := func() string { return fmt.Sprint("f", r.IntN(24)) }
	val := func() string {
		switch r.IntN(4) {
		case 0:
			return fmt.Sprint(r.IntN(2000) - 1000)
		case 1:
			return strings.Repeat("v", r.IntN(13))
		case 2:
			return fmt.Sprintf("%d.%d", r.IntN(100), r.IntN(100))
		}
		return fmt.Sprint(r.Int64())
	}
	keys := []string{"ha", "hb", "hc"}
	for i := 0; i < 5000; i++ {
		k := keys[r.IntN(len(keys))]
		var cmd []string
		whole := false
		switch r.IntN(12) {
		case 0, 1:
			cmd = []string{"HSET", k, field(), val(), field(), val()}
		case 2:
			cmd = []string{"HSETNX", k, field(), val()}
		case 3:
			cmd = []string{"HDEL", k, field(), field()}
		case 4:
			cmd = []string{"HGET", k, field()}
		case 5:
			cmd = []string{"HMGET", k, field(), field()}
		case 6:
			cmd = []string{"HINCRBY", k, field(), fmt.Sprint(r.IntN(100) - 50)}
		case 7:
			cmd = []string{"HINCRBYFLOAT", k, field(), fmt.Sprintf("%d.%d", r.IntN(10)-5, r.IntN(1000))}
		case 8:
			cmd = []string{"HSTRLEN", k, field()}
		case 9:
			cmd = []string{"HEXISTS", k, field()}
		case 10:
			cmd = []string{"HLEN", k}
		case 11:
			cmd = []string{[]string{"HGETALL", "HKEYS", "HVALS"}[r.IntN(3)], k}
			whole = true
		}
		if whole && lhEncoding(s, k) == "hashtable" {
			continue
		}
		got, want := vc.Do(cmd...), ref.Do(cmd...)
		if got != want {
			t.Fatalf("step %d %q:\n got %q\nwant %q", i, cmd, got, want)
		}
		if enc, _ := strings.CutPrefix(ref.Do("OBJECT", "ENCODING", k), "$"); enc != "-1\r\n" {
			if e := lhEncoding(s, k); !strings.Contains(enc, e) {
				t.Fatalf("step %d: encoding %s, redis %q", i, e, enc)
			}
		}
	}
}

// TestCollectionMemory reports the heap used per key for 100,000 small
// hashes and lists (set VIGIL_MEMCHECK=1; compare with redis-server's
// used_memory for the same data: 266 bytes per key for both on 7.0.15).
func TestCollectionMemory(t *testing.T) {
	if os.Getenv("VIGIL_MEMCHECK") == "" {
		t.Skip("VIGIL_MEMCHECK not set")
	}
	for _, kind := range []string{"hash", "list"} {
		s, addr := newTestServer(t)
		r := dialRaw(t, addr)
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		const n = 100000
		for i := 0; i < n; i++ {
			if kind == "hash" {
				r.Send("HSET", fmt.Sprint("hash:", i), "field1", "value1", "field2", "value2", "field3", "value3", "field4", "value4",
					"field5", "value5", "field6", "value6", "field7", "value7", "field8", "value8", "field9", "value9", "field10", "value10")
			} else {
				r.Send("RPUSH", fmt.Sprint("list:", i), "value1", "value2", "value3", "value4", "value5", "value6", "value7", "value8", "value9", "value10")
			}
			if i%1000 == 999 {
				for j := 0; j < 1000; j++ {
					r.Read()
				}
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		s.mu.Lock()
		est := s.ks.UsedMemory()
		s.mu.Unlock()
		t.Logf("%s: %d heap bytes per key, estimate %d", kind, (int64(ms.HeapAlloc)-int64(before))/n, est/n)
	}
}
