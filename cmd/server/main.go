// Command vigil-server is the Vigil data node: a Redis-compatible server.
//
// Usage mirrors redis-server:
//
//	vigil-server [/path/to/redis.conf] [--config file.yaml] [--directive value ...]
//	vigil-server check-rdb PATH
//	vigil-server check-aof [--fix] PATH
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"go.uber.org/zap"

	"github.com/vigilkv/vigil/internal/logging"
	"github.com/vigilkv/vigil/node"
	"github.com/vigilkv/vigil/node/config"
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
	srv, err := node.New(node.Options{Config: cfg, Logger: log, LogLevel: &level})
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
	if err := srv.ListenAndServe(ctx); err != nil {
		log.Error("server failed", zap.Error(err))
		return 1
	}
	return 0
}
