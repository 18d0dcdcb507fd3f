package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/deploy/rollout"
)

// The rolling-upgrade drills replace every process of the deployment
// under the FailoverClient write load, as an operator rolling out a new
// release would: each data node with vigil-server's in-place upgrade
// (deploy/rollout, the code behind `vigil-server upgrade --sentinel`),
// the replicas first and then the master, in place or after a
// coordinated SENTINEL FAILOVER; then each sentinel, one at a time,
// stopped with SIGTERM and started again with the same arguments and
// directory (so from its state file).

// upgradeStep bounds each node's upgrade and each sentinel's return.
const upgradeStep = 2 * time.Minute

// rollingUpgradeSetup returns the topology options of a rolling-upgrade
// drill: the data nodes start from a copy of vigil-server in the run's
// directory, which the drill replaces before the upgrade (the in-place
// upgrade must pick up the replaced file).
func rollingUpgradeSetup(failover bool) func(o *topoOptions, s settings) {
	return func(o *topoOptions, s settings) {
		o.serverCopy = true
		o.dataset = s.dataset
		// An in-place upgrade may pause commands for up to
		// upgrade-pause-timeout (2 s): a client's timeout must be longer,
		// or a slow machine turns a slow reply into an error.
		o.clientTimeout = 5 * time.Second
		if !failover {
			// The in-place drill asserts that no write fails, so it runs
			// with the production configuration's down-after
			// (deploy/config). The master's lease lasts down-after / 2,
			// and while one sentinel restarts it rests on both others
			// renewing in time: with the drills' 1000 ms, a stall of
			// either on a loaded machine refused writes with NOLEASE (58
			// in one run of five), which is the lease working, not the
			// upgrade failing. Nothing here waits for down-after. The
			// failover variant keeps -down-after: a longer lease would
			// only lengthen the NOLEASE window after the switch.
			o.downAfter = max(s.downAfter, 5*time.Second)
		}
	}
}

// rollingUpgrade returns the fault of the rolling-upgrade drill; with
// failover the master role moves away (SENTINEL FAILOVER) before the old
// master is upgraded.
func rollingUpgrade(failover bool) func(ctx context.Context, d *drillRun) error {
	return func(ctx context.Context, d *drillRun) error { return faultRollingUpgrade(ctx, d, failover) }
}

// nodeBefore is what the drill knows of a data node before the upgrade.
type nodeBefore struct {
	pid int
	// conn is a long-lived connection (a pool of one) that must come
	// through the upgrade: the same CLIENT ID and no second dial.
	conn     *redis.Client
	dials    *atomic.Int64
	clientID int64
	// reads and readErrs count the reader's GETs of the dataset on conn
	// during the upgrade; readErr is the first failure.
	reads, readErrs atomic.Int64
	readErr         atomic.Value
}

// read GETs dataset keys on b's connection until stop is closed: a reader
// pinned to one node, which must see neither an error nor a wrong value
// while the node is replaced under it.
func (b *nodeBefore) read(ctx context.Context, n int, stop <-chan struct{}) {
	want := datasetValue()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(time.Millisecond):
		}
		k := "ds:" + strconv.Itoa(i%max(n, 1))
		v, err := b.conn.Get(ctx, k).Result()
		if err == nil && v != want {
			err = fmt.Errorf("GET %s: a %d-byte value, not the dataset's", k, len(v))
		}
		if err != nil && !(errors.Is(err, redis.Nil) && n == 0) {
			b.readErrs.Add(1)
			b.readErr.CompareAndSwap(nil, err.Error())
			continue
		}
		b.reads.Add(1)
	}
}

func faultRollingUpgrade(ctx context.Context, d *drillRun, failover bool) error {
	c := d.c
	if err := loadDataset(ctx, c.nodes[0].addr(), c.opts.dataset); err != nil {
		return err
	}
	// The readers pinned to the replicas expect the whole dataset.
	if err := waitCaughtUp(ctx, c.nodes[0], c.nodes[1:]); err != nil {
		return err
	}
	d.r.metric("dataset_keys", int64(c.opts.dataset))
	d.r.metric("down_after_ms", c.opts.downAfter.Milliseconds())
	before := map[*member]*nodeBefore{}
	defer func() {
		for _, b := range before {
			b.conn.Close()
		}
	}()
	for _, m := range c.nodes {
		b, err := openLongLived(ctx, m)
		if err != nil {
			return err
		}
		before[m] = b
	}
	epochs, myids, err := sentinelIdentities(ctx, c)
	if err != nil {
		return err
	}
	masterBefore, err := c.masterAddr(ctx)
	if err != nil {
		return err
	}
	currentBefore, err := c.currentEpochs()
	if err != nil {
		return err
	}
	// The new release: a fresh copy renamed over the file the nodes were
	// started from, as a package manager replaces a binary.
	server := c.nodes[0].path
	if err := copyExecutable(filepath.Join(c.opts.bin, "vigil-server"), server+".new"); err != nil {
		return err
	}
	if err := os.Rename(server+".new", server); err != nil {
		return fmt.Errorf("replacing %s: %w", server, err)
	}
	newBinary, err := os.Stat(server)
	if err != nil {
		return fmt.Errorf("the replaced binary: %w", err)
	}

	var progress []string
	stopReaders := make(chan struct{})
	var readers sync.WaitGroup
	for _, b := range before {
		readers.Add(1)
		go func() {
			defer readers.Done()
			b.read(ctx, c.opts.dataset, stopReaders)
		}()
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			close(stopReaders)
			readers.Wait()
		}
	}
	defer stop()
	at := d.fault()
	res, err := rollout.Upgrade(ctx, rollout.Options{Sentinel: c.sentinels[0].addr(), MasterName: masterName, Failover: failover,
		Step: upgradeStep, Progress: func(s string) {
			progress = append(progress, fmt.Sprintf("%d ms: %s", time.Since(at).Milliseconds(), s))
		}})
	// Whatever happened, the nodes that were upgraded run as new
	// processes: follow them, so the checks see them and close stops them.
	adoptErr := adoptUpgraded(ctx, c)
	stop()
	if err != nil {
		// What the rollout did so far, for the report.
		for _, p := range progress {
			d.r.note(p)
		}
		return fmt.Errorf("the rolling upgrade of the data nodes: %w", errors.Join(err, adoptErr))
	}
	if adoptErr != nil {
		return adoptErr
	}
	nodesDone := time.Now()
	d.r.metric("nodes_upgrade_ms", nodesDone.Sub(at).Milliseconds())
	d.r.metric(mPartial, res.PartialResyncs)
	d.r.metric(mFull, res.FullResyncs)
	d.r.metric("failovers", int64(res.Failovers))
	d.r.check("every data node upgraded", len(res.Upgraded) == len(c.nodes), "upgraded %v", res.Upgraded)
	// In place, both replicas continue after their own upgrade and again
	// after the master's; with the failover, the old master's upgrade as a
	// replica replaces the master's.
	wantPartial := int64(4)
	if failover {
		wantPartial = 3
	}
	d.r.check("replicas continued by partial resync", res.FullResyncs == 0 && res.PartialResyncs >= wantPartial,
		"%d partial resyncs (want at least %d), %d full", res.PartialResyncs, wantPartial, res.FullResyncs)
	checkUpgradedNodes(ctx, d, before, newBinary)

	if err := restartSentinels(ctx, d, myids); err != nil {
		return err
	}
	d.r.metric("sentinels_restart_ms", time.Since(nodesDone).Milliseconds())
	d.r.metric("total_ms", time.Since(at).Milliseconds())

	// No wait for a late failover: every sentinel renews the master's
	// lease at this point (restartSentinels waited for it), and a renewal
	// is a sentinel's liveness probe, so none sees the master down.
	checkFailovers(ctx, d, at, failover, epochs, currentBefore, masterBefore)
	st := d.w.stats()
	if l := d.w.latencies(); l != nil {
		d.r.metric("max_reply_ms", int64(l["max"]))
	}
	if failover {
		// The new master refuses writes (NOLEASE) until the sentinels'
		// grants to the old one ran out, and the old master (READONLY)
		// until the client follows +switch-master: counted, and the gap
		// bounded.
		d.r.check("client write window within failover-timeout", st.window <= c.opts.failoverTimeout,
			"longest gap between acknowledged writes %v, %d client errors", st.window.Round(time.Millisecond), st.errors)
	} else {
		d.r.check("no client error", st.errors == 0, "%d client errors (%v), longest gap between acknowledged writes %v",
			st.errors, d.w.errorKinds(), st.window.Round(time.Millisecond))
	}
	n := d.w.ackedSince(nodesDone)
	d.r.check("writes continue after the upgrade", n > 0, "%d writes acknowledged since the data nodes were upgraded", n)
	return nil
}

// loadDataset writes n keys with 100-byte values to the master, so each
// upgrade moves a dataset to the new process.
func loadDataset(ctx context.Context, addr string, n int) error {
	c := adminClient(addr)
	defer c.Close()
	val := datasetValue()
	for i := 0; i < n; {
		batch := min(n-i, 1000)
		// A batch is sent again after an error: on a loaded machine the
		// master may refuse writes for a moment (NOLEASE when a lease
		// renewal came late), and SET is idempotent.
		if err := waitUntil(ctx, upgradeStep, func() error {
			_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for j := i; j < i+batch; j++ {
					p.Set(ctx, "ds:"+strconv.Itoa(j), val, 0)
				}
				return nil
			})
			return err
		}); err != nil {
			return fmt.Errorf("loading the dataset into %s: %w", addr, err)
		}
		i += batch
	}
	return nil
}

// waitCaughtUp waits until every replica has processed the master's
// replication stream up to where it is now.
func waitCaughtUp(ctx context.Context, master *member, replicas []*member) error {
	target, err := infoInt(ctx, master.addr(), "replication", "master_repl_offset")
	if err != nil {
		return err
	}
	for _, r := range replicas {
		if err := waitUntil(ctx, upgradeStep, func() error {
			off, err := infoInt(ctx, r.addr(), "replication", "slave_repl_offset")
			if err == nil && off < target {
				err = fmt.Errorf("%s is at offset %d, the master was at %d", r.name, off, target)
			}
			return err
		}); err != nil {
			return fmt.Errorf("waiting for the replicas to take the dataset: %w", err)
		}
	}
	return nil
}

// datasetValue is every dataset key's value.
func datasetValue() string { return strings.Repeat("v", 100) }

// openLongLived opens a connection to m that stays open through the
// upgrade, and reads the process id it starts from.
func openLongLived(ctx context.Context, m *member) (*nodeBefore, error) {
	b := &nodeBefore{dials: &atomic.Int64{}}
	b.conn = redis.NewClient(&redis.Options{Addr: m.addr(), Protocol: 2, DisableIdentity: true, PoolSize: 1, MaxRetries: -1,
		ReadTimeout: upgradeStep, ConnMaxIdleTime: -1, ConnMaxLifetime: -1,
		OnConnect: func(context.Context, *redis.Conn) error { b.dials.Add(1); return nil }})
	id, err := b.conn.ClientID(ctx).Result()
	if err != nil {
		b.conn.Close()
		return nil, fmt.Errorf("CLIENT ID on %s: %w", m.name, err)
	}
	b.clientID = id
	pid, err := infoInt(ctx, m.addr(), "server", "process_id")
	if err != nil {
		b.conn.Close()
		return nil, err
	}
	b.pid = int(pid)
	return b, nil
}

// adoptUpgraded makes each data node's member follow the process that
// serves its port now, so the checks see it and close stops it.
func adoptUpgraded(ctx context.Context, c *cluster) error {
	// Also after Ctrl-C: a new process nobody adopts outlives the drill.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var errs []error
	for _, m := range c.nodes {
		pid, err := infoInt(ctx, m.addr(), "server", "process_id")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if int(pid) == m.p.Pid {
			continue
		}
		if err := m.p.Adopt(int(pid)); err != nil {
			errs = append(errs, fmt.Errorf("following %s to its new process: %w", m.name, err))
		}
	}
	return errors.Join(errs...)
}

// checkUpgradedNodes records, for every data node, that a new process
// runs the replaced binary, that it took over the long-lived connection,
// that the reader pinned to it saw no error, and how long the commit
// paused commands.
func checkUpgradedNodes(ctx context.Context, d *drillRun, before map[*member]*nodeBefore, newBinary os.FileInfo) {
	var maxPause int64
	var procs, conns, reads []string
	procsOK, connsOK, readsOK := true, true, true
	for _, m := range d.c.nodes {
		b := before[m]
		in, err := info(ctx, m.addr(), "server")
		if err != nil {
			d.r.check("every node runs the replaced binary in a new process", false, "%s: %v", m.name, err)
			return
		}
		pid, _ := strconv.Atoi(in["process_id"])
		exe, err := os.Stat(fmt.Sprintf("/proc/%d/exe", pid))
		ok := pid != b.pid && err == nil && os.SameFile(exe, newBinary) && in["upgrades"] == "1"
		procsOK = procsOK && ok
		procs = append(procs, fmt.Sprintf("%s: pid %d, then %d running %s, upgrades:%s", m.name, b.pid, pid, exeDesc(exe, err, newBinary), in["upgrades"]))
		pause, _ := strconv.ParseInt(in["upgrade_last_pause_ms"], 10, 64)
		d.r.metric("pause_ms_"+m.name, pause)
		maxPause = max(maxPause, pause)

		id, err := b.conn.ClientID(ctx).Result()
		dials := b.dials.Load()
		connsOK = connsOK && err == nil && id == b.clientID && dials == 1
		conns = append(conns, fmt.Sprintf("%s: CLIENT ID %d, then %d (%v), %d dial(s)", m.name, b.clientID, id, err, dials))

		n, bad := b.reads.Load(), b.readErrs.Load()
		d.r.metric("reads_"+m.name, n)
		readsOK = readsOK && bad == 0 && n > 0
		line := fmt.Sprintf("%s: %d reads, %d failed", m.name, n, bad)
		if bad > 0 {
			line += fmt.Sprintf(", first: %v", b.readErr.Load())
		}
		reads = append(reads, line)
	}
	d.r.metric("max_pause_ms", maxPause)
	d.r.check("every node runs the replaced binary in a new process", procsOK, "%s", strings.Join(procs, "; "))
	d.r.check("long-lived connections kept", connsOK, "%s", strings.Join(conns, "; "))
	d.r.check("readers pinned to each node saw no error", readsOK, "%s", strings.Join(reads, "; "))
}

func exeDesc(exe os.FileInfo, err error, want os.FileInfo) string {
	switch {
	case err != nil:
		return err.Error()
	case os.SameFile(exe, want):
		return "the replaced file"
	default:
		return "not the replaced file"
	}
}

// sentinelIdentities reads each sentinel's config epoch and id.
func sentinelIdentities(ctx context.Context, c *cluster) (epochs []int64, myids []string, err error) {
	for _, s := range c.sentinels {
		e, err := configEpoch(ctx, s.addr())
		if err != nil {
			return nil, nil, err
		}
		id, err := query(ctx, s.addr(), "SENTINEL", "MYID")
		if err != nil {
			return nil, nil, err
		}
		epochs, myids = append(epochs, e), append(myids, id)
	}
	return epochs, myids, nil
}

// restartSentinels stops each sentinel with SIGTERM and starts it again
// with the same arguments and directory, waiting until it is back in the
// gossip, sees the master and both replicas, and kept its id, before the
// next one.
func restartSentinels(ctx context.Context, d *drillRun, myids []string) error {
	c := d.c
	var slowest time.Duration
	var ids []string
	kept := true
	// The master's lease needs a majority of the sentinels renewing it:
	// with one sentinel down, both others must be. A sentinel is stopped
	// only once all renew (one freshly restarted may not yet), and the
	// last restart counts until all three do.
	//
	// The lease design assumes a restarted sentinel stays down longer
	// than a lease, since it forgets the grants it made. That matters
	// only if it could then grant to another node while an earlier grant
	// is in force; here every sentinel renews the current master when it
	// is stopped (so it waited out any grant to another node already)
	// and renews the same master after the restart. A restarted sentinel
	// itself renews nothing for a lease period (see grantedElsewhere in
	// sentinel/), so the next one is stopped only once the previous one
	// renewed after its restart: a standing renewal from before it does
	// not count.
	fresh := c.opts.downAfter / 4
	var prevStart time.Time
	for i, s := range c.sentinels {
		if err := waitRenewing(ctx, c, myids, fresh, prevStart); err != nil {
			return fmt.Errorf("before restarting %s: %w", s.name, err)
		}
		start := time.Now()
		prevStart = start
		c.events.unwatch(i)
		if err := s.stop(); err != nil {
			return err
		}
		if err := s.start(ctx, ""); err != nil {
			return err
		}
		if err := c.events.watch(ctx, i, s.addr()); err != nil {
			return err
		}
		if err := c.waitSentinelsReady(ctx, upgradeStep); err != nil {
			return fmt.Errorf("after restarting %s: %w", s.name, err)
		}
		master, err := c.masterAddr(ctx)
		if err != nil {
			return err
		}
		if err := waitUntil(ctx, upgradeStep, func() error {
			a, err := sentinelMaster(ctx, s.addr())
			if err == nil && a != master {
				err = fmt.Errorf("%s says the master is %s, the others %s", s.name, a, master)
			}
			return err
		}); err != nil {
			return fmt.Errorf("after restarting %s: %w", s.name, err)
		}
		if i == len(c.sentinels)-1 {
			if err := waitRenewing(ctx, c, myids, fresh, start); err != nil {
				return fmt.Errorf("after restarting %s: %w", s.name, err)
			}
		}
		took := time.Since(start)
		slowest = max(slowest, took)
		d.r.metric("restart_ms_"+s.name, took.Milliseconds())
		id, err := query(ctx, s.addr(), "SENTINEL", "MYID")
		kept = kept && err == nil && id == myids[i]
		ids = append(ids, fmt.Sprintf("%s: %s, then %s (%v)", s.name, myids[i], id, err))
	}
	d.r.metric("max_sentinel_restart_ms", slowest.Milliseconds())
	d.r.check("restarted sentinels kept their ids", kept, "%s", strings.Join(ids, "; "))
	return nil
}

// waitRenewing waits until each sentinel in ids holds a standing renewal
// of the master's lease younger than fresh and made after since (INFO
// replication's master_lease_renewals lists them as id-prefix=age).
func waitRenewing(ctx context.Context, c *cluster, ids []string, fresh time.Duration, since time.Time) error {
	return waitUntil(ctx, upgradeStep, func() error {
		master, err := c.masterAddr(ctx)
		if err != nil {
			return err
		}
		asked := time.Now()
		in, err := info(ctx, master, "replication")
		if err != nil {
			return err
		}
		ages := leaseRenewals(in["master_lease_renewals"])
		for _, id := range ids {
			age, ok := ages[id[:min(8, len(id))]]
			if !ok || age > fresh || asked.Add(-age).Before(since) {
				return fmt.Errorf("sentinel %s does not renew the lease of the master %s (renewals: %s)", id, master, in["master_lease_renewals"])
			}
		}
		return nil
	})
}

// leaseRenewals parses INFO replication's master_lease_renewals
// ("id-prefix=AGEms,..."): the age of each sentinel's standing renewal
// by the first 8 characters of its id. Malformed entries are skipped.
func leaseRenewals(field string) map[string]time.Duration {
	ages := map[string]time.Duration{}
	for _, r := range strings.Split(field, ",") {
		id, age, ok := strings.Cut(r, "=")
		ms, err := strconv.ParseInt(strings.TrimSuffix(age, "ms"), 10, 64)
		if ok && id != "" && strings.HasSuffix(age, "ms") && err == nil {
			ages[id] = time.Duration(ms) * time.Millisecond
		}
	}
	return ages
}

// checkFailovers records that the sentinels started no failover in place,
// or exactly the one asked for.
func checkFailovers(ctx context.Context, d *drillRun, at time.Time, failover bool, epochs, currentBefore []int64, masterBefore string) {
	var started []string
	switches := 0
	for _, e := range d.c.events.all() {
		if e.At.Before(at) {
			continue
		}
		switch {
		case e.Type == "+switch-master":
			switches++
			fallthrough
		case e.Type == "+odown", e.Type == "+try-failover", e.Type == "+new-epoch", strings.HasPrefix(e.Type, "+failover-"):
			started = append(started, fmt.Sprintf("sentinel%d %s %s", e.Sentinel, e.Type, e.Msg))
		}
	}
	masterAfter, err := d.c.masterAddr(ctx)
	if err != nil {
		d.r.check("sentinels answer after the upgrade", false, "%v", err)
		return
	}
	epochsAfter, _, err := sentinelIdentities(ctx, d.c)
	if !failover {
		detail := strings.Join(started, "; ")
		if detail == "" {
			detail = "no +odown, +try-failover, +new-epoch, +failover-* or +switch-master since the upgrade began"
		}
		d.r.check("no failover", len(started) == 0, "%s", detail)
		// The state files' current epochs too: a failover attempt that
		// got no votes raises them without changing the config epoch.
		currentAfter, err2 := d.c.currentEpochs()
		d.r.check("same master and epochs", err == nil && err2 == nil && masterAfter == masterBefore &&
			slices.Equal(epochs, epochsAfter) && slices.Equal(currentBefore, currentAfter),
			"master %s, then %s; config epochs %v, then %v; current epochs %v, then %v (%v)",
			masterBefore, masterAfter, epochs, epochsAfter, currentBefore, currentAfter, errors.Join(err, err2))
		return
	}
	d.checkOnePromotion(at)
	d.r.check("the master moved once", masterAfter != masterBefore && err == nil && slices.Equal(epochsAfter, []int64{epochs[0] + 1, epochs[0] + 1, epochs[0] + 1}),
		"master %s before, %s after; config epochs %v before, %v after (%v); %d +switch-master", masterBefore, masterAfter, epochs, epochsAfter, err, switches)
}

// copyExecutable copies the file at from to a new executable file at to.
func copyExecutable(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("copying %s: %w", from, err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return fmt.Errorf("copying %s: %w", from, err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return fmt.Errorf("copying %s to %s: %w", from, to, err)
	}
	if err := dst.Close(); err != nil {
		return fmt.Errorf("copying %s to %s: %w", from, to, err)
	}
	return nil
}
