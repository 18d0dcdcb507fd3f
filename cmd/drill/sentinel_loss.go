package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// sentinelLossDrill takes the sentinels away one by one: with one of
// three down the lease holds (a majority still renews it) and clients see
// nothing; with two down the master refuses writes with -NOLEASE (no
// majority renews it, the same condition under which no failover could
// happen); when one returns writes resume without a restart.
var sentinelLossDrill = drillSpec{
	name:  "sentinel-loss",
	about: "kill -9 of one sentinel (nothing changes), then of a second (writes stop with -NOLEASE), then one restarted (writes resume)",
	fault: faultSentinelLoss,
}

func faultSentinelLoss(ctx context.Context, d *drillRun) error {
	master := d.c.nodes[0]
	first, second := 2, 1
	killSentinel := func(i int) (time.Time, error) {
		d.c.events.unwatch(i)
		at := time.Now()
		return at, d.c.sentinels[i].kill()
	}
	restartSentinel := func(i int) (time.Time, error) {
		at := time.Now()
		s := d.c.sentinels[i]
		if err := s.start(ctx, ""); err != nil {
			return at, err
		}
		return at, d.c.events.watch(ctx, i, s.addr())
	}

	at := d.fault()
	if _, err := killSentinel(first); err != nil {
		return err
	}
	// Several lease periods (a lease is down-after / 2): a lease renewed
	// by two of three would have run out by now if it needed the third.
	hold := 3 * d.c.opts.downAfter
	if err := sleepCtx(ctx, hold); err != nil {
		return err
	}
	ok, failed, kinds := d.w.outcomesBetween(at, time.Now())
	lease, err := leaseState(ctx, master.addr())
	if err != nil {
		return err
	}
	d.r.metric("one_down_acked", int64(ok))
	d.r.metric("one_down_errors", int64(failed))
	d.r.check("one sentinel of three down: no client error", failed == 0 && ok > 0,
		"%d writes acknowledged, %d failed (%s) in %v", ok, failed, kinds, hold)
	d.r.check("one sentinel of three down: the lease holds", lease == "ok", "master_lease:%s", lease)

	noleaseBefore := d.w.errorKinds()["NOLEASE"]
	secondAt, err := killSentinel(second)
	if err != nil {
		return err
	}
	// The lease runs out within down-after / 2 of the last renewal; the
	// bound is generous (a loaded machine).
	err = waitUntil(ctx, 10*d.c.opts.downAfter, func() error {
		if d.w.errorKinds()["NOLEASE"] == noleaseBefore {
			return fmt.Errorf("no -NOLEASE yet")
		}
		return nil
	})
	stoppedAfter := time.Since(secondAt)
	d.r.check("two sentinels of three down: writes refused with -NOLEASE", err == nil,
		"first -NOLEASE %v after the second kill", stoppedAfter.Round(time.Millisecond))
	if err != nil {
		return fmt.Errorf("writes never stopped with two sentinels down: %w", err)
	}
	d.r.metric("second_down_to_nolease_ms", stoppedAfter.Milliseconds())
	stopped := time.Now()
	if err := sleepCtx(ctx, 2*time.Second); err != nil {
		return err
	}
	ok, failed, kinds = d.w.outcomesBetween(stopped, time.Now())
	lease, err = leaseState(ctx, master.addr())
	if err != nil {
		return err
	}
	d.r.metric("two_down_acked", int64(ok))
	d.r.check("two sentinels of three down: no write acknowledged", ok == 0 && lease == "expired",
		"%d acknowledged, %d refused (%s) in 2 s after the first -NOLEASE; master_lease:%s", ok, failed, kinds, lease)

	backAt, err := restartSentinel(second)
	if err != nil {
		return err
	}
	err = waitUntil(ctx, switchTimeout, func() error {
		if d.w.firstAckAfter(backAt).IsZero() {
			return fmt.Errorf("no write acknowledged since the sentinel returned")
		}
		return nil
	})
	if err == nil {
		d.r.metric("sentinel_back_to_writes_ms", d.w.firstAckAfter(backAt).Sub(backAt).Milliseconds())
	}
	d.r.check("writes resume when a second sentinel returns", err == nil, "%v", err)
	if err != nil {
		return err
	}
	if _, err := restartSentinel(first); err != nil {
		return err
	}
	if err := d.c.waitSentinelsReady(ctx, 30*time.Second); err != nil {
		return err
	}
	var failovers []string
	for _, e := range d.c.events.all() {
		if !e.At.Before(at) && (e.Type == "+odown" || e.Type == "+try-failover" || e.Type == "+switch-master") {
			failovers = append(failovers, fmt.Sprintf("sentinel%d %s %s", e.Sentinel, e.Type, e.Msg))
		}
	}
	d.r.check("no failover", len(failovers) == 0, "%s", strings.Join(failovers, "; "))
	return nil
}

// leaseState is the master_lease field of a node's INFO replication.
func leaseState(ctx context.Context, addr string) (string, error) {
	m, err := info(ctx, addr, "replication")
	if err != nil {
		return "", fmt.Errorf("reading the lease state: %w", err)
	}
	return m["master_lease"], nil
}

// outcomesBetween counts the workload's writes that completed in [from,
// to): acknowledged, failed, and the failures' texts summarized.
func (w *workload) outcomesBetween(from, to time.Time) (ok, failed int, kinds string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.attempts {
		if a.done.Before(from) || !a.done.Before(to) {
			continue
		}
		if a.ok {
			ok++
		} else {
			failed++
		}
	}
	if failed > 0 {
		kinds = fmt.Sprint(w.errKinds)
	} else {
		kinds = "none"
	}
	return ok, failed, kinds
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
