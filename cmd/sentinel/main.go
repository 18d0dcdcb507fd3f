// Command vigil-sentinel watches vigil (or Redis) data nodes and fails the
// master role over to the best replica.
//
//	vigil-sentinel [/path/to/sentinel.conf] --port 26379 --bind 127.0.0.1 --dir DIR \
//	    --monitor "mymaster 127.0.0.1 6379 2" --down-after-milliseconds 1000 \
//	    --failover-timeout 10000 --gossip-port 7946 --join "127.0.0.1:7946,127.0.0.1:7947"
//
// Every flag may also come from a YAML file (--config FILE, keys named as
// the flags) or the environment (VIGIL_SENTINEL_<FLAG>, e.g.
// VIGIL_SENTINEL_DOWN_AFTER_MILLISECONDS); precedence: flags > environment
// > YAML > sentinel.conf > defaults.
//
// Groups may also be added with SENTINEL MONITOR at runtime; the state
// file in --dir keeps them, and SENTINEL SET/CONFIG SET changes, across
// restarts.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/vigilkv/vigil/internal/logging"
	"github.com/vigilkv/vigil/sentinel"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "keygen" {
		os.Exit(keygen(os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

// keygen prints a new random gossip key (AES-256, base64) for
// --gossip-key.
func keygen(stdout, stderr io.Writer) int {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		fmt.Fprintf(stderr, "vigil-sentinel keygen: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(key))
	return 0
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// parseConfig builds the configuration from a sentinel.conf (first
// argument, optional), a YAML file (--config), the environment and the
// flags; the log level comes back apart. It runs again on SIGHUP with the
// same arguments. A usage problem is reported on stderr and returned as
// errUsage.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (sentinel.Config, string, error) {
	fs := flag.NewFlagSet("vigil-sentinel", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg sentinel.Config
	var monitors multi
	// A Redis sentinel.conf may come first; flags override it.
	var confFile string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		confFile, args = args[0], args[1:]
	}
	var join string
	fs.StringVar(&cfg.Bind, "bind", "127.0.0.1", "address to listen on")
	fs.IntVar(&cfg.Port, "port", 26379, "RESP port (the Redis Sentinel API)")
	fs.StringVar(&cfg.Dir, "dir", ".", "directory of the state file")
	fs.StringVar(&cfg.AnnounceIP, "announce-ip", "", "address peers and clients reach this sentinel at")
	fs.IntVar(&cfg.AnnouncePort, "announce-port", 0, "port peers and clients reach this sentinel at (0: --port)")
	fs.BoolVar(&cfg.ResolveHostnames, "resolve-hostnames", false, "let SENTINEL MONITOR take hostnames")
	fs.BoolVar(&cfg.AnnounceHostnames, "announce-hostnames", false, "announce hostnames (kept for SENTINEL CONFIG GET)")
	fs.StringVar(&cfg.RequirePass, "requirepass", "", "password clients must give on the sentinel port (AUTH); also given to peers unless --sentinel-pass is set")
	fs.StringVar(&cfg.SentinelUser, "sentinel-user", "", "user this sentinel authenticates as to its peers")
	fs.StringVar(&cfg.SentinelPass, "sentinel-pass", "", "password this sentinel gives its peers (default: --requirepass)")
	fs.IntVar(&cfg.GossipPort, "gossip-port", 7946, "memberlist gossip port")
	fs.StringVar(&join, "join", "", "comma-separated gossip seeds (host:port)")
	fs.StringVar(&cfg.GossipAnnounceIP, "gossip-announce-ip", "", "IP address peers reach this sentinel's gossip at, when not where it listens (NAT, a published container port)")
	fs.IntVar(&cfg.GossipAnnouncePort, "gossip-announce-port", 0, "port peers reach this sentinel's gossip at (0: --gossip-port)")
	var gossipKey string
	fs.StringVar(&gossipKey, "gossip-key", "", "encrypt the gossip: comma-separated base64 keys of 16, 24 or 32 bytes, the first encrypting, all decrypting (vigil-sentinel keygen makes one; better given as VIGIL_SENTINEL_GOSSIP_KEY than on the command line)")
	fs.Var(&monitors, "monitor", `a group to monitor: "<name> <host> <port> <quorum>" (repeatable)`)
	downAfter := fs.Int("down-after-milliseconds", 30000, "subjectively down after this long without a valid reply")
	failoverTimeout := fs.Int("failover-timeout", 180000, "bound of each failover step, and retry interval")
	parallel := fs.Int("parallel-syncs", 1, "replicas re-pointed at once after a failover")
	authPass := fs.String("auth-pass", "", "password of the monitored data nodes")
	authUser := fs.String("auth-user", "", "ACL user of the monitored data nodes")
	forgetAfter := fs.Int64("forget-after", 0, "forget replicas and sentinels unreachable for longer than this many ms (0: never; forgetting sentinels shrinks the electorate)")
	level := fs.String("loglevel", "notice", "debug, verbose, notice or warning")
	yamlFile := fs.String("config", "", "YAML file of settings named as these flags (monitor and join may be lists)")
	if confFile != "" {
		// The file's values become the flags' defaults.
		var fileCfg sentinel.Config
		fileCfg.Bind, fileCfg.Port, fileCfg.Dir = cfg.Bind, cfg.Port, cfg.Dir
		if err := sentinel.LoadConfFile(confFile, &fileCfg); err != nil {
			return cfg, "", err
		}
		cfg.Bind, cfg.Port, cfg.Dir, cfg.AnnounceIP = fileCfg.Bind, fileCfg.Port, fileCfg.Dir, fileCfg.AnnounceIP
		cfg.AnnouncePort, cfg.ResolveHostnames, cfg.AnnounceHostnames = fileCfg.AnnouncePort, fileCfg.ResolveHostnames, fileCfg.AnnounceHostnames
		cfg.RequirePass, cfg.SentinelUser, cfg.SentinelPass = fileCfg.RequirePass, fileCfg.SentinelUser, fileCfg.SentinelPass
		cfg.Groups = fileCfg.Groups
		*forgetAfter = fileCfg.ForgetAfter.Milliseconds()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return cfg, "", err
		}
		return cfg, "", usageError{err}
	}
	err := applyYAMLAndEnv(fs, *yamlFile, getenv)
	if err != nil {
		return cfg, "", err
	}
	if *forgetAfter < 0 {
		return cfg, "", fmt.Errorf("--forget-after: %d is negative", *forgetAfter)
	}
	cfg.ForgetAfter = time.Duration(*forgetAfter) * time.Millisecond
	if a := cfg.GossipAnnounceIP; a != "" && net.ParseIP(a) == nil {
		return cfg, "", fmt.Errorf("--gossip-announce-ip: %q is not an IP address (memberlist gossips by address)", a)
	}
	if p := cfg.GossipAnnouncePort; p < 0 || p > 65535 {
		return cfg, "", fmt.Errorf("--gossip-announce-port: %d is not a port", p)
	}
	if cfg.GossipKeys, err = sentinel.ParseGossipKeys(gossipKey); err != nil {
		return cfg, "", fmt.Errorf("--gossip-key: %w", err)
	}
	if join != "" {
		for _, j := range strings.Split(join, ",") {
			if j = strings.TrimSpace(j); j != "" {
				cfg.Join = append(cfg.Join, j)
			}
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	// No group at all is fine, as for Redis Sentinel: SENTINEL MONITOR
	// adds groups at runtime, and the state file keeps those.
	// Flags given explicitly apply to the file's groups too.
	for i := range cfg.Groups {
		g := &cfg.Groups[i]
		if set["down-after-milliseconds"] {
			g.DownAfter = time.Duration(*downAfter) * time.Millisecond
		}
		if set["failover-timeout"] {
			g.FailoverTimeout = time.Duration(*failoverTimeout) * time.Millisecond
		}
		if set["parallel-syncs"] {
			g.ParallelSyncs = *parallel
		}
		if set["auth-pass"] {
			g.AuthPass = *authPass
		}
		if set["auth-user"] {
			g.AuthUser = *authUser
		}
	}
	for _, m := range monitors {
		g, err := sentinel.ParseMonitor(m)
		if err != nil {
			return cfg, "", fmt.Errorf("--monitor: %w", err)
		}
		g.DownAfter = time.Duration(*downAfter) * time.Millisecond
		g.FailoverTimeout = time.Duration(*failoverTimeout) * time.Millisecond
		g.ParallelSyncs = *parallel
		g.AuthPass = *authPass
		g.AuthUser = *authUser
		cfg.Groups = append(cfg.Groups, g)
	}
	return cfg, *level, nil
}

func run(args []string, getenv func(string) string, stderr io.Writer) int {
	cfg, level, err := parseConfig(args, getenv, stderr)
	if err == flag.ErrHelp {
		return 0
	}
	if err != nil {
		if !isUsage(err) {
			fmt.Fprintf(stderr, "vigil-sentinel: bad configuration: %v\n", err)
		}
		return 2
	}
	log, _, err := logging.New(level, "console", "")
	if err != nil {
		fmt.Fprintf(stderr, "vigil-sentinel: bad configuration: --loglevel: %v\n", err)
		return 2
	}
	defer log.Sync()
	redis.SetLogger(logging.GoRedis{Log: log})
	s, err := sentinel.New(cfg, log)
	if err != nil {
		log.Error("starting", zap.Error(err))
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// SIGHUP re-reads the file and flags and applies what can change.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			next, _, err := parseConfig(args, getenv, io.Discard)
			if err != nil {
				log.Error("config reload on SIGHUP failed: nothing changed", zap.Error(err))
				continue
			}
			if _, err := s.Reload(next); err != nil {
				log.Error("config reload on SIGHUP", zap.Error(err))
			}
		}
	}()
	if err := s.Run(ctx); err != nil {
		log.Error("sentinel failed", zap.Error(err))
		return 1
	}
	return 0
}

// isUsage reports a flag parsing error, which the flag package has
// already printed with the usage.
func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

// usageError marks an error the flag package reported.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }
