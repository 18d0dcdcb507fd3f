package testutil

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/deploy/proc"
)

// EnvCI is set to "true" on CI machines, where a missing reference
// redis-server is a failure rather than a reason to skip.
const EnvCI = "CI"

// logTailOnFailure is how much of a process log a failed test prints.
const logTailOnFailure = 64 << 10

// Proc is a process started for a test. Addr, Port and Pid come from the
// embedded proc.Proc; the methods here fail the test instead of returning
// errors, so they must be called from the test's goroutine.
type Proc struct {
	*proc.Proc
	t testing.TB
	// Dir is the server's data directory (--dir).
	Dir string
	// LogPath is the file receiving the process's stdout and stderr.
	LogPath string
}

// StandardArgs are the arguments every test server gets: loopback only,
// no persistence, quiet logs. Args given to StartVigil and StartRedis come
// after them, so they can override any of them.
func StandardArgs(dir string) []string {
	return []string{"--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", "--loglevel", "warning"}
}

// StartVigil starts vigil-server on a free loopback port with a temporary
// data directory, StandardArgs and then args (a config file path may come
// first), waits until it answers PING and stops it when the test ends.
func StartVigil(t testing.TB, args ...string) *Proc {
	t.Helper()
	return StartServer(t, "vigil-server", ServerBinary(t), args...)
}

// StartRedis is StartVigil for the reference redis-server. It skips the
// test if redis-server is not installed (fails on CI).
func StartRedis(t testing.TB, args ...string) *Proc {
	t.Helper()
	RequireRedis(t)
	path, _ := exec.LookPath("redis-server")
	return StartServer(t, "redis-server", path, args...)
}

// StartServer starts a redis-style server binary as StartVigil does.
func StartServer(t testing.TB, name, path string, args ...string) *Proc {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("creating data directory: %v", err)
	}
	var conf []string
	if len(args) > 0 && !strings.HasPrefix(args[0], "--") {
		// redis-server only takes a config file as its first argument.
		conf, args = []string{args[0]}, args[1:]
	}
	all := append(append(conf, StandardArgs(dir)...), args...)
	return StartProcess(t, proc.Spec{
		Name:    name,
		Path:    path,
		Args:    all,
		Dir:     dir,
		LogPath: filepath.Join(base, name+".log"),
	})
}

// StartProcess starts any redis-style process (one that takes "--port N"
// and answers PING) from spec, waits until it is ready and registers its
// shutdown: SIGTERM, then SIGKILL, at the end of the test, printing the
// end of its log if the test failed. spec.LogPath should be set.
func StartProcess(t testing.TB, spec proc.Spec) *Proc {
	t.Helper()
	p, err := proc.Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("starting %s: %v", spec.Name, err)
	}
	tp := &Proc{Proc: p, t: t, Dir: spec.Dir, LogPath: spec.LogPath}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stopping %s: %v", spec.Name, err)
		}
		if t.Failed() && spec.LogPath != "" {
			t.Logf("--- %s (%s) log %s ---\n%s", spec.Name, p.Addr, spec.LogPath, proc.LogTail(spec.LogPath, logTailOnFailure))
		}
	})
	return tp
}

// RequireRedis skips the test if redis-server is not on PATH, or fails it
// when CI=true, where .ci/run must have installed it.
func RequireRedis(t testing.TB) {
	t.Helper()
	RequireBinary(t, "redis-server")
}

// RequireBinary skips the test if the named program (redis-cli,
// redis-benchmark, ...) is not on PATH, or fails it when CI=true.
func RequireBinary(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return
	}
	if os.Getenv(EnvCI) == "true" {
		t.Fatalf("%s is not installed (CI=true, so this is a failure: .ci/run installs the redis-server and redis-tools packages)", name)
	}
	t.Skipf("%s is not installed (apt-get install redis-server redis-tools)", name)
}

// Kill ends the process with SIGKILL, as a crash would.
func (p *Proc) Kill() {
	p.t.Helper()
	if err := p.Proc.Kill(); err != nil {
		p.t.Fatal(err)
	}
}

// Stop ends the process gracefully (SIGTERM, SIGKILL after a timeout).
func (p *Proc) Stop() {
	p.t.Helper()
	if err := p.Proc.Stop(); err != nil {
		p.t.Fatal(err)
	}
}

// Freeze suspends the process (SIGSTOP); Thaw or the test's end resumes it.
func (p *Proc) Freeze() {
	p.t.Helper()
	if err := p.Proc.Freeze(); err != nil {
		p.t.Fatal(err)
	}
}

// Thaw resumes a frozen process (SIGCONT).
func (p *Proc) Thaw() {
	p.t.Helper()
	if err := p.Proc.Thaw(); err != nil {
		p.t.Fatal(err)
	}
}

// Restart stops the process gracefully if it runs and starts it again
// with the same arguments, port and data directory.
func (p *Proc) Restart() {
	p.t.Helper()
	if err := p.Proc.Restart(context.Background()); err != nil {
		p.t.Fatalf("restarting: %v", err)
	}
}

// RSS is the process's resident set size in bytes.
func (p *Proc) RSS() int64 {
	p.t.Helper()
	n, err := p.Proc.RSS()
	if err != nil {
		p.t.Fatal(err)
	}
	return n
}

// Log returns the process's log so far.
func (p *Proc) Log() string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return ""
	}
	return string(b)
}

// Client returns a go-redis client for the process, closed when the test
// ends. opts may adjust the options (Protocol, DB, timeouts...).
func (p *Proc) Client(opts ...func(*redis.Options)) *redis.Client {
	o := &redis.Options{
		Addr:        p.Addr,
		DialTimeout: 2 * time.Second,
		ReadTimeout: 5 * time.Second,
		// CLIENT SETINFO is unknown to redis-server 7.0; skip it so both
		// servers see the same commands.
		DisableIdentity: true,
	}
	for _, f := range opts {
		f(o)
	}
	c := redis.NewClient(o)
	p.t.Cleanup(func() { c.Close() })
	return c
}

// Raw opens a byte-level connection to the process (see DialRaw).
func (p *Proc) Raw() *RawConn {
	p.t.Helper()
	return DialRaw(p.t, p.Addr)
}
