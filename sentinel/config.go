// Package sentinel is vigil-sentinel: it watches data nodes, agrees with
// its peers that a master is down, elects a leader per epoch and promotes
// the best replica. The decisions (replica choice, votes, tallies) come
// from package failover; this package does the I/O: links to the data
// nodes, gossip with the peers (hashicorp/memberlist), the state file and
// the Redis Sentinel API on its port.
package sentinel

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Group is one monitored master ("monitor <name> <host> <port> <quorum>").
type Group struct {
	Name            string
	Host            string
	Port            int
	Quorum          int
	DownAfter       time.Duration
	FailoverTimeout time.Duration
	ParallelSyncs   int
	AuthPass        string
}

// Config is a sentinel's configuration.
type Config struct {
	Bind       string
	Port       int
	Dir        string
	AnnounceIP string
	// Gossip: the memberlist bind port and the seeds to join.
	GossipPort int
	Join       []string
	Groups     []Group
}

// DefaultDownAfter and the other defaults are Redis Sentinel's.
const (
	DefaultDownAfter       = 30 * time.Second
	DefaultFailoverTimeout = 180 * time.Second
)

// ParseMonitor parses "name host port quorum".
func ParseMonitor(s string) (Group, error) {
	f := strings.Fields(s)
	if len(f) != 4 {
		return Group{}, fmt.Errorf("monitor %q: want <name> <host> <port> <quorum>", s)
	}
	port, err := strconv.Atoi(f[2])
	if err != nil || port <= 0 || port > 65535 {
		return Group{}, fmt.Errorf("monitor %q: bad port", s)
	}
	q, err := strconv.Atoi(f[3])
	if err != nil || q <= 0 {
		return Group{}, fmt.Errorf("monitor %q: quorum must be a positive integer", s)
	}
	return Group{Name: f[0], Host: f[1], Port: port, Quorum: q, DownAfter: DefaultDownAfter,
		FailoverTimeout: DefaultFailoverTimeout, ParallelSyncs: 1}, nil
}
