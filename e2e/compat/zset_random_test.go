package compat

import (
	"bytes"
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
