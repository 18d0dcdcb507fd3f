package compat

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/vigilkv/vigil/internal/testutil"
)

// TestZSetRandomVsRedis runs random sorted set commands against
// vigil-server and redis-server and compares every reply byte for byte.
// A listpack limit of 8 entries makes sets convert to skiplists and back
// (through the STORE commands) all the time.
func TestZSetRandomVsRedis(t *testing.T) {
	testutil.RequireRedis(t)
	const limit = "zset-max-listpack-entries"
	v := testutil.StartVigil(t, "--"+limit, "8").Raw()
	ref := testutil.StartRedis(t, "--"+limit, "8").Raw()
	r := rand.New(rand.NewPCG(11, 12))
	member := func() string {
		switch r.IntN(8) {
		case 0:
			return fmt.Sprint(r.IntN(20) - 5)
		case 1:
			return strings.Repeat("m", 60+r.IntN(10)) // around the value limit
		default:
			return string(rune('a' + r.IntN(14)))
		}
	}
	score := func() string {
		switch r.IntN(10) {
		case 0:
			return []string{"inf", "-inf", "+inf"}[r.IntN(3)]
		case 1:
			return fmt.Sprint(float64(r.IntN(100)) / 7)
		default:
			return fmt.Sprint(r.IntN(10) - 3)
		}
	}
	bound := func() string {
		p := ""
		if r.IntN(3) == 0 {
			p = "("
		}
		if r.IntN(8) == 0 {
			return []string{"-inf", "+inf"}[r.IntN(2)]
		}
		return p + fmt.Sprint(r.IntN(10)-3)
	}
	lex := func() string {
		switch r.IntN(6) {
		case 0:
			return "-"
		case 1:
			return "+"
		}
		return []string{"[", "("}[r.IntN(2)] + member()
	}
	idx := func() string { return fmt.Sprint(r.IntN(24) - 12) }
	// Lex ranges are only defined when all scores are equal (otherwise
	// Redis's answer depends on its skiplist's random levels): they run on
	// zlex, whose members all score 0.
	keys := []string{"za", "zb", "zc"}
	for i := 0; i < 6000; i++ {
		k, k2, k3 := keys[r.IntN(3)], keys[r.IntN(3)], keys[r.IntN(3)]
		var cmd []string
		switch r.IntN(24) {
		case 0, 1, 2:
			cmd = []string{"ZADD", k, score(), member(), score(), member()}
		case 3:
			opts := [][]string{{"NX"}, {"XX"}, {"GT", "CH"}, {"LT"}, {"XX", "CH"}, {"INCR"}}[r.IntN(6)]
			cmd = append(append([]string{"ZADD", k}, opts...), score(), member())
		case 4:
			cmd = []string{"ZINCRBY", k, score(), member()}
		case 5:
			cmd = []string{"ZREM", k, member(), member()}
		case 6:
			cmd = []string{"ZRANGE", k, idx(), idx(), "WITHSCORES"}
		case 7:
			cmd = []string{"ZRANGE", k, bound(), bound(), "BYSCORE", "LIMIT", fmt.Sprint(r.IntN(4)), fmt.Sprint(r.IntN(5) - 1)}
		case 8:
			cmd = []string{"ZREVRANGEBYSCORE", k, bound(), bound(), "WITHSCORES"}
		case 9:
			cmd = []string{"ZRANGEBYLEX", "zlex", lex(), lex()}
		case 10:
			cmd = []string{"ZREVRANGEBYLEX", "zlex", lex(), lex(), "LIMIT", "1", "3"}
		case 11:
			cmd = []string{"ZCOUNT", k, bound(), bound()}
		case 12:
			if r.IntN(2) == 0 {
				cmd = []string{"ZADD", "zlex", "0", member(), "0", member()}
			} else {
				cmd = []string{"ZLEXCOUNT", "zlex", lex(), lex()}
			}
		case 13:
			cmd = []string{[]string{"ZRANK", "ZREVRANK"}[r.IntN(2)], k, member()}
		case 14:
			cmd = []string{"ZREMRANGEBYRANK", k, idx(), idx()}
		case 15:
			cmd = []string{"ZREMRANGEBYSCORE", k, bound(), bound()}
		case 16:
			cmd = []string{"ZREMRANGEBYLEX", "zlex", lex(), lex()}
		case 17:
			cmd = []string{[]string{"ZPOPMIN", "ZPOPMAX"}[r.IntN(2)], k, fmt.Sprint(r.IntN(4))}
		case 18:
			cmd = []string{"ZMPOP", "2", k, k2, []string{"MIN", "MAX"}[r.IntN(2)], "COUNT", fmt.Sprint(1 + r.IntN(3))}
		case 19:
			cmd = []string{"ZUNIONSTORE", k, "2", k2, k3, "WEIGHTS", score(), score(), "AGGREGATE", []string{"SUM", "MIN", "MAX"}[r.IntN(3)]}
		case 20:
			cmd = []string{"ZINTER", "2", k2, k3, "WITHSCORES"}
		case 21:
			cmd = []string{"ZDIFFSTORE", k, "2", k2, k3}
		case 22:
			cmd = []string{"ZRANGESTORE", k, k2, idx(), idx(), "REV"}
		case 23:
			cmd = []string{"OBJECT", "ENCODING", k}
		}
		got, want := v.Do(cmd...), ref.Do(cmd...)
		if !bytes.Equal(got, want) {
			t.Fatalf("step %d %q:\n got %q\nwant %q", i, cmd, got, want)
		}
	}
	for _, k := range append(keys, "zlex") {
		cmd := []string{"ZRANGE", k, "0", "-1", "WITHSCORES"}
		if got, want := v.Do(cmd...), ref.Do(cmd...); !bytes.Equal(got, want) {
			t.Fatalf("final %s differs:\n got %q\nwant %q", k, got, want)
		}
	}
}

// TestZSetLargeVsRedis runs random commands against a sorted set of
// thousands of members, several levels deep in vigil's large encoding,
// and compares every reply with redis-server's byte for byte.
func TestZSetLargeVsRedis(t *testing.T) {
	testutil.RequireRedis(t)
	vp := testutil.StartVigil(t)
	v := vp.Raw()
	ref := testutil.StartRedis(t).Raw()
	r := rand.New(rand.NewPCG(21, 22))
	do := func(step int, cmd ...string) {
		t.Helper()
		if got, want := v.Do(cmd...), ref.Do(cmd...); !bytes.Equal(got, want) {
			t.Fatalf("step %d %q:\n got %.300q\nwant %.300q", step, cmd, got, want)
		}
	}
	member := func() string { return fmt.Sprint("m", r.IntN(6000)) }
	score := func() string { return fmt.Sprint(r.IntN(500)) } // ties: members order them
	for i := 0; i < 40; i++ {
		cmd := []string{"ZADD", "big"}
		for j := 0; j < 100; j++ {
			cmd = append(cmd, score(), member())
		}
		do(-1, cmd...)
		cmd = []string{"ZADD", "lex"}
		for j := 0; j < 100; j++ {
			cmd = append(cmd, "0", member())
		}
		do(-1, cmd...)
	}
	bound := func() string {
		p := []string{"", "("}[r.IntN(2)]
		return p + score()
	}
	lexBound := func() string { return []string{"[", "("}[r.IntN(2)] + member() }
	rank := func() string { return fmt.Sprint(r.IntN(3200) - 1600) }
	for i := 0; i < 3000; i++ {
		switch r.IntN(16) {
		case 0, 1:
			cmd := []string{"ZADD", "big"}
			for j := 0; j < 12; j++ {
				cmd = append(cmd, score(), member())
			}
			do(i, cmd...)
		case 2:
			do(i, "ZINCRBY", "big", fmt.Sprint(r.IntN(7)-3), member())
		case 3:
			do(i, "ZREM", "big", member(), member())
		case 4:
			do(i, "ZRANK", "big", member()) // WITHSCORE is newer than the reference (7.2)
		case 5:
			do(i, "ZREVRANK", "big", member())
		case 6:
			do(i, "ZCOUNT", "big", bound(), bound())
		case 7:
			do(i, "ZRANGE", "big", bound(), bound(), "BYSCORE", "LIMIT", fmt.Sprint(r.IntN(50)), fmt.Sprint(r.IntN(80)), "WITHSCORES")
		case 8:
			do(i, "ZRANGE", "big", bound(), bound(), "BYSCORE", "REV", "LIMIT", "0", "30")
		case 9:
			a := r.IntN(3200)
			do(i, "ZRANGE", "big", fmt.Sprint(a), fmt.Sprint(a+r.IntN(150)), "WITHSCORES")
		case 10:
			do(i, "ZREVRANGE", "big", rank(), rank())
		case 11:
			a := r.IntN(3000)
			do(i, "ZREMRANGEBYRANK", "big", fmt.Sprint(a), fmt.Sprint(a+r.IntN(20)))
		case 12:
			s := r.IntN(500)
			do(i, "ZREMRANGEBYSCORE", "big", fmt.Sprint(s), "("+fmt.Sprint(s+1))
		case 13:
			do(i, []string{"ZPOPMIN", "ZPOPMAX"}[r.IntN(2)], "big", fmt.Sprint(r.IntN(5)))
		case 14:
			do(i, "ZLEXCOUNT", "lex", lexBound(), lexBound())
			do(i, "ZRANGE", "lex", lexBound(), lexBound(), "BYLEX", "LIMIT", fmt.Sprint(r.IntN(20)), "25")
		case 15:
			a := r.IntN(3000)
			do(i, "ZREMRANGEBYLEX", "lex", "["+fmt.Sprint("m", a), "("+fmt.Sprint("m", a+r.IntN(200)))
			do(i, "ZADD", "lex", "0", member(), "0", member(), "0", member())
		}
	}
	do(-1, "ZRANGE", "big", "0", "-1", "WITHSCORES")
	do(-1, "ZRANGE", "lex", "0", "-1")
	do(-1, "OBJECT", "ENCODING", "big")
	if n, err := vp.Client().ZCard(context.Background(), "big").Result(); err != nil || n < 2000 {
		t.Fatalf("the set ended with %d members (%v); the test means to keep thousands", n, err)
	}
}
