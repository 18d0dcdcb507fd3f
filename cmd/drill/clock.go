package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// clockDrill pauses the master briefly and jumps the host's wall clock,
// forward and then backward: the lease runs on the monotonic clock, so
// nothing may change. It changes the clock of the whole machine (every
// process on it sees the jump), so it runs only when named and needs
// root; the wall clock is put back to the true time after each jump.
var clockDrill = drillSpec{
	name:     "clock",
	about:    "SIGSTOP of the master for 300 ms while the host's wall clock jumps forward, then again jumping it backward (root; changes the host clock)",
	setup:    func(o *topoOptions, s settings) { o.clockJump = s.clockJump },
	fault:    faultClock,
	needs:    canSetClock,
	explicit: true,
}

// clockPause is how long the master is paused around each jump: well
// under down-after, so no sentinel may see it down.
const clockPause = 300 * time.Millisecond

// canSetClock reports why this process may not set the wall clock.
func canSetClock() error {
	if os.Geteuid() != 0 {
		return errors.New("setting the wall clock needs root")
	}
	// Root in a container may still lack CAP_SYS_TIME: setting the clock
	// to the time it shows tells, and changes nothing.
	ts := unix.NsecToTimespec(time.Now().UnixNano())
	if err := unix.ClockSettime(unix.CLOCK_REALTIME, &ts); err != nil {
		return fmt.Errorf("this process may not set the wall clock: %w", err)
	}
	return nil
}

// wallClock moves the host's wall clock and puts it back. It reads the
// true time as the wall time it saved at the start plus the monotonic
// time elapsed since (Go's time.Since uses the monotonic reading, which a
// change of the wall clock does not move), so restoring is exact to the
// microseconds the system call takes.
type wallClock struct {
	saved time.Time
	mu    sync.Mutex
	moved bool
}

func newWallClock() *wallClock { return &wallClock{saved: time.Now()} }

// trueNow is the wall time as it would be without the jumps.
func (c *wallClock) trueNow() time.Time { return c.saved.Add(time.Since(c.saved)) }

// set puts the wall clock at the true time plus offset.
func (c *wallClock) set(offset time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ts := unix.NsecToTimespec(c.trueNow().Add(offset).UnixNano())
	if err := unix.ClockSettime(unix.CLOCK_REALTIME, &ts); err != nil {
		return fmt.Errorf("setting the wall clock %+v from the true time: %w", offset, err)
	}
	c.moved = offset != 0
	return nil
}

// restore puts the wall clock back to the true time if it was moved.
func (c *wallClock) restore() error {
	c.mu.Lock()
	moved := c.moved
	c.mu.Unlock()
	if !moved {
		return nil
	}
	return c.set(0)
}

func faultClock(ctx context.Context, d *drillRun) error {
	master := d.c.nodes[0]
	jump := d.c.opts.clockJump
	if jump <= 0 {
		return fmt.Errorf("the clock jump must be positive, not %v", jump)
	}
	lease, err := leaseState(ctx, master.addr())
	if err != nil {
		return err
	}
	if lease != "ok" {
		return fmt.Errorf("the master does not hold its lease before the drill: master_lease:%s", lease)
	}
	// The lease state, sampled all along from another goroutine.
	var mu sync.Mutex
	samples := 0
	var bad []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			l, err := leaseState(ctx, master.addr())
			mu.Lock()
			samples++
			if err != nil || l != "ok" {
				bad = append(bad, fmt.Sprintf("%s %v", l, err))
			}
			mu.Unlock()
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
	}()

	clock := newWallClock()
	// Whatever happens (an error, a panic, Ctrl-C), the wall clock goes
	// back to the true time before the drill returns.
	defer func() {
		if err := clock.restore(); err != nil {
			d.r.note("could not put the wall clock back: " + err.Error())
		}
	}()
	// Said on stderr as it happens: every process on the machine sees it.
	fmt.Fprintf(os.Stderr, "vigil-drill: clock drill: moving this machine's wall clock %v forward and back (restored to the true time after each jump)\n", jump)
	at := d.fault()
	for _, offset := range []time.Duration{jump, -jump} {
		if err := master.p.Freeze(); err != nil {
			return err
		}
		err := clock.set(offset)
		if err == nil {
			err = sleepCtx(ctx, clockPause)
		}
		if terr := master.p.Thaw(); err == nil {
			err = terr
		}
		if err != nil {
			return err
		}
		// The master runs for a while under the moved clock.
		err = sleepCtx(ctx, time.Second)
		if rerr := clock.restore(); err == nil {
			err = rerr
		}
		if err != nil {
			return err
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
	// Long enough for a failover the jumps provoked to show.
	if err := sleepCtx(ctx, 2*d.c.opts.downAfter); err != nil {
		return err
	}
	end := time.Now()
	ok, failed, kinds := d.w.outcomesBetween(at, end)
	d.r.metric("clock_jump_ms", jump.Milliseconds())
	d.r.check("no client error", failed == 0 && ok > 0, "%d writes acknowledged, %d failed (%s) during the drill", ok, failed, kinds)
	mu.Lock()
	nSamples, nBad := samples, len(bad)
	badText := strings.Join(bad[:min(len(bad), 5)], "; ")
	mu.Unlock()
	d.r.metric("lease_samples", int64(nSamples))
	d.r.check("the lease stayed ok", nBad == 0 && nSamples > 0, "%d of %d samples of master_lease not ok: %s", nBad, nSamples, badText)
	var failovers []string
	tilts := 0
	for _, e := range d.c.events.all() {
		if e.At.Before(at) {
			continue
		}
		switch e.Type {
		case "+sdown", "+odown", "+try-failover", "+switch-master":
			failovers = append(failovers, fmt.Sprintf("sentinel%d %s %s", e.Sentinel, e.Type, e.Msg))
		case "+tilt":
			tilts++
		}
	}
	d.r.metric("tilt_events", int64(tilts))
	d.r.check("no failover, nothing seen down", len(failovers) == 0, "%s", strings.Join(failovers, "; "))
	if tilts > 0 {
		// Expected: a sentinel distrusts its timeouts for 30 s after a jump
		// of the wall clock (as Redis's does), which only delays a failover.
		d.r.note(fmt.Sprintf("%d sentinel +tilt events: the sentinels noticed the jumps (TILT mode suspends their actions for 30 s)", tilts))
	}
	return nil
}
