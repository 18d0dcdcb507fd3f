// Package sentinel is vigil-sentinel: it watches data nodes, agrees with
// its peers that a master is down, elects a leader per epoch and promotes
// the best replica. The decisions (replica choice, votes, tallies) come
// from package failover; this package does the I/O: links to the data
// nodes, gossip with the peers (hashicorp/memberlist), the state file and
// the Redis Sentinel API on its port.
package sentinel

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vigilkv/vigil/internal/resp"
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
	// AuthPass and AuthUser authenticate the sentinel to the group's data
	// nodes (AUTH [user] pass).
	AuthPass string
	AuthUser string
}

// Config is a sentinel's configuration.
type Config struct {
	Bind       string
	Port       int
	Dir        string
	AnnounceIP string
	// AnnouncePort is the port peers and clients reach this sentinel at
	// (0: the listening port).
	AnnouncePort int
	// ResolveHostnames lets SENTINEL MONITOR take a hostname (else an IP
	// address is required); AnnounceHostnames is kept for SENTINEL CONFIG
	// GET: vigil always reports an address as it was given.
	ResolveHostnames  bool
	AnnounceHostnames bool
	// RequirePass is the password clients must give (AUTH, HELLO ... AUTH)
	// on the sentinel port, as Redis Sentinel's requirepass; "" means
	// none. Unless SentinelPass is set, it is also what this sentinel
	// gives its peers, as Redis does.
	RequirePass string
	// SentinelUser and SentinelPass authenticate this sentinel to its
	// peers (Redis's sentinel-user and sentinel-pass).
	SentinelUser string
	SentinelPass string
	// ForgetAfter forgets replicas and sentinels unreachable for longer
	// than this (0: never, the default; see failover.ForgetSentinels for
	// why forgetting sentinels is a trade-off).
	ForgetAfter time.Duration
	// Gossip: the memberlist bind port and the seeds to join.
	GossipPort int
	Join       []string
	// GossipAnnounceIP and GossipAnnouncePort are where peers reach this
	// sentinel's gossip when that is not where it listens (NAT, a
	// container's published port); empty and 0: memberlist's choice (the
	// bind address, or the first private one for 0.0.0.0) and GossipPort.
	GossipAnnounceIP   string
	GossipAnnouncePort int
	// GossipKeys encrypt and authenticate the gossip (AES-GCM, keys of
	// 16, 24 or 32 bytes). The first encrypts; every one is tried on what
	// arrives, so keys can be rotated without a sentinel losing its
	// peers. None: the gossip is plain, and anyone who can reach the
	// gossip port can tell the sentinels which master to name.
	GossipKeys [][]byte
	Groups     []Group
}

// DefaultDownAfter and the other defaults are Redis Sentinel's.
const (
	DefaultDownAfter       = 30 * time.Second
	DefaultFailoverTimeout = 180 * time.Second
)

// ParseGossipKeys parses a comma-separated list of base64 keys, the
// primary first (the form of --gossip-key).
func ParseGossipKeys(s string) ([][]byte, error) {
	var keys [][]byte
	for i, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		k, err := base64.StdEncoding.DecodeString(f)
		if err != nil {
			return nil, fmt.Errorf("key %d is not base64: %w", i+1, err)
		}
		if n := len(k); n != 16 && n != 24 && n != 32 {
			return nil, fmt.Errorf("key %d is %d bytes: want 16, 24 or 32 (AES-128, -192 or -256)", i+1, n)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// ParseMonitor parses "name host port quorum".
func ParseMonitor(s string) (Group, error) {
	f := strings.Fields(s)
	if len(f) != 4 {
		return Group{}, fmt.Errorf("monitor %q: want <name> <host> <port> <quorum>", s)
	}
	port, err := strconv.Atoi(f[2])
	if err != nil || !validPort(port) {
		return Group{}, fmt.Errorf("monitor %q: bad port", s)
	}
	q, err := strconv.Atoi(f[3])
	if err != nil || q <= 0 {
		return Group{}, fmt.Errorf("monitor %q: quorum must be a positive integer", s)
	}
	return Group{Name: f[0], Host: f[1], Port: port, Quorum: q, DownAfter: DefaultDownAfter,
		FailoverTimeout: DefaultFailoverTimeout, ParallelSyncs: 1}, nil
}

// pending is a sentinel.conf line applied after the others (its group
// must be known first).
type pending struct {
	line int
	f    []string
}

// LoadConfFile reads a Redis sentinel.conf into cfg, so an existing
// deployment's files work unchanged: port, bind, dir, requirepass,
// announce settings, sentinel-user/sentinel-pass and the "sentinel
// monitor/down-after-milliseconds/failover-timeout/parallel-syncs/
// auth-pass" lines. The state Redis Sentinel writes back
// into the file (myid, epochs, known replicas and sentinels) is accepted
// and ignored: vigil keeps its own state file. Anything else stops
// start-up with the file, the line and the setting.
func LoadConfFile(path string, cfg *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	groups := map[string]*Group{}
	var order []string
	var later []pending
	var userPass []pending // the default user's >password and #sha256 rules
	for i, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' {
			continue
		}
		// Quoted as Redis writes them back (dir "/var/lib/sentinel",
		// requirepass "s3cret"): split as redis.conf is.
		parts, ok := resp.SplitArgs([]byte(line), nil)
		if !ok || len(parts) == 0 {
			return fmt.Errorf("%s:%d: unbalanced quotes", path, i+1)
		}
		f := make([]string, len(parts))
		for j, p := range parts {
			f[j] = string(p)
		}
		bad := func(why string) error {
			return fmt.Errorf("%s:%d: %s: %s", path, i+1, f[0], why)
		}
		switch strings.ToLower(f[0]) {
		case "port":
			if len(f) != 2 {
				return bad("want one value")
			}
			n, err := strconv.Atoi(f[1])
			if err != nil || n < 0 || n > 65535 {
				return bad("not a port")
			}
			cfg.Port = n
		case "bind":
			if len(f) < 2 {
				return bad("want an address")
			}
			cfg.Bind = f[1]
		case "dir":
			if len(f) != 2 {
				return bad("want one value")
			}
			cfg.Dir = f[1]
		case "requirepass":
			if len(f) != 2 {
				return bad("want one value")
			}
			cfg.RequirePass = f[1]
		case "user":
			// ACL users are not read, but the default user's passwords
			// are checked against requirepass below: a file whose only
			// password is in this line must not start a sentinel open to
			// anyone.
			if len(f) >= 2 && f[1] == "default" {
				for _, r := range f[2:] {
					if strings.HasPrefix(r, ">") || strings.HasPrefix(r, "#") {
						userPass = append(userPass, pending{i + 1, []string{r}})
					}
				}
			}
		case "daemonize", "logfile", "protected-mode", "pidfile", "loglevel", "latency-tracking-info-percentiles", "acllog-max-len":
			// Process management and logging are the launcher's business.
		case "sentinel":
			if len(f) < 2 {
				return bad("missing subcommand")
			}
			switch strings.ToLower(f[1]) {
			case "monitor":
				if len(f) != 6 {
					return bad("want sentinel monitor <name> <host> <port> <quorum>")
				}
				g, err := ParseMonitor(strings.Join(f[2:], " "))
				if err != nil {
					return bad(err.Error())
				}
				groups[g.Name] = &g
				order = append(order, g.Name)
			case "down-after-milliseconds", "failover-timeout", "parallel-syncs", "auth-pass", "auth-user":
				later = append(later, pending{i + 1, f})
			case "announce-ip":
				if len(f) != 3 {
					return bad("want one value")
				}
				cfg.AnnounceIP = f[2]
			case "announce-port", "announce-hostnames", "resolve-hostnames", "sentinel-user", "sentinel-pass":
				if len(f) != 3 {
					return bad("want one value")
				}
				if err := cfg.setGlobalOption(f[1], f[2]); err != nil {
					return bad(strings.TrimPrefix(err.Error(), "ERR "))
				}
			case "forget-after":
				// vigil's own: forget-after <milliseconds>, 0 for never.
				if len(f) != 3 {
					return bad("want one value")
				}
				n, err := strconv.ParseInt(f[2], 10, 64)
				if err != nil || n < 0 {
					return bad("not a number of milliseconds")
				}
				cfg.ForgetAfter = time.Duration(n) * time.Millisecond
			case "myid", "config-epoch", "leader-epoch", "current-epoch", "known-replica", "known-slave", "known-sentinel",
				"deny-scripts-reconfig",
				"rename-command", "notification-script", "client-reconfig-script", "master-reboot-down-after-period":
				// Redis Sentinel's own rewritten state, or not applicable.
			default:
				return bad("unknown sentinel setting " + f[1])
			}
		default:
			return bad("unknown directive")
		}
	}
	for _, p := range later {
		f := p.f
		if len(f) != 4 {
			return fmt.Errorf("%s:%d: sentinel %s: want <name> <value>", path, p.line, f[1])
		}
		g := groups[f[2]]
		if g == nil {
			return fmt.Errorf("%s:%d: sentinel %s: no such master %q (monitor it first)", path, p.line, f[1], f[2])
		}
		setting := strings.ToLower(f[1])
		if setting == "auth-pass" {
			g.AuthPass = f[3]
			continue
		}
		if setting == "auth-user" {
			g.AuthUser = f[3]
			continue
		}
		n, err := strconv.Atoi(f[3])
		if err != nil || n <= 0 {
			return fmt.Errorf("%s:%d: sentinel %s: %q is not a positive integer", path, p.line, f[1], f[3])
		}
		switch setting {
		case "down-after-milliseconds":
			g.DownAfter = time.Duration(n) * time.Millisecond
		case "failover-timeout":
			g.FailoverTimeout = time.Duration(n) * time.Millisecond
		case "parallel-syncs":
			g.ParallelSyncs = n
		}
	}
	for _, name := range order {
		cfg.Groups = append(cfg.Groups, *groups[name])
	}
	return checkUserPass(path, cfg.RequirePass, userPass)
}

// checkUserPass accepts the default user's password rules of "user
// default ..." lines (as Redis rewrites them: "#" and the SHA-256 of
// requirepass) only if requirepass is set and among them: vigil reads
// requirepass, not ACL rules, and must not silently run without the
// password the file sets.
func checkUserPass(path, requirepass string, rules []pending) error {
	if len(rules) == 0 {
		return nil
	}
	sum := sha256.Sum256([]byte(requirepass))
	want := hex.EncodeToString(sum[:])
	for _, r := range rules {
		if requirepass != "" && (r.f[0] == ">"+requirepass || strings.EqualFold(r.f[0], "#"+want)) {
			return nil
		}
	}
	return fmt.Errorf("%s:%d: user: the default user's password is read from requirepass only; set requirepass to it", path, rules[0].line)
}
