// Command bench runs vigil-server and redis-server side by side on this
// machine and prints how vigil compares: throughput and latency with
// redis-benchmark, and memory per key and per collection element.
// Absolute numbers drift on shared machines; the ratios are the result.
//
//	go run ./bench [-suite strings,collections,memory,persistence,replication,sentinel,fencing,upgrade] [-quick] [-control] [-vigil bin/vigil-server]
//
// Targets are printed next to each ratio and marked PASS or MISS; a miss
// never changes the exit status (machines are noisy). Errors (a server
// that does not start, a failed redis-benchmark run) do, after all suites
// have run. To check the tool itself, benchmark redis against redis:
//
//	go run ./bench -vigil $(command -v redis-server) -quick
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/vigilkv/vigil/deploy/proc"
	"github.com/vigilkv/vigil/internal/logging"
)

// Targets, as vigil/redis ratios.
const (
	targetThroughput = 1.0 // vigil rps / redis rps >= this
	targetP99        = 1.2 // vigil p99 / redis p99 <= this
	targetMemory     = 1.3 // vigil bytes / redis bytes <= this
)

// config is the parsed command line.
type config struct {
	vigilPath     string
	redisPath     string
	benchmarkPath string
	suites        map[string]bool
	quick         bool
	requests      int
	clients       int
	keyspace      int
	pipelines     []int
	rounds        int
	memKeys       int
	settle        time.Duration
	outPath       string
	// control adds a second, identical vigil to the throughput suites:
	// how far apart two copies of one server measure is the noise floor
	// the vigil/redis ratios must be read against.
	control bool
}

var allSuites = []string{"strings", "collections", "memory", "persistence", "replication", "sentinel", "fencing", "upgrade"}

func main() {
	// The drills kill servers on purpose: go-redis's reconnect complaints
	// are noise in the report.
	redis.SetLogger(logging.GoRedis{Log: zap.NewNop()})
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	out := stdout
	if cfg.outPath != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.outPath), 0o755); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		f, err := os.Create(cfg.outPath)
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		defer f.Close()
		out = io.MultiWriter(stdout, f)
	}
	b := &bencher{cfg: cfg, out: out}
	b.header()
	ctx := context.Background()
	var failed []string
	for _, name := range allSuites {
		if !cfg.suites[name] {
			continue
		}
		var err error
		switch name {
		case "strings":
			err = b.throughputSuite(ctx, "strings", "set,get,incr,mset")
		case "collections":
			err = b.throughputSuite(ctx, "collections", "lpush,rpop,sadd,hset,zadd,lrange_100,lrange_600")
		case "memory":
			err = b.memorySuite(ctx)
		case "persistence":
			err = b.persistenceSuite(ctx)
		case "replication":
			err = b.replicationSuite(ctx)
		case "sentinel":
			err = b.sentinelSuite(ctx)
		case "fencing":
			err = b.fencingSuite(ctx)
		case "upgrade":
			err = b.upgradeSuite(ctx)
		}
		if err != nil {
			fmt.Fprintf(out, "\n!! suite %s failed: %v\n", name, err)
			failed = append(failed, name)
		}
	}
	if cfg.outPath != "" {
		fmt.Fprintf(stdout, "\nreport written to %s\n", cfg.outPath)
	}
	if len(failed) > 0 {
		fmt.Fprintf(stderr, "bench: suites with errors: %s\n", strings.Join(failed, ", "))
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &config{}
	defVigil := filepath.Join("bin", "vigil-server")
	if dir := os.Getenv("VIGIL_BIN_DIR"); dir != "" {
		defVigil = filepath.Join(dir, "vigil-server")
	}
	fs.StringVar(&cfg.vigilPath, "vigil", defVigil, "vigil-server binary (any redis-server-compatible binary works, to check the tool)")
	fs.StringVar(&cfg.redisPath, "redis", "redis-server", "reference redis-server binary")
	fs.StringVar(&cfg.benchmarkPath, "redis-benchmark", "redis-benchmark", "redis-benchmark binary")
	suites := fs.String("suite", strings.Join(allSuites, ","), "comma-separated suites: "+strings.Join(allSuites, ", "))
	fs.BoolVar(&cfg.quick, "quick", false, "short run: 10x fewer requests and keys")
	fs.IntVar(&cfg.requests, "n", 200000, "redis-benchmark -n (total requests per test)")
	fs.IntVar(&cfg.clients, "c", 50, "redis-benchmark -c (parallel connections)")
	fs.IntVar(&cfg.keyspace, "r", 100000, "redis-benchmark -r (random keyspace size)")
	pipelines := fs.String("P", "1,16", "comma-separated redis-benchmark -P pipeline depths")
	fs.IntVar(&cfg.rounds, "rounds", 1, "redis-benchmark runs per server and depth, alternating servers; medians are reported")
	fs.IntVar(&cfg.memKeys, "keys", 1000000, "string keys loaded by the memory suite")
	fs.DurationVar(&cfg.settle, "settle", 2*time.Second, "wait after loading before measuring memory")
	fs.StringVar(&cfg.outPath, "out", "", "also write the report to this file")
	fs.BoolVar(&cfg.control, "control", false, "throughput suites: run a second, identical vigil too and print vigil/vigil-twin ratios, the run's noise floor")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.suites = map[string]bool{}
	for _, s := range strings.Split(*suites, ",") {
		s = strings.TrimSpace(s)
		if !contains(allSuites, s) {
			return nil, fmt.Errorf("unknown suite %q (have %s)", s, strings.Join(allSuites, ", "))
		}
		cfg.suites[s] = true
	}
	for _, p := range strings.Split(*pipelines, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(p), &n); err != nil || n < 1 {
			return nil, fmt.Errorf("bad pipeline depth %q", p)
		}
		cfg.pipelines = append(cfg.pipelines, n)
	}
	if cfg.rounds < 1 {
		return nil, fmt.Errorf("-rounds must be at least 1")
	}
	if cfg.quick {
		cfg.requests /= 10
		cfg.memKeys /= 10
	}
	var err error
	for _, p := range []*string{&cfg.vigilPath, &cfg.redisPath, &cfg.benchmarkPath} {
		if *p, err = lookPath(*p); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// lookPath resolves a binary given as a path or a name on PATH.
func lookPath(p string) (string, error) {
	if strings.ContainsRune(p, filepath.Separator) {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("%s not found (run make build, or pass -vigil/-redis): %w", p, err)
		}
		return abs, nil
	}
	abs, err := exec.LookPath(p)
	if err != nil {
		return "", fmt.Errorf("%s is not installed (apt-get install redis-server redis-tools): %w", p, err)
	}
	return abs, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// bencher runs suites and writes the report.
type bencher struct {
	cfg *config
	out io.Writer
}

func (b *bencher) printf(format string, args ...any) { fmt.Fprintf(b.out, format, args...) }

func (b *bencher) header() {
	b.printf("vigil benchmark, %s\n", time.Now().Format(time.RFC3339))
	b.printf("machine: %s/%s, %d CPUs\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	b.printf("vigil:   %s (%s)\n", b.cfg.vigilPath, version(b.cfg.vigilPath))
	b.printf("redis:   %s (%s)\n", b.cfg.redisPath, version(b.cfg.redisPath))
	b.printf("targets: throughput ratio >= %.1f, p99 ratio <= %.1f, memory ratio <= %.1f (vigil / redis)\n",
		targetThroughput, targetP99, targetMemory)
}

func version(path string) string {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return "version unknown"
	}
	return strings.TrimSpace(string(out))
}

// server is one running server under test.
type server struct {
	label string // "vigil" or "redis"
	p     *proc.Proc
	dir   string
}

// startPair starts a fresh vigil and redis with identical flags (extra
// after the defaults).
func (b *bencher) startPair(ctx context.Context, extra ...string) ([]*server, func(), error) {
	return b.startServers(ctx, false, extra...)
}

// startServers is startPair, with a second vigil labelled "vigil-twin"
// after them when twin.
func (b *bencher) startServers(ctx context.Context, twin bool, extra ...string) ([]*server, func(), error) {
	sides := []struct{ label, path string }{{"vigil", b.cfg.vigilPath}, {"redis", b.cfg.redisPath}}
	if twin {
		sides = append(sides, struct{ label, path string }{"vigil-twin", b.cfg.vigilPath})
	}
	var servers []*server
	stop := func() {
		for _, s := range servers {
			s.p.Stop()
			os.RemoveAll(s.dir)
		}
	}
	for _, side := range sides {
		dir, err := os.MkdirTemp("", "vigil-bench-"+side.label+"-")
		if err != nil {
			stop()
			return nil, nil, err
		}
		p, err := proc.Start(ctx, proc.Spec{
			Name:    side.label,
			Path:    side.path,
			Args:    append([]string{"--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", "--loglevel", "warning"}, extra...),
			Dir:     dir,
			LogPath: filepath.Join(dir, "server.log"),
		})
		if err != nil {
			os.RemoveAll(dir)
			stop()
			return nil, nil, err
		}
		servers = append(servers, &server{label: side.label, p: p, dir: dir})
	}
	return servers, stop, nil
}

// marker renders a target check.
func marker(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}
