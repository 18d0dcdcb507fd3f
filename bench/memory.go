package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"
)

// loadBatch is how many keys one pipeline round trip writes.
const loadBatch = 1000

// memCase is one memory benchmark: a dataset loaded into a fresh server.
type memCase struct {
	name     string
	keys     int
	perKey   int // elements per key; bytes are reported per element
	loadKeys func(ctx context.Context, pipe redis.Pipeliner, from, to int)
}

// memResult is the growth of one server while loading a dataset.
type memResult struct {
	rss, used int64 // bytes added by the dataset
}

func (b *bencher) memCases() []memCase {
	div := 1
	if b.cfg.quick {
		div = 10
	}
	return []memCase{
		{
			name: "string keys, 16-byte values", keys: b.cfg.memKeys, perKey: 1,
			loadKeys: func(ctx context.Context, pipe redis.Pipeliner, from, to int) {
				// MSET of 100 pairs per command, a pipeline of commands per batch.
				for i := from; i < to; i += 100 {
					args := make([]any, 0, 200)
					for j := i; j < min(i+100, to); j++ {
						args = append(args, "key:"+strconv.Itoa(j), fmt.Sprintf("v-%014d", j))
					}
					pipe.MSet(ctx, args...)
				}
			},
		},
		{
			name: "hashes of 10 small fields", keys: 100000 / div, perKey: 10,
			loadKeys: func(ctx context.Context, pipe redis.Pipeliner, from, to int) {
				for i := from; i < to; i++ {
					args := make([]any, 0, 20)
					for f := 0; f < 10; f++ {
						args = append(args, "field"+strconv.Itoa(f), "value"+strconv.Itoa(i%1000))
					}
					pipe.HSet(ctx, "hash:"+strconv.Itoa(i), args...)
				}
			},
		},
		{
			name: "sets of 10 integers", keys: 100000 / div, perKey: 10,
			loadKeys: func(ctx context.Context, pipe redis.Pipeliner, from, to int) {
				for i := from; i < to; i++ {
					members := make([]any, 10)
					for m := range members {
						members[m] = i*10 + m
					}
					pipe.SAdd(ctx, "set:"+strconv.Itoa(i), members...)
				}
			},
		},
		{
			name: "sorted sets of 100 members", keys: 10000 / div, perKey: 100,
			loadKeys: func(ctx context.Context, pipe redis.Pipeliner, from, to int) {
				for i := from; i < to; i++ {
					members := make([]redis.Z, 100)
					for m := range members {
						members[m] = redis.Z{Score: float64(m) * 1.5, Member: "member:" + strconv.Itoa(m)}
					}
					pipe.ZAdd(ctx, "zset:"+strconv.Itoa(i), members...)
				}
			},
		},
	}
}

// memorySuite loads each dataset into a fresh vigil and a fresh redis and
// compares how much each grew, by RSS and by INFO used_memory.
func (b *bencher) memorySuite(ctx context.Context) error {
	b.printf("\n== memory: each dataset loaded into a fresh pair, measured %v after loading\n", b.cfg.settle)
	type row struct {
		c            memCase
		vigil, redis memResult
	}
	var rows []row
	for _, c := range b.memCases() {
		servers, stop, err := b.startPair(ctx)
		if err != nil {
			return err
		}
		got := map[string]memResult{}
		for _, s := range servers {
			r, err := b.measureLoad(ctx, s, c)
			if err != nil {
				stop()
				return fmt.Errorf("%s, %s: %w", c.name, s.label, err)
			}
			got[s.label] = r
		}
		stop()
		rows = append(rows, row{c, got["vigil"], got["redis"]})
	}
	tw := tabwriter.NewWriter(b.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "dataset\telements\tvigil RSS B/el\tredis RSS B/el\tratio\ttarget\t\tvigil used B/el\tredis used B/el\tratio\ttarget\t\t")
	for _, r := range rows {
		n := float64(r.c.keys * r.c.perKey)
		vr, rr := float64(r.vigil.rss)/n, float64(r.redis.rss)/n
		vu, ru := float64(r.vigil.used)/n, float64(r.redis.used)/n
		rssRatio, usedRatio := ratio(vr, rr), ratio(vu, ru)
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.3f\t<=%.1f\t%s\t%.1f\t%.1f\t%.3f\t<=%.1f\t%s\t\n",
			r.c.name, int(n), vr, rr, rssRatio, targetMemory, marker(rssRatio <= targetMemory),
			vu, ru, usedRatio, targetMemory, marker(usedRatio <= targetMemory))
	}
	tw.Flush()
	b.printf("(B/el: bytes each dataset element added, after subtracting the empty server; RSS from /proc, used from INFO memory)\n")
	return nil
}

// measureLoad loads dataset c into s and returns how much s grew.
func (b *bencher) measureLoad(ctx context.Context, s *server, c memCase) (memResult, error) {
	client := redis.NewClient(&redis.Options{Addr: s.p.Addr, DisableIdentity: true, ReadTimeout: time.Minute, WriteTimeout: time.Minute})
	defer client.Close()
	if err := client.Ping(ctx).Err(); err != nil {
		return memResult{}, err
	}
	time.Sleep(b.cfg.settle / 4)
	rss0, used0, err := memoryOf(ctx, s, client)
	if err != nil {
		return memResult{}, err
	}
	for from := 0; from < c.keys; {
		to := min(from+max(loadBatch/c.perKey, 1), c.keys)
		pipe := client.Pipeline()
		c.loadKeys(ctx, pipe, from, to)
		cmds, err := pipe.Exec(ctx)
		if err != nil {
			for _, cmd := range cmds {
				if cmd.Err() != nil {
					return memResult{}, fmt.Errorf("loading: %s: %w", strings.Join(strings.Fields(fmt.Sprint(cmd.Args()...))[:1], ""), cmd.Err())
				}
			}
			return memResult{}, fmt.Errorf("loading: %w", err)
		}
		from = to
	}
	if n, err := client.DBSize(ctx).Result(); err != nil || n != int64(c.keys) {
		return memResult{}, fmt.Errorf("after loading %d keys DBSIZE is %d (%v)", c.keys, n, err)
	}
	// Let background work settle: vigil returns freed heap to the OS
	// after a quiet second, as jemalloc does as it goes.
	time.Sleep(b.cfg.settle)
	rss1, used1, err := memoryOf(ctx, s, client)
	if err != nil {
		return memResult{}, err
	}
	return memResult{rss: rss1 - rss0, used: used1 - used0}, nil
}

// memoryOf returns the RSS and INFO used_memory of s.
func memoryOf(ctx context.Context, s *server, c *redis.Client) (rss, used int64, err error) {
	if rss, err = s.p.RSS(); err != nil {
		return 0, 0, err
	}
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		return 0, 0, fmt.Errorf("INFO memory: %w", err)
	}
	used, err = infoField(info, "used_memory")
	return rss, used, err
}

// infoField finds an integer field in INFO output.
func infoField(info, name string) (int64, error) {
	for _, line := range strings.Split(info, "\n") {
		v, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), name+":")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("INFO field %s=%q: %w", name, v, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("INFO has no %s field", name)
}
