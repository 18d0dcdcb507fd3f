// Package rollout upgrades a running deployment node by node with
// vigil-server's in-place upgrade: the replicas first, then the master,
// each checked before the next is touched. The operator's command
// (vigil-server upgrade --sentinel ...) and the rolling-upgrade drill both
// run it.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options says which deployment to upgrade and how.
type Options struct {
	// Sentinel is one sentinel's address; MasterName the group.
	Sentinel   string
	MasterName string
	// Binary is the new vigil-server on the nodes' machine; empty means
	// the path each node was started from.
	Binary string
	// Password authenticates to the data nodes, if they require one.
	Password string
	// Failover moves the master role away with SENTINEL FAILOVER (a
	// coordinated failover) before upgrading the old master, instead of
	// upgrading the master in place.
	Failover bool
	// Step bounds each node's upgrade and the checks after it.
	Step time.Duration
	// Progress receives a line per step (may be nil).
	Progress func(string)
}

// Result is what the rollout did.
type Result struct {
	// Upgraded lists the nodes upgraded, in order.
	Upgraded []string
	// PartialResyncs and FullResyncs count how the replicas continued
	// (from the masters' INFO stats).
	PartialResyncs, FullResyncs int64
	// Failovers is the number of +switch-master the rollout caused (0
	// for an in-place upgrade of the master).
	Failovers int
}

// Upgrade upgrades every data node of the group, as the package comment
// describes.
func Upgrade(ctx context.Context, o Options) (*Result, error) {
	if o.Step == 0 {
		o.Step = 5 * time.Minute
	}
	say := func(format string, args ...any) {
		if o.Progress != nil {
			o.Progress(fmt.Sprintf(format, args...))
		}
	}
	sc := redis.NewClient(&redis.Options{Addr: o.Sentinel, Protocol: 2, DisableIdentity: true})
	defer sc.Close()
	master, replicas, err := topology(ctx, sc, o.MasterName)
	if err != nil {
		return nil, err
	}
	say("master %s, replicas %s", master, strings.Join(replicas, " "))
	res := &Result{}
	for _, r := range replicas {
		if err := upgradeReplica(ctx, o, master, r, res, say); err != nil {
			return res, err
		}
	}
	if o.Failover && len(replicas) > 0 {
		say("moving the master role away from %s (SENTINEL FAILOVER)", master)
		sub := sc.Subscribe(ctx, "+switch-master")
		defer sub.Close()
		if _, err := sub.Receive(ctx); err != nil {
			return res, err
		}
		if err := RequestFailover(ctx, sc, o.MasterName); err != nil {
			return res, err
		}
		select {
		case m := <-sub.Channel():
			f := strings.Fields(m.Payload)
			if len(f) != 5 {
				return res, fmt.Errorf("bad +switch-master %q", m.Payload)
			}
			res.Failovers++
			newMaster := net.JoinHostPort(f[3], f[4])
			say("%s is the master now", newMaster)
			if err := waitRole(ctx, o, master, "slave"); err != nil {
				return res, err
			}
			err := upgradeReplica(ctx, o, newMaster, master, res, say)
			return res, err
		case <-time.After(o.Step):
			return res, errors.New("SENTINEL FAILOVER: no +switch-master")
		}
	}
	say("upgrading the master %s in place", master)
	mc := nodeClient(o, master)
	defer mc.Close()
	before, err := syncStats(ctx, mc)
	if err != nil {
		return res, err
	}
	if err := upgradeNode(ctx, o, master); err != nil {
		return res, err
	}
	res.Upgraded = append(res.Upgraded, master)
	// The replicas reconnect to the new process and continue.
	after, err := waitResyncs(ctx, o, mc, before, len(replicas))
	if err != nil {
		return res, fmt.Errorf("after upgrading the master %s: %w", master, err)
	}
	for _, r := range replicas {
		if err := waitLink(ctx, o, r); err != nil {
			return res, err
		}
	}
	res.PartialResyncs += after[1] - before[1]
	res.FullResyncs += after[0] - before[0]
	say("master %s upgraded; replicas continued (%d partial, %d full resyncs so far)", master, res.PartialResyncs, res.FullResyncs)
	return res, nil
}

// upgradeReplica upgrades replica r of master and waits until it follows
// the master again, counting how it resynced.
func upgradeReplica(ctx context.Context, o Options, master, r string, res *Result, say func(string, ...any)) error {
	mc := nodeClient(o, master)
	defer mc.Close()
	before, err := syncStats(ctx, mc)
	if err != nil {
		return err
	}
	say("upgrading replica %s", r)
	if err := upgradeNode(ctx, o, r); err != nil {
		return err
	}
	after, err := waitResyncs(ctx, o, mc, before, 1)
	if err != nil {
		return fmt.Errorf("after upgrading replica %s: %w", r, err)
	}
	if err := waitLink(ctx, o, r); err != nil {
		return err
	}
	res.PartialResyncs += after[1] - before[1]
	res.FullResyncs += after[0] - before[0]
	res.Upgraded = append(res.Upgraded, r)
	say("replica %s upgraded and following %s (%d partial, %d full resyncs)", r, master, after[1]-before[1], after[0]-before[0])
	return nil
}

// topology asks the sentinel for the master and its replicas.
func topology(ctx context.Context, sc *redis.Client, name string) (string, []string, error) {
	addr, err := sc.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name).StringSlice()
	if err != nil || len(addr) != 2 {
		return "", nil, fmt.Errorf("asking the sentinel for %s: %v %v", name, addr, err)
	}
	v, err := sc.Do(ctx, "SENTINEL", "REPLICAS", name).Slice()
	if err != nil {
		return "", nil, fmt.Errorf("SENTINEL REPLICAS %s: %w", name, err)
	}
	var replicas []string
	for _, r := range v {
		f, ok := r.([]any)
		if !ok {
			continue
		}
		m := map[string]string{}
		for i := 0; i+1 < len(f); i += 2 {
			m[fmt.Sprint(f[i])] = fmt.Sprint(f[i+1])
		}
		if strings.Contains(m["flags"], "down") {
			return "", nil, fmt.Errorf("replica %s is down: fix it before upgrading", m["name"])
		}
		replicas = append(replicas, net.JoinHostPort(m["ip"], m["port"]))
	}
	return net.JoinHostPort(addr[0], addr[1]), replicas, nil
}

func nodeClient(o Options, addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, Password: o.Password, DisableIdentity: true, ReadTimeout: o.Step, MaxRetries: -1})
}

// upgradeNode runs UPGRADE on addr and checks a new process serves.
func upgradeNode(ctx context.Context, o Options, addr string) error {
	c := nodeClient(o, addr)
	defer c.Close()
	pid0, err := processID(ctx, c)
	if err != nil {
		return err
	}
	args := []any{"UPGRADE"}
	if o.Binary != "" {
		args = append(args, "BINARY", o.Binary)
	}
	if err := c.Do(ctx, args...).Err(); err != nil {
		return fmt.Errorf("UPGRADE on %s: %w", addr, err)
	}
	pid1, err := processID(ctx, c)
	if err != nil {
		return err
	}
	if pid1 == pid0 {
		return fmt.Errorf("UPGRADE on %s replied OK but pid %d still serves", addr, pid0)
	}
	return nil
}

func processID(ctx context.Context, c *redis.Client) (int, error) {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(field(info, "process_id"))
}

// syncStats is the master's sync_full and sync_partial_ok.
func syncStats(ctx context.Context, c *redis.Client) ([2]int64, error) {
	info, err := c.Info(ctx, "stats").Result()
	if err != nil {
		return [2]int64{}, err
	}
	full, _ := strconv.ParseInt(field(info, "sync_full"), 10, 64)
	partial, _ := strconv.ParseInt(field(info, "sync_partial_ok"), 10, 64)
	return [2]int64{full, partial}, nil
}

// waitResyncs waits until the master behind mc served n more resyncs
// (full or partial) than before, and returns its counts then. A
// reconnecting replica's link may still read "up" from before, or be up
// a moment before the master counts its PSYNC: counting right after
// UPGRADE or the link check missed resyncs on a loaded machine.
func waitResyncs(ctx context.Context, o Options, mc *redis.Client, before [2]int64, n int) ([2]int64, error) {
	deadline := time.Now().Add(o.Step)
	for {
		after, err := syncStats(ctx, mc)
		if err == nil && after[0]-before[0]+after[1]-before[1] >= int64(n) {
			return after, nil
		}
		if time.Now().After(deadline) {
			return after, fmt.Errorf("the master served %d resyncs, want %d: %v", after[0]-before[0]+after[1]-before[1], n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitLink waits until replica addr's link to its master is up.
func waitLink(ctx context.Context, o Options, addr string) error {
	c := nodeClient(o, addr)
	defer c.Close()
	deadline := time.Now().Add(o.Step)
	for {
		info, err := c.Info(ctx, "replication").Result()
		if err == nil && field(info, "master_link_status") == "up" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replica %s did not reconnect to its master: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitRole waits until addr reports role (master or slave).
func waitRole(ctx context.Context, o Options, addr, role string) error {
	c := nodeClient(o, addr)
	defer c.Close()
	deadline := time.Now().Add(o.Step)
	for {
		v, err := c.Do(ctx, "ROLE").Slice()
		if err == nil && len(v) > 0 && v[0] == role {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not become a %s: %v", addr, role, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func field(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), name+":"); ok {
			return v
		}
	}
	return ""
}

// RequestFailover asks sentinel for a failover of master (SENTINEL
// FAILOVER). A sentinel answers NOGOODSLAVE while no replica can be
// promoted, as one restarted a moment ago may not be yet (its last PING
// reply too old): that is asked again for up to ten seconds.
func RequestFailover(ctx context.Context, sentinel *redis.Client, master string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := sentinel.Do(ctx, "SENTINEL", "FAILOVER", master).Err()
		if err == nil {
			return nil
		}
		if !redis.HasErrorPrefix(err, "NOGOODSLAVE") || time.Now().After(deadline) {
			return fmt.Errorf("SENTINEL FAILOVER %s: %w", master, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
