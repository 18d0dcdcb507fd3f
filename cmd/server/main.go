// Command vigil-server is the Vigil data node: a Redis-compatible server.
//
// Usage mirrors redis-server:
//
//	vigil-server [/path/to/redis.conf] [--config file.yaml] [--directive value ...]
//	vigil-server check-rdb PATH
//	vigil-server check-aof [--fix] PATH
//	vigil-server upgrade --pid PID | --port PORT [--host H] [--binary PATH]
//	vigil-server upgrade --sentinel HOST:PORT [--master-name NAME] [--failover]
//
// SIGUSR2 makes a running server replace itself by the binary it was
// started from, in place, keeping every connection (see README).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/vigilkv/vigil/deploy/rollout"
	"github.com/vigilkv/vigil/internal/handoff"
	"github.com/vigilkv/vigil/internal/logging"
	"github.com/vigilkv/vigil/internal/resp"
	"github.com/vigilkv/vigil/node"
	"github.com/vigilkv/vigil/node/config"
	"github.com/vigilkv/vigil/node/procs"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "check-rdb":
			if len(args) != 2 {
				fmt.Fprintln(stderr, "Usage: vigil-server check-rdb PATH")
				return 2
			}
			if node.CheckRDB(args[1], stdout) != nil {
				return 1
			}
			return 0
		case "upgrade":
			return runUpgradeCommand(args[1:], stdout, stderr)
		case "check-aof":
			fix := len(args) == 3 && args[1] == "--fix"
			if len(args) != 2 && !fix {
				fmt.Fprintln(stderr, "Usage: vigil-server check-aof [--fix] PATH (a manifest, an AOF file or the AOF directory)")
				return 2
			}
			if err := node.CheckAOF(args[len(args)-1], fix, stdout); err != nil {
				fmt.Fprintf(stderr, "vigil-server check-aof: %v\n", err)
				return 1
			}
			return 0
		}
	}
	if len(args) == 1 {
		switch args[0] {
		case "-v", "--version":
			fmt.Fprintf(stdout, "vigil-server v=%s redis_version=%s\n", node.VigilVersion, node.Version)
			return 0
		case "-h", "--help":
			fmt.Fprintln(stdout, "Usage: vigil-server [/path/to/redis.conf] [--config file.yaml] [--directive value ...]")
			return 0
		}
	}
	cfg, ignored, err := config.Load(args, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "vigil-server: bad configuration: %v\n", err)
		return 1
	}
	log, level, err := logging.New(cfg.LogLevel, cfg.LogFormat, cfg.LogFile)
	if err != nil {
		fmt.Fprintf(stderr, "vigil-server: setting up logging: %v\n", err)
		return 1
	}
	defer log.Sync()
	if len(ignored) > 0 {
		log.Info("configuration directives accepted but ignored by vigil", zap.Strings("directives", ignored))
	}
	// The operator's GOMAXPROCS wins; otherwise the node sizes it.
	var gov *procs.Governor
	if getenv("GOMAXPROCS") == "" {
		gov = procs.New(cfg.IOThreads, runtime.GOMAXPROCS(0), runtime.GOMAXPROCS) // the default follows a container's CPU quota
	}
	srv, err := node.New(node.Options{Config: cfg, Logger: log, LogLevel: &level, Executable: executable(), Args: args, Procs: gov})
	if err != nil {
		log.Error("starting server", zap.Error(err))
		return 1
	}
	if path := getenv("VIGIL_CPUPROFILE"); path != "" {
		// Developer aid: profile the whole run (make bench, perf work).
		f, err := os.Create(path)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// SIGUSR2 upgrades the binary in place; SIGHUP reloads the config.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR2, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		for sig := range sigs {
			if sig == syscall.SIGHUP {
				if _, _, err := srv.ReloadConfig(); err != nil {
					log.Error("config reload on SIGHUP failed: nothing changed", zap.Error(err))
				}
				continue
			}
			if err := srv.Upgrade(""); err != nil {
				log.Error("upgrade on SIGUSR2 failed", zap.Error(err))
			}
		}
	}()
	if fd := getenv(handoff.EnvFD); fd != "" {
		// Started by a running server's in-place upgrade.
		os.Unsetenv(handoff.EnvFD)
		n, err := strconv.Atoi(fd)
		if err != nil {
			log.Error("bad "+handoff.EnvFD, zap.String("value", fd))
			return 1
		}
		if err := srv.ServeTakeover(ctx, n); err != nil {
			log.Error("upgrade: not taking over", zap.Error(err))
			return 1
		}
		return 0
	}
	if err := srv.ListenAndServe(ctx); err != nil {
		log.Error("server failed", zap.Error(err))
		return 1
	}
	return 0
}

// executable is the path this process was started from, as given (so an
// upgrade finds a replaced file at the same path), made absolute.
func executable() string {
	p := os.Args[0]
	if !strings.Contains(p, "/") {
		if lp, err := exec.LookPath(p); err == nil {
			p = lp
		}
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// runUpgradeCommand is `vigil-server upgrade`: signal a running server by
// pid, or send it UPGRADE and report the outcome.
func runUpgradeCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vigil-server upgrade", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pid := fs.Int("pid", 0, "process id of the server (sends SIGUSR2)")
	port := fs.Int("port", 0, "port of the server (sends UPGRADE and waits for the outcome)")
	host := fs.String("host", "127.0.0.1", "host of the server, with --port")
	binary := fs.String("binary", "", "the new binary (default: the one the server was started from)")
	pass := fs.String("a", "", "password of the data nodes")
	sentinelAddr := fs.String("sentinel", "", "a sentinel's host:port: upgrade the whole group, replicas first, then the master")
	masterName := fs.String("master-name", "mymaster", "the group, with --sentinel")
	failover := fs.Bool("failover", false, "with --sentinel: move the master role away (SENTINEL FAILOVER) instead of upgrading the master in place")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// Nodes restart under the rollout: go-redis's lines about each failed
	// dial would interleave with the progress it reports.
	redis.SetLogger(logging.GoRedis{Log: zap.NewNop()})
	switch {
	case *sentinelAddr != "" && *pid == 0 && *port == 0:
		res, err := rollout.Upgrade(context.Background(), rollout.Options{Sentinel: *sentinelAddr, MasterName: *masterName,
			Binary: *binary, Password: *pass, Failover: *failover,
			Progress: func(line string) { fmt.Fprintln(stdout, line) }})
		if err != nil {
			fmt.Fprintf(stderr, "vigil-server upgrade: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "upgraded %d nodes: %s (%d partial and %d full resyncs, %d failovers)\n",
			len(res.Upgraded), strings.Join(res.Upgraded, " "), res.PartialResyncs, res.FullResyncs, res.Failovers)
		return 0
	case *pid > 0 && *port == 0 && *binary == "":
		if err := syscall.Kill(*pid, syscall.SIGUSR2); err != nil {
			fmt.Fprintf(stderr, "vigil-server upgrade: signalling %d: %v\n", *pid, err)
			return 1
		}
		fmt.Fprintf(stdout, "sent SIGUSR2 to %d; the outcome is in its log\n", *pid)
		return 0
	case *port > 0 && *pid == 0:
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)), 5*time.Second)
		if err != nil {
			fmt.Fprintf(stderr, "vigil-server upgrade: %v\n", err)
			return 1
		}
		defer conn.Close()
		var req [][]byte
		if *pass != "" {
			req = append(req, resp.AppendCommandStrings(nil, "AUTH", *pass))
		}
		cmd := []string{"UPGRADE"}
		if *binary != "" {
			cmd = append(cmd, "BINARY", *binary)
		}
		req = append(req, resp.AppendCommandStrings(nil, cmd...))
		br := bufio.NewReader(conn)
		for i, r := range req {
			if _, err := conn.Write(r); err != nil {
				fmt.Fprintf(stderr, "vigil-server upgrade: %v\n", err)
				return 1
			}
			line, err := br.ReadString('\n')
			if err != nil {
				fmt.Fprintf(stderr, "vigil-server upgrade: reading the reply: %v\n", err)
				return 1
			}
			line = strings.TrimRight(line, "\r\n")
			if strings.HasPrefix(line, "-") {
				fmt.Fprintf(stderr, "vigil-server upgrade: %s\n", line[1:])
				return 1
			}
			if i == len(req)-1 {
				fmt.Fprintln(stdout, "upgraded: the new process serves")
			}
		}
		return 0
	default:
		fmt.Fprintln(stderr, "Usage: vigil-server upgrade --pid PID | --port PORT [--host H] [-a PASSWORD] [--binary PATH]")
		fmt.Fprintln(stderr, "       vigil-server upgrade --sentinel HOST:PORT [--master-name NAME] [--failover] [-a PASSWORD] [--binary PATH]")
		return 2
	}
}
