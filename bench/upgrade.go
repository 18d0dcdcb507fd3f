package main

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// The upgrade suite: replacing a server's binary under a 50-client SET
// load on a big dataset. vigil upgrades in place (UPGRADE); Redis's only
// option is a restart that loads the RDB file, dropping every connection.
// Reported: the longest reply time a client saw (vigil's target: under
// 100 ms), failed requests (target 0), and the longest time a client went
// without a successful reply.

func (b *bencher) upgradeSuite(ctx context.Context) error {
	keys := 1000000
	if b.cfg.quick {
		keys = 200000
	}
	b.printf("\n== upgrade: replace the binary of a server holding %d keys of 100-byte values under a 50-client SET load\n", keys)
	servers, stop, err := b.startPair(ctx)
	if err != nil {
		return err
	}
	defer stop()
	type result struct {
		took time.Duration
		load loadStats
	}
	got := map[string]result{}
	for _, s := range servers {
		c := redis.NewClient(&redis.Options{Addr: s.p.Addr, DisableIdentity: true, ReadTimeout: 2 * time.Minute, WriteTimeout: time.Minute, MaxRetries: -1})
		if err := loadValues(ctx, c, keys); err != nil {
			c.Close()
			return fmt.Errorf("%s: %w", s.label, err)
		}
		if s.label == "redis" {
			// The restart loads this file.
			if err := c.Save(ctx).Err(); err != nil {
				c.Close()
				return fmt.Errorf("redis SAVE: %w", err)
			}
		}
		time.Sleep(b.cfg.settle)
		stopLoad := make(chan struct{})
		done := make(chan loadStats, 1)
		go func() { done <- runSetLoad(ctx, s.p.Addr, keys, time.Hour, stopLoad) }()
		time.Sleep(time.Second)
		start := time.Now()
		if s.label == "vigil" {
			err = c.Do(ctx, "UPGRADE").Err()
		} else {
			err = s.p.Restart(ctx)
		}
		took := time.Since(start)
		time.Sleep(time.Second)
		close(stopLoad)
		load := <-done
		if s.label == "vigil" && err == nil {
			// The new process is not the one the launcher started: stop it
			// when the suite ends.
			if pid, perr := infoField(c.Info(ctx, "server").Val(), "process_id"); perr == nil {
				defer func() {
					syscall.Kill(int(pid), syscall.SIGTERM)
					for i := 0; i < 250 && syscall.Kill(int(pid), 0) == nil; i++ {
						time.Sleep(20 * time.Millisecond)
					}
				}()
			}
		}
		c.Close()
		if err != nil {
			return fmt.Errorf("%s: replacing the binary: %w", s.label, err)
		}
		got[s.label] = result{took: took, load: load}
	}
	v, r := got["vigil"], got["redis"]
	b.printf("%-34s %14s %14s\n", "", "vigil (UPGRADE)", "redis (restart)")
	b.printf("%-34s %14v %14v\n", "UPGRADE / restart took", v.took.Round(time.Millisecond), r.took.Round(time.Millisecond))
	b.printf("%-34s %14v %14v   target vigil < 100ms: %s\n", "longest reply seen by a client", v.load.max.Round(time.Millisecond), r.load.max.Round(time.Millisecond), marker(v.load.max < 100*time.Millisecond))
	b.printf("%-34s %14d %14d   target vigil 0: %s\n", "failed requests", v.load.errors, r.load.errors, marker(v.load.errors == 0))
	b.printf("%-34s %14v %14v\n", "longest gap without a reply", v.load.gap.Round(time.Millisecond), r.load.gap.Round(time.Millisecond))
	b.printf("%-34s %14v %14v\n", "SET p99 over the run", v.load.p99.Round(time.Microsecond), r.load.p99.Round(time.Microsecond))
	return nil
}
