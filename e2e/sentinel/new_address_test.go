package sentinel

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilkv/vigil/deploy/proc"
	"github.com/vigilkv/vigil/internal/testutil"
)

// TestSentinelBackAtNewAddress: a sentinel restarted from its state file
// (same id) at new gossip and RESP addresses, as a rescheduled
// Kubernetes pod comes back with a new IP, is back in the others' gossip
// and listed at its new address within seconds, though the others last
// knew its id at the old address.
func TestSentinelBackAtNewAddress(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t)
	sents := testutil.StartSentinels(t, 3, "127.0.0.1", master.Port, 5000)
	watchGossip(t, sents...).wait(60*time.Second, "the sentinels to gossip", "sentinel_gossip_alive", "3")
	spec := sents[2].Spec
	sents[2].Kill()
	gossip, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	spec.Args = slices.Clone(spec.Args)
	spec.Args[argAfter(spec.Args, "--gossip-port")] = strconv.Itoa(gossip)
	spec.Port = 0
	start := time.Now()
	back := testutil.StartProcess(t, spec)
	all := []*testutil.Proc{sents[0], sents[1], back}
	gw := watchGossip(t, all...)
	gw.wait(60*time.Second, "the sentinel to be back in the gossip at its new address", "sentinel_gossip_alive", "3")
	peerClients := gw.clients[:2]
	for i, c := range peerClients {
		testutil.WaitFor(t, 30*time.Second, fmt.Sprintf("sentinel %d to list the new address", i), func() (bool, string) {
			v, err := c.Do(ctx, "SENTINEL", "SENTINELS", "mymaster").Slice()
			if err != nil {
				return false, err.Error()
			}
			var ports []string
			for _, e := range v {
				ports = append(ports, fields(e.([]any))["port"])
			}
			return slices.Contains(ports, strconv.Itoa(back.Port)), fmt.Sprint("ports ", ports, " want ", back.Port)
		})
	}
	t.Logf("listed %v after the restart", time.Since(start).Round(100*time.Millisecond))
	// The others take the old address for dead within a few seconds,
	// and memberlist must then let the id move to the new one: watched
	// for 25 s, the gossip must settle at three with time to spare.
	settled := time.Time{}
	for time.Since(start) < 25*time.Second {
		ok := is(gw.alive(), "3")
		switch {
		case !ok:
			settled = time.Time{}
		case settled.IsZero():
			settled = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
	if settled.IsZero() || time.Since(settled) < 3*time.Second {
		t.Fatalf("the gossip had not settled with the sentinel at its new address 25 s after the restart")
	}
	t.Logf("in the gossip for good %v after the restart", settled.Sub(start).Round(100*time.Millisecond))
	for _, p := range all {
		if strings.Contains(p.Log(), "most likely from a copy") {
			t.Errorf("%s reported a copied state file after a restart at a new address:\n%s", p.Spec.Name, p.Log())
		}
	}
}
