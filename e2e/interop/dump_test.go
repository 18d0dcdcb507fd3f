package interop

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

// TestDumpRestoreBothWays moves values of every encoding between a real
// redis-server and vigil-server with DUMP and RESTORE, in both
// directions, and checks they arrive intact.
func TestDumpRestoreBothWays(t *testing.T) {
	testutil.RequireRedis(t)
	ctx := context.Background()
	rs := testutil.StartRedis(t).Client()
	vs := testutil.StartVigil(t).Client()
	long := strings.Repeat("compressible ", 40)
	populate := func(c *redis.Client) {
		c.Set(ctx, "int", "-123456", 0)
		c.Set(ctx, "short", "hello", 0)
		c.Set(ctx, "long", long, 0)
		c.RPush(ctx, "list", "a", "b", "3", "-70000", long)
		for i := 0; i < 2000; i++ {
			c.RPush(ctx, "biglist", fmt.Sprint("element-", i))
		}
		c.HSet(ctx, "hash", "f1", "v1", "f2", "2")
		for i := 0; i < 300; i++ {
			c.HSet(ctx, "bighash", fmt.Sprint("field-", i), i)
		}
		c.SAdd(ctx, "intset", 1, -5, 70000, 1<<40)
		c.SAdd(ctx, "set", "a", "b", "c")
		for i := 0; i < 600; i++ {
			c.SAdd(ctx, "bigintset", i)
		}
		c.ZAdd(ctx, "zset", redis.Z{Score: 1.5, Member: "a"}, redis.Z{Score: -2, Member: "7"}, redis.Z{Score: 0.1, Member: long[:40]})
		for i := 0; i < 300; i++ {
			c.ZAdd(ctx, "bigzset", redis.Z{Score: float64(i%17) / 3, Member: fmt.Sprint("member-", i)})
		}
	}
	keys := []string{"int", "short", "long", "list", "biglist", "hash", "bighash", "intset", "set", "bigintset", "zset", "bigzset"}
	snapshot := func(c *redis.Client, key string) any {
		switch c.Type(ctx, key).Val() {
		case "string":
			return c.Get(ctx, key).Val()
		case "list":
			return c.LRange(ctx, key, 0, -1).Val()
		case "hash":
			return c.HGetAll(ctx, key).Val()
		case "zset":
			return c.ZRangeWithScores(ctx, key, 0, -1).Val()
		case "set":
			m := c.SMembers(ctx, key).Val()
			sort.Strings(m)
			return m
		}
		return nil
	}
	for _, dir := range []struct {
		name     string
		from, to *redis.Client
	}{{"redis to vigil", rs, vs}, {"vigil to redis", vs, rs}} {
		t.Run(dir.name, func(t *testing.T) {
			dir.from.FlushAll(ctx)
			dir.to.FlushAll(ctx)
			populate(dir.from)
			for _, k := range keys {
				payload, err := dir.from.Dump(ctx, k).Result()
				if err != nil {
					t.Fatalf("DUMP %s: %v", k, err)
				}
				if err := dir.to.Restore(ctx, k, 0, payload).Err(); err != nil {
					t.Fatalf("RESTORE %s: %v", k, err)
				}
				want, got := snapshot(dir.from, k), snapshot(dir.to, k)
				if !reflect.DeepEqual(want, got) {
					t.Fatalf("%s: restored value differs", k)
				}
				we, ge := dir.from.ObjectEncoding(ctx, k).Val(), dir.to.ObjectEncoding(ctx, k).Val()
				if we != ge {
					t.Errorf("%s: encoding %q after restore, source has %q", k, ge, we)
				}
			}
			if err := dir.to.Restore(ctx, "fresh-key", 0, "garbage").Err(); err == nil || err.Error() != "ERR DUMP payload version or checksum are wrong" {
				t.Errorf("RESTORE garbage: %v", err)
			}
			if err := dir.to.Restore(ctx, "int", 0, "garbage").Err(); err == nil || err.Error() != "BUSYKEY Target key name already exists." {
				t.Errorf("RESTORE onto an existing key: %v", err)
			}
		})
	}
}
