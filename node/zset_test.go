package node

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestZSetBlockingFIFO(t *testing.T) {
	s, addr := newTestServer(t)
	const n = 6
	waiters := make([]*rawConn, n)
	for i := range waiters {
		waiters[i] = dialRaw(t, addr)
		if i%2 == 0 {
			waiters[i].Send("BZPOPMIN", "other", "z", "0")
		} else {
			waiters[i].Send("BZMPOP", "0", "2", "other", "z", "MIN")
		}
		lhWaitBlocked(t, s, i+1)
	}
	p := dialRaw(t, addr)
	args := []string{"ZADD", "z"}
	for i := 0; i < n; i++ {
		args = append(args, fmt.Sprint(i), fmt.Sprint("m", i))
	}
	p.Do(args...)
	for i, w := range waiters {
		want := fmt.Sprintf("*3\r\n$1\r\nz\r\n$2\r\nm%d\r\n$1\r\n%d\r\n", i, i)
		if i%2 == 1 {
			want = fmt.Sprintf("*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$2\r\nm%d\r\n$1\r\n%d\r\n", i, i)
		}
		if got := w.Read(); got != want {
			t.Errorf("waiter %d got %q, want %q", i, got, want)
		}
	}
	lhWaitBlocked(t, s, 0)
	if enc := lhEncoding(s, "z"); enc != "none" {
		t.Fatal("emptied sorted set not deleted")
	}
}

func TestZSetBlockingTimeoutsDisconnectsAndTypes(t *testing.T) {
	s, addr := newTestServer(t)
	a, b, c, l := dialRaw(t, addr), dialRaw(t, addr), dialRaw(t, addr), dialRaw(t, addr)
	l.Send("BLPOP", "k", "0") // a list waiter: a new sorted set does not serve it
	lhWaitBlocked(t, s, 1)
	a.Send("BZPOPMAX", "k", "0")
	lhWaitBlocked(t, s, 2)
	b.Send("BZPOPMIN", "k", "0.1")
	lhWaitBlocked(t, s, 3)
	c.Send("BZMPOP", "0", "1", "k", "MAX", "COUNT", "5")
	lhWaitBlocked(t, s, 4)
	start := time.Now()
	if got := b.Read(); got != "*-1\r\n" {
		t.Fatalf("BZPOPMIN timeout reply %q", got)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("timeout took %v", d)
	}
	a.c.Close()
	lhWaitBlocked(t, s, 2)
	p := dialRaw(t, addr)
	p.Do("ZADD", "k", "1", "x", "2", "y")
	if got := c.Read(); got != "*2\r\n$1\r\nk\r\n*2\r\n*2\r\n$1\r\ny\r\n$1\r\n2\r\n*2\r\n$1\r\nx\r\n$1\r\n1\r\n" {
		t.Fatalf("BZMPOP served %q", got)
	}
	lhWaitBlocked(t, s, 1) // the list waiter is still there
	p.Do("RPUSH", "k", "v")
	if got := l.Read(); got != "*2\r\n$1\r\nk\r\n$1\r\nv\r\n" {
		t.Fatalf("BLPOP served %q", got)
	}
	lhWaitBlocked(t, s, 0)
}

func TestZSetBlockingPropagation(t *testing.T) {
	s, addr := newTestServer(t)
	stream := lhCaptureRepl(s)
	a := dialRaw(t, addr)
	a.Send("BZPOPMIN", "k", "0")
	lhWaitBlocked(t, s, 1)
	p := dialRaw(t, addr)
	p.Do("ZADD", "k", "1", "x", "2", "y", "3", "z")
	a.Read()
	p.Do("BZMPOP", "0", "1", "k", "MAX", "COUNT", "5")
	for _, want := range []string{
		"*2\r\n$7\r\nZPOPMIN\r\n$1\r\nk\r\n",
		"*3\r\n$7\r\nZPOPMAX\r\n$1\r\nk\r\n$1\r\n2\r\n",
	} {
		if got := stream(); !strings.Contains(got, want) {
			t.Errorf("replication stream lacks %q:\n%q", want, got)
		}
	}
	if got := strings.ToUpper(stream()); strings.Contains(got, "BZPOPMIN") || strings.Contains(got, "BZMPOP") {
		t.Errorf("blocking command propagated verbatim: %q", got)
	}
}

func TestZSetRESP3Shapes(t *testing.T) {
	_, addr := newTestServer(t)
	r := dialRaw(t, addr)
	lhHello3(t, r)
	lhRun(t, r, []lhCase{
		{lhCmd("ZADD", "z", "1", "a", "2.5", "b"), ":2\r\n"},
		{lhCmd("ZSCORE", "z", "b"), ",2.5\r\n"},
		{lhCmd("ZRANGE", "z", "0", "-1", "WITHSCORES"), "*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n"},
		{lhCmd("ZRANK", "z", "b", "WITHSCORE"), "*2\r\n:1\r\n,2.5\r\n"},
		{lhCmd("ZRANK", "z", "nosuch", "WITHSCORE"), "_\r\n"},
		{lhCmd("ZREVRANK", "z", "b", "WITHSCORE"), "*2\r\n:0\r\n,2.5\r\n"},
		{lhCmd("ZRANK", "z", "b", "FOO"), "-ERR syntax error\r\n"},
		{lhCmd("ZPOPMIN", "z"), "*2\r\n$1\r\na\r\n,1\r\n"},
		{lhCmd("ZPOPMIN", "z", "1"), "*1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n"},
		{lhCmd("ZSCORE", "z", "b"), "_\r\n"},
		{lhCmd("ZMPOP", "1", "z", "MIN"), "_\r\n"},
		{lhCmd("ZINCRBY", "z", "inf", "m"), ",inf\r\n"},
	})
}

func TestZSetGoRedis(t *testing.T) {
	_, addr := newTestServer(t)
	ctx := context.Background()
	for _, proto := range []int{2, 3} {
		c := newTestClient(t, addr, proto)
		c.FlushAll(ctx)
		if n := c.ZAdd(ctx, "z", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2, Member: "b"}, redis.Z{Score: 3, Member: "c"}).Val(); n != 3 {
			t.Fatalf("ZADD: %d", n)
		}
		got := c.ZRangeWithScores(ctx, "z", 0, -1).Val()
		if len(got) != 3 || got[2].Member != "c" || got[2].Score != 3 {
			t.Fatalf("proto %d: ZRANGE WITHSCORES %v", proto, got)
		}
		if v := c.ZRangeByScore(ctx, "z", &redis.ZRangeBy{Min: "(1", Max: "+inf", Offset: 1, Count: 1}).Val(); len(v) != 1 || v[0] != "c" {
			t.Fatalf("proto %d: ZRANGEBYSCORE %v", proto, v)
		}
		if v := c.ZIncrBy(ctx, "z", 0.5, "a").Val(); v != 1.5 {
			t.Fatalf("proto %d: ZINCRBY %v", proto, v)
		}
		pop := c.BZPopMax(ctx, time.Second, "nokey", "z").Val()
		if pop == nil || pop.Key != "z" || pop.Member != "c" || pop.Score != 3 {
			t.Fatalf("proto %d: BZPOPMAX %+v", proto, pop)
		}
		key, zs := c.ZMPop(ctx, "min", 5, "z").Val()
		if key != "z" || len(zs) != 2 || zs[0].Member != "a" {
			t.Fatalf("proto %d: ZMPOP %s %v", proto, key, zs)
		}
		c.ZAdd(ctx, "z1", redis.Z{Score: 1, Member: "x"}, redis.Z{Score: 2, Member: "y"})
		c.ZAdd(ctx, "z2", redis.Z{Score: 10, Member: "y"})
		u := c.ZUnionWithScores(ctx, redis.ZStore{Keys: []string{"z1", "z2"}, Weights: []float64{2, 1}}).Val()
		if len(u) != 2 || u[1].Member != "y" || u[1].Score != 14 {
			t.Fatalf("proto %d: ZUNION %v", proto, u)
		}
		if n := c.ZInterCard(ctx, 0, "z1", "z2").Val(); n != 1 {
			t.Fatalf("proto %d: ZINTERCARD %d", proto, n)
		}
	}
}

// TestZSetScanThroughRehash checks ZSCAN's guarantee on a skiplist set:
// every member present for the whole scan is returned.
func TestZSetScanThroughRehash(t *testing.T) {
	_, addr := newTestServer(t)
	ctx := context.Background()
	c := newTestClient(t, addr, 2)
	const n = 2000
	for i := 0; i < n; i += 100 {
		var zs []redis.Z
		for j := i; j < i+100; j++ {
			zs = append(zs, redis.Z{Score: float64(j), Member: fmt.Sprint("m", j)})
		}
		c.ZAdd(ctx, "big", zs...)
	}
	seen := map[string]bool{}
	var cursor uint64
	for first := true; first || cursor != 0; first = false {
		keys, next, err := c.ZScan(ctx, "big", cursor, "", 50).Result()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(keys); i += 2 {
			seen[keys[i]] = true
		}
		// Growth during the scan forces rehashing.
		c.ZAdd(ctx, "big", redis.Z{Score: -1, Member: fmt.Sprint("new", cursor)})
		cursor = next
	}
	for i := 0; i < n; i++ {
		if !seen[fmt.Sprint("m", i)] {
			t.Fatalf("m%d never returned", i)
		}
	}
}
