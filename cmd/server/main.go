// Command vigil-server is the Vigil data node: a Redis-compatible server.
//
// Usage mirrors redis-server:
//
//	vigil-server [/path/to/redis.conf] [--config file.yaml] [--directive value ...]
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

	"github.com/vigilkv/vigil/node"
)

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

func run(args, _ []string, stdout, stderr io.Writer) int {
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
	cfg, err := loadConfig(args)
	if err != nil {
		fmt.Fprintf(stderr, "vigil-server: %v\n", err)
		return 1
	}
	log, err := newLogger(cfg.LogLevel)
	if err != nil {
		fmt.Fprintf(stderr, "vigil-server: setting up logging: %v\n", err)
		return 1
	}
	defer log.Sync()
	srv, err := node.New(node.Options{Config: cfg, Logger: log})
	if err != nil {
		log.Error("starting server", zap.Error(err))
		return 1
	}
	if path := os.Getenv("VIGIL_CPUPROFILE"); path != "" {
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
