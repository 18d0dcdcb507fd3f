package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/netns"
	"github.com/vigilkv/vigil/internal/writeload"
)

// partitionDrill cuts the master off from the sentinels and the replicas
// with a real network partition: the master runs in a network namespace
// of its own, joined to the host by a veth pair whose link is taken down,
// while a client inside the namespace still reaches it (split brain).
var partitionDrill = drillSpec{
	name:      "partition",
	about:     "the master cut off from sentinels and replicas (network namespace, root) while a pinned client still reaches it, then healed",
	setup:     func(o *topoOptions, _ settings) { o.isolateMaster = true },
	fault:     faultPartition,
	needs:     netns.Available,
	reference: true,
}

// failoverBegins are the events that show a failover has begun (or is
// about to: +odown is what lets a sentinel start one).
var failoverBegins = []string{"+odown", "+try-failover", "+elected-leader"}

func faultPartition(ctx context.Context, d *drillRun) error {
	ns, old := d.c.ns, d.c.nodes[0]
	// The pinned client dials from inside the namespace, over its
	// loopback, which the cut does not touch: a client on the master's
	// side of the partition.
	inside := func() *redis.Client {
		return redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(old.port), Dialer: ns.Dial,
			MaxRetries: -1, PoolSize: 1, DisableIdentity: true, ReadTimeout: 5 * time.Second})
	}
	pinned := inside()
	defer pinned.Close()
	if !d.c.opts.reference {
		if err := waitUntil(ctx, 10*time.Second, func() error {
			m, err := info(ctx, old.addr(), "replication")
			if err != nil {
				return err
			}
			if m["master_lease"] != "ok" {
				return fmt.Errorf("master_lease:%s", m["master_lease"])
			}
			return nil
		}); err != nil {
			return fmt.Errorf("the master never held its lease: %w", err)
		}
	}
	var mu sync.Mutex
	var cutAt, lastAck time.Time
	// ackedAfterCut are the times of the pinned client's acknowledgements
	// since the cut.
	var ackedAfterCut []time.Time
	load := writeload.Start(ctx, pinned, "pinned:", 0, func(k string, _, now time.Time) {
		d.w.record(k)
		mu.Lock()
		lastAck = now
		if !cutAt.IsZero() {
			ackedAfterCut = append(ackedAfterCut, now)
		}
		mu.Unlock()
	})
	halt := load.Stop
	defer halt()
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	cutAt = d.fault()
	mu.Unlock()
	if err := ns.Cut(); err != nil {
		return fmt.Errorf("cutting the master's link: %w", err)
	}
	if err := d.waitSwitch(ctx, cutAt, -1); err != nil {
		ns.Heal()
		return err
	}
	time.Sleep(time.Second)
	d.checkOnePromotion(cutAt)
	mu.Lock()
	last, n := lastAck, len(ackedAfterCut)
	mu.Unlock()
	began, ok, _ := d.c.events.find(cutAt, func(e event) bool {
		for _, t := range failoverBegins {
			if e.Type == t {
				return true
			}
		}
		return false
	})
	if !ok {
		ns.Heal()
		return fmt.Errorf("a +switch-master with none of %v before it", failoverBegins)
	}
	d.r.metric("cut_to_last_isolated_ack_ms", last.Sub(cutAt).Milliseconds())
	d.r.metric("cut_to_failover_begin_ms", began.At.Sub(cutAt).Milliseconds())
	d.r.metric("isolated_ack_to_failover_begin_ms", began.At.Sub(last).Milliseconds())
	d.r.check("the isolated master stopped acknowledging before the failover began", last.Before(began.At),
		"cut at 0: last write acknowledged by the isolated master at %v (%d after the cut), first %s at %v",
		last.Sub(cutAt).Round(time.Millisecond), n, began.Type, began.At.Sub(cutAt).Round(time.Millisecond))

	if err := ns.Heal(); err != nil {
		return fmt.Errorf("healing the master's link: %w", err)
	}
	healed := time.Now()
	probe := inside()
	defer probe.Close()
	var role string
	err := waitUntil(ctx, 30*time.Second, func() error {
		v, err := probe.Do(ctx, "ROLE").Slice()
		if err != nil {
			return err
		}
		if role = fmt.Sprint(v[0]); role != "slave" {
			return fmt.Errorf("role %s", role)
		}
		return nil
	})
	took := time.Since(healed)
	d.r.metric("heal_to_old_master_demoted_ms", took.Milliseconds())
	d.r.check("the old master demoted after the heal", err == nil, "ROLE %s %v after the heal", role, took.Round(time.Millisecond))
	// The pinned client's writes stop at the demotion (READONLY); stop
	// it before the common checks look for every acknowledged write.
	halt()
	// Every write the old master acknowledged from the cut to its
	// demotion (after the heal too: a Redis master takes writes until
	// a sentinel converts it).
	mu.Lock()
	defer mu.Unlock()
	split := 0
	for _, t := range ackedAfterCut {
		if !t.Before(began.At) {
			split++
		}
	}
	d.r.metric("acked_by_isolated_master_after_cut", int64(len(ackedAfterCut)))
	d.r.metric(mAckedByIsolated, int64(split))
	return nil
}
