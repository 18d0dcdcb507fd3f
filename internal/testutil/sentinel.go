package testutil

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vigilkv/vigil/deploy/proc"
)

// StartSentinels starts n vigil-sentinels monitoring "mymaster" at
// host:port with quorum 2 (failover-timeout 10 s), gossiping with each
// other on free loopback ports, and stops them when the test ends.
func StartSentinels(t testing.TB, n int, host string, port, downAfterMs int) []*Proc {
	t.Helper()
	return StartSentinelsWith(t, n, "--monitor", fmt.Sprintf("mymaster %s %d 2", host, port),
		"--down-after-milliseconds", strconv.Itoa(downAfterMs), "--failover-timeout", "10000")
}

// StartSentinelsWith starts n vigil-sentinels gossiping with each other on
// free loopback ports, with extra arguments (they monitor nothing unless
// extra says so), and stops them when the test ends.
func StartSentinelsWith(t testing.TB, n int, extra ...string) []*Proc {
	t.Helper()
	return StartSentinelsEach(t, n, func(int) []string { return extra })
}

// StartSentinelsEach is StartSentinelsWith with the extra arguments of
// each sentinel (by index) from extra.
func StartSentinelsEach(t testing.TB, n int, extra func(i int) []string) []*Proc {
	t.Helper()
	// Gossip ports from below the ephemeral range, distinct and free for
	// TCP and UDP: picked one by one from the ephemeral range, two once
	// coincided or were taken by a client connection before the bind.
	base, err := proc.FreePortRange(n)
	if err != nil {
		t.Fatal(err)
	}
	var seeds []string
	for i := 0; i < n; i++ {
		seeds = append(seeds, "127.0.0.1:"+strconv.Itoa(base+i))
	}
	var out []*Proc
	for i := 0; i < n; i++ {
		dir := t.TempDir()
		args := append([]string{"--bind", "127.0.0.1", "--dir", dir, "--gossip-port", strconv.Itoa(base + i),
			"--join", strings.Join(seeds, ",")}, extra(i)...)
		out = append(out, StartProcess(t, proc.Spec{
			Name:    fmt.Sprint("vigil-sentinel-", i),
			Path:    SentinelBinary(t),
			Args:    args,
			Dir:     dir,
			LogPath: filepath.Join(dir, "sentinel.log"),
		}))
	}
	return out
}
