package persistence

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

// snapshotAll reads every key of db 0 with its type, value and TTL class.
func snapshotAll(t *testing.T, c *redis.Client) map[string]any {
	t.Helper()
	ctx := context.Background()
	out := map[string]any{}
	keys := c.Keys(ctx, "*").Val()
	for _, k := range keys {
		var v any
		switch c.Type(ctx, k).Val() {
		case "string":
			v = c.Get(ctx, k).Val()
		case "list":
			v = c.LRange(ctx, k, 0, -1).Val()
		case "hash":
			v = c.HGetAll(ctx, k).Val()
		case "set":
			m := c.SMembers(ctx, k).Val()
			sort.Strings(m)
			v = m
		case "zset":
			v = c.ZRangeWithScores(ctx, k, 0, -1).Val()
		}
		enc := c.ObjectEncoding(ctx, k).Val()
		if enc == "raw" {
			// An appended string is raw until reloaded (embstr then), as
			// in Redis.
			enc = "embstr"
		}
		out[k] = []any{v, enc, c.TTL(ctx, k).Val() > 0}
	}
	return out
}

// TestDebugReloadAndLoadAOF: every type and encoding survives DEBUG RELOAD
// (RDB round trip) and DEBUG LOADAOF (AOF round trip), with and without
// the RDB preamble in the AOF base.
func TestDebugReloadAndLoadAOF(t *testing.T) {
	for _, preamble := range []string{"yes", "no"} {
		t.Run("preamble "+preamble, func(t *testing.T) {
			p := testutil.StartVigil(t, "--appendonly", "yes", "--aof-use-rdb-preamble", preamble, "--enable-debug-command", "yes")
			c := p.Client()
			ctx := context.Background()
			c.Set(ctx, "str", "hello", 0)
			c.Set(ctx, "int", "12345", 0)
			c.Set(ctx, "ttl", "x", 1e12)
			c.RPush(ctx, "list", "a", "b", 1, 2)
			for i := 0; i < 1000; i++ {
				c.RPush(ctx, "biglist", i)
				c.SAdd(ctx, "bigset", fmt.Sprint("m", i))
				c.HSet(ctx, "bighash", fmt.Sprint("f", i), i)
				c.ZAdd(ctx, "bigzset", redis.Z{Score: float64(i) / 7, Member: fmt.Sprint("z", i)})
			}
			c.HSet(ctx, "hash", "a", 1)
			c.SAdd(ctx, "intset", 1, 2, 3)
			c.ZAdd(ctx, "zset", redis.Z{Score: 1.5, Member: "a"})
			c.Append(ctx, "str", " world")
			before := snapshotAll(t, c)
			if err := c.Do(ctx, "DEBUG", "RELOAD").Err(); err != nil {
				t.Fatalf("DEBUG RELOAD: %v", err)
			}
			if after := snapshotAll(t, c); !reflect.DeepEqual(before, after) {
				for k, v := range before {
					if !reflect.DeepEqual(v, after[k]) {
						t.Errorf("%s: %v -> %v", k, v, after[k])
					}
				}
				t.Fatal("dataset changed across DEBUG RELOAD")
			}
			if err := c.BgRewriteAOF(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			c.RPush(ctx, "list", "after-rewrite")
			before = snapshotAll(t, c)
			if err := c.Do(ctx, "DEBUG", "LOADAOF").Err(); err != nil {
				t.Fatalf("DEBUG LOADAOF: %v", err)
			}
			if after := snapshotAll(t, c); !reflect.DeepEqual(before, after) {
				t.Fatal("dataset changed across DEBUG LOADAOF")
			}
		})
	}
}
