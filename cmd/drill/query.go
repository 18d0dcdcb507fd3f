package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/deploy/rollout"
)

// adminClient is a short-lived client for one probe: drills restart
// processes, so no connection is kept across them.
func adminClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1, PoolSize: 1,
		DialTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
}

// query sends one command and returns its reply as text.
func query(ctx context.Context, addr string, args ...any) (string, error) {
	c := adminClient(addr)
	defer c.Close()
	v, err := c.Do(ctx, args...).Text()
	if err != nil {
		return "", fmt.Errorf("%v on %s: %w", args, addr, err)
	}
	return v, nil
}

// requestFailover asks the sentinel at addr for a failover (SENTINEL
// FAILOVER), as an operator's tooling does.
func requestFailover(ctx context.Context, addr string) error {
	c := adminClient(addr)
	defer c.Close()
	return rollout.RequestFailover(ctx, c, masterName)
}

// info returns the fields of an INFO section.
func info(ctx context.Context, addr, section string) (map[string]string, error) {
	s, err := query(ctx, addr, "INFO", section)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			out[k] = v
		}
	}
	return out, nil
}

// infoInt reads one integer field of an INFO section.
func infoInt(ctx context.Context, addr, section, field string) (int64, error) {
	m, err := info(ctx, addr, section)
	if err != nil {
		return 0, err
	}
	v, ok := m[field]
	if !ok {
		return 0, fmt.Errorf("no %s in INFO %s of %s", field, section, addr)
	}
	return strconv.ParseInt(v, 10, 64)
}

// syncStats are a master's counts of full and partial resyncs served.
type syncStats struct{ full, partial int64 }

func readSyncStats(ctx context.Context, addr string) (syncStats, error) {
	m, err := info(ctx, addr, "stats")
	if err != nil {
		return syncStats{}, err
	}
	full, err1 := strconv.ParseInt(m["sync_full"], 10, 64)
	partial, err2 := strconv.ParseInt(m["sync_partial_ok"], 10, 64)
	if err1 != nil || err2 != nil {
		return syncStats{}, fmt.Errorf("INFO stats of %s lacks sync_full/sync_partial_ok", addr)
	}
	return syncStats{full: full, partial: partial}, nil
}

// linkUp reports (as nil) that the node at addr replicates from master
// with its link up.
func linkUp(ctx context.Context, addr, master string) error {
	m, err := info(ctx, addr, "replication")
	if err != nil {
		return err
	}
	if m["role"] != "slave" {
		return fmt.Errorf("%s is %s, not a replica", addr, m["role"])
	}
	if got := net.JoinHostPort(m["master_host"], m["master_port"]); got != master {
		return fmt.Errorf("%s replicates from %s, not %s", addr, got, master)
	}
	if m["master_link_status"] != "up" {
		return fmt.Errorf("%s: master_link_status:%s", addr, m["master_link_status"])
	}
	return nil
}

// sentinelMaster asks a sentinel for the master's address.
func sentinelMaster(ctx context.Context, addr string) (string, error) {
	c := adminClient(addr)
	defer c.Close()
	v, err := c.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName).StringSlice()
	if err != nil {
		return "", err
	}
	if len(v) != 2 {
		return "", fmt.Errorf("GET-MASTER-ADDR-BY-NAME replied %q", v)
	}
	return net.JoinHostPort(v[0], v[1]), nil
}

// sentinelMasterFields returns SENTINEL MASTER's fields.
func sentinelMasterFields(ctx context.Context, addr string) (map[string]string, error) {
	c := adminClient(addr)
	defer c.Close()
	v, err := c.Do(ctx, "SENTINEL", "MASTER", masterName).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("SENTINEL MASTER on %s: %w", addr, err)
	}
	out := map[string]string{}
	for i := 0; i+1 < len(v); i += 2 {
		out[v[i]] = v[i+1]
	}
	return out, nil
}

// configEpoch is a sentinel's config epoch of the group.
func configEpoch(ctx context.Context, addr string) (int64, error) {
	f, err := sentinelMasterFields(ctx, addr)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(f["config-epoch"], 10, 64)
}

// digest is DEBUG DIGEST of a data node.
func digest(ctx context.Context, addr string) (string, error) {
	return query(ctx, addr, "DEBUG", "DIGEST")
}

// countMissing counts the keys absent from the node at addr.
func countMissing(ctx context.Context, addr string, keys []string) (int, error) {
	c := adminClient(addr)
	defer c.Close()
	missing := 0
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys[:n] {
				p.Exists(ctx, k)
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("checking the acknowledged keys on %s: %w", addr, err)
		}
		for _, cmd := range cmds {
			if cmd.(*redis.IntCmd).Val() != 1 {
				missing++
			}
		}
		keys = keys[n:]
	}
	return missing, nil
}
