package interop

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"
)

// typeKeys are the keys populateTypes writes: every type in each of its
// encodings (int and raw strings, LZF-compressible strings, listpack and
// quicklist lists, listpack and hashtable hashes, intsets and hashtable
// sets, listpack and skiplist sorted sets).
var typeKeys = []string{"int", "short", "long", "list", "biglist", "hash", "bighash", "intset", "set", "bigintset", "zset", "bigzset"}

var longValue = strings.Repeat("compressible ", 40)

func populateTypes(ctx context.Context, c *redis.Client) {
	c.Set(ctx, "int", "-123456", 0)
	c.Set(ctx, "short", "hello", 0)
	c.Set(ctx, "long", longValue, 0)
	c.RPush(ctx, "list", "a", "b", "3", "-70000", longValue)
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
	c.ZAdd(ctx, "zset", redis.Z{Score: 1.5, Member: "a"}, redis.Z{Score: -2, Member: "7"}, redis.Z{Score: 0.1, Member: longValue[:40]})
	for i := 0; i < 300; i++ {
		c.ZAdd(ctx, "bigzset", redis.Z{Score: float64(i%17) / 3, Member: fmt.Sprint("member-", i)})
	}
}

// valueOf reads a key's whole value in a comparable form.
func valueOf(ctx context.Context, c *redis.Client, key string) any {
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
