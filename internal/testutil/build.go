// Package testutil helps tests that run real processes: it builds the
// vigil binaries once per test process, starts vigil-server and the
// reference redis-server on free loopback ports with their own temporary
// directories, and offers a byte-level RESP connection for exact reply
// checks. Processes are stopped, and their logs printed if the test
// failed, when the test ends.
//
// A package that builds binaries should remove them when it is done:
//
//	func TestMain(m *testing.M) { testutil.Main(m) }
package testutil

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Environment variables that steer the build.
const (
	// EnvBinDir names a directory with prebuilt vigil-server and
	// vigil-sentinel (make build puts them in bin/); when set, nothing is
	// built.
	EnvBinDir = "VIGIL_BIN_DIR"
	// EnvBuildFlags adds go build flags ("-race") when binaries are built.
	EnvBuildFlags = "VIGIL_BUILD_FLAGS"
)

// Binaries are the paths of the built vigil executables.
type Binaries struct {
	Server   string // vigil-server
	Sentinel string // vigil-sentinel
}

// buildCache is the one piece of process-wide state: each binary is built
// at most once per test process, and a failed build is remembered so
// every test that needs it fails with the same message quickly.
var buildCache struct {
	mu     sync.Mutex
	dir    string
	result map[string]buildResult
}

type buildResult struct {
	path string
	err  error
}

// BuildBinaries returns vigil-server and vigil-sentinel, building both
// (once per test process) unless VIGIL_BIN_DIR points at prebuilt ones.
// The test fails if either is unavailable.
func BuildBinaries(t testing.TB) Binaries {
	t.Helper()
	return Binaries{Server: ServerBinary(t), Sentinel: SentinelBinary(t)}
}

// ServerBinary returns the vigil-server executable, building it if needed;
// the test fails with the compiler output if it does not build.
func ServerBinary(t testing.TB) string {
	t.Helper()
	return requireBinary(t, "vigil-server", "./cmd/server")
}

// SentinelBinary returns the vigil-sentinel executable, building it if
// needed.
func SentinelBinary(t testing.TB) string {
	t.Helper()
	return requireBinary(t, "vigil-sentinel", "./cmd/sentinel")
}

func requireBinary(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := Binary(name, pkg)
	if err != nil {
		t.Fatalf("%s is not available, so this test cannot run: %v", name, err)
	}
	return path
}

// Binary returns the executable called name built from pkg (a path
// relative to the module root, "./cmd/server"), for callers without a
// testing.TB.
func Binary(name, pkg string) (string, error) {
	if dir := os.Getenv(EnvBinDir); dir != "" {
		path, err := filepath.Abs(filepath.Join(dir, name))
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("%s=%s has no usable %s (run make build): %w", EnvBinDir, dir, name, err)
		}
		return path, nil
	}
	buildCache.mu.Lock()
	defer buildCache.mu.Unlock()
	if r, ok := buildCache.result[pkg]; ok {
		return r.path, r.err
	}
	if buildCache.result == nil {
		buildCache.result = map[string]buildResult{}
	}
	path, err := build(name, pkg)
	buildCache.result[pkg] = buildResult{path, err}
	return path, err
}

// build runs go build; the caller holds buildCache.mu.
func build(name, pkg string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	if buildCache.dir == "" {
		dir, err := os.MkdirTemp("", "vigil-testbin-")
		if err != nil {
			return "", fmt.Errorf("creating build directory: %w", err)
		}
		buildCache.dir = dir
	}
	out := filepath.Join(buildCache.dir, name)
	args := append([]string{"build"}, strings.Fields(os.Getenv(EnvBuildFlags))...)
	args = append(args, "-o", out, pkg)
	// go test puts its own go first on PATH, so this is the same toolchain.
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s failed: %w\n%s", pkg, err, msg)
	}
	return out, nil
}

// ModuleRoot returns the directory holding go.mod, searching upwards from
// the working directory (a test runs in its package's directory).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Main runs the tests and then removes the binaries this process built.
// Call it from TestMain in packages that start vigil processes.
func Main(m *testing.M) {
	code := m.Run()
	buildCache.mu.Lock()
	if buildCache.dir != "" {
		os.RemoveAll(buildCache.dir)
	}
	buildCache.mu.Unlock()
	os.Exit(code)
}
