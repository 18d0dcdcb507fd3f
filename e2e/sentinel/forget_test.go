package sentinel

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilkv/vigil/internal/testutil"
)

// TestForgetAfter: with forget-after, a replica killed for good and a
// sentinel killed for good are first listed as down with how long
// (s_down, s-down-time), then forgotten: the replica leaves SENTINEL
// REPLICAS, the sentinel leaves SENTINEL SENTINELS and the electorate,
// so that with four sentinels, one forgotten and a second dead, CKQUORUM
// finds the two left a majority (of three; of the original four they
// would not be).
func TestForgetAfter(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t)
	replicaArgs := []string{"--replicaof", fmt.Sprintf("127.0.0.1 %d", master.Port)}
	replicas := []*testutil.Proc{testutil.StartVigil(t, replicaArgs...), testutil.StartVigil(t, replicaArgs...)}
	sents := testutil.StartSentinelsWith(t, 4, "--monitor", fmt.Sprintf("mymaster 127.0.0.1 %d 2", master.Port),
		"--down-after-milliseconds", "500", "--failover-timeout", "10000", "--forget-after", "1000")
	c := sentinelClient(t, sents[0])
	testutil.WaitFor(t, 20*time.Second, "sentinel 0 to see the replicas and its peers", func() (bool, string) {
		f, err := masterInfo(ctx, c, "mymaster")
		if err != nil {
			return false, err.Error()
		}
		return f["num-slaves"] == "2" && f["num-other-sentinels"] == "3", fmt.Sprint(f)
	})
	// entries lists SENTINEL REPLICAS or SENTINELS as field maps.
	entries := func(sub string) []map[string]string {
		v, err := c.Do(ctx, "SENTINEL", sub, "mymaster").Slice()
		if err != nil {
			t.Fatalf("SENTINEL %s: %v", sub, err)
		}
		var out []map[string]string
		for _, e := range v {
			out = append(out, fields(e.([]any)))
		}
		return out
	}
	// listedDown waits for the entry whose key is value to be listed as
	// down with a growing s-down-time, then for it to be gone.
	listedDown := func(sub, key, value string) {
		t.Helper()
		testutil.WaitFor(t, 15*time.Second, fmt.Sprintf("SENTINEL %s to list %s as down", sub, value), func() (bool, string) {
			for _, e := range entries(sub) {
				if e[key] == value {
					n, err := strconv.Atoi(e["s-down-time"])
					return strings.HasPrefix(e["flags"], "s_down,") && err == nil && n > 0, fmt.Sprint(e)
				}
			}
			return false, "not listed"
		})
		testutil.WaitFor(t, 15*time.Second, fmt.Sprintf("SENTINEL %s to forget %s", sub, value), func() (bool, string) {
			for _, e := range entries(sub) {
				if e[key] == value {
					return false, fmt.Sprint(e)
				}
			}
			return true, ""
		})
	}

	replicas[1].Kill()
	listedDown("REPLICAS", "port", strconv.Itoa(replicas[1].Port))
	if n := len(entries("REPLICAS")); n != 1 {
		t.Fatalf("%d replicas listed after one was forgotten, want 1", n)
	}

	id3 := sentinelClient(t, sents[3]).Do(ctx, "SENTINEL", "MYID").Val()
	if id3 == "" {
		t.Fatal("no SENTINEL MYID")
	}
	sents[3].Kill()
	listedDown("SENTINELS", "runid", fmt.Sprint(id3))
	testutil.WaitFor(t, 5*time.Second, "the other sentinels to forget it too", func() (bool, string) {
		for i := 1; i < 3; i++ {
			f, err := masterInfo(ctx, sentinelClient(t, sents[i]), "mymaster")
			if err != nil || f["num-other-sentinels"] != "2" {
				return false, fmt.Sprintf("sentinel %d: %v %v", i, f["num-other-sentinels"], err)
			}
		}
		return true, ""
	})

	// A second sentinel is shut down for good (it leaves the gossip at
	// once, where a killed one is found dead within seconds): two alive
	// of an electorate of three is a majority (two of four would not be).
	sents[2].Stop()
	testutil.WaitFor(t, 15*time.Second, "CKQUORUM with two of the three sentinels left", func() (bool, string) {
		s, err := c.Do(ctx, "SENTINEL", "CKQUORUM", "mymaster").Text()
		return err == nil && s == "OK 2 usable Sentinels. Quorum and failover authorization can be reached", fmt.Sprint(s, err)
	})
}
