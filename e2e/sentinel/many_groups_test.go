package sentinel

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

// TestManyGroups: three sentinels monitoring 30 groups, more
// configuration than memberlist's 512 bytes of node metadata hold, still
// know each other in every group, and when one group fails over every
// sentinel adopts the new master (the configuration travels in messages
// of one group each, not in the metadata), one that was down through the
// failover included.
func TestManyGroups(t *testing.T) {
	ctx := context.Background()
	const idle = 29
	g := startGroup(t, "failing-group-with-a-long-name", 1)
	spare := testutil.StartVigil(t) // the idle groups' master, never down
	args := append(g.monitorArg(2), "--down-after-milliseconds", "3600000", "--failover-timeout", "10000")
	var names []string
	for i := 0; i < idle; i++ {
		name := fmt.Sprintf("idle-group-with-a-long-name-%02d", i)
		names = append(names, name)
		args = append(args, "--monitor", fmt.Sprintf("%s 127.0.0.1 %d 2", name, spare.Port))
	}
	sents := testutil.StartSentinelsWith(t, 3, args...)
	var clients []*redis.Client
	for _, s := range sents {
		clients = append(clients, sentinelClient(t, s))
	}
	for i, c := range clients {
		testutil.WaitFor(t, 20*time.Second, fmt.Sprintf("sentinel %d to know both peers in every group", i), func() (bool, string) {
			for _, name := range append(names, g.name) {
				v, err := c.Do(ctx, "SENTINEL", "SENTINELS", name).Slice()
				if err != nil || len(v) != 2 {
					return false, fmt.Sprint(name, ": ", len(v), " peers ", err)
				}
			}
			return true, ""
		})
	}
	waitTopology(t, clients, []*dataGroup{g})
	for _, c := range clients {
		if err := c.Do(ctx, "SENTINEL", "SET", g.name, "down-after-milliseconds", "1000").Err(); err != nil {
			t.Fatal(err)
		}
	}
	// One sentinel is down through the failover (a frozen one would
	// find the datagrams queued in its socket when thawed): it misses
	// the messages sent straight and the broadcast, and once restarted
	// has to catch up through the join's push/pull, the metadata being
	// too small to help.
	sents[2].Kill()
	g.master.Kill()
	waitFailedOver(t, clients[:2], g)
	// By now the broadcast has run out of retransmissions too.
	time.Sleep(2 * time.Second)
	sents[2].Restart()
	waitFailedOver(t, clients, g)
	updates := 0
	for _, s := range sents {
		updates += strings.Count(s.Log(), "+config-update-from")
	}
	if updates < 2 {
		t.Errorf("%d +config-update-from among the sentinels' logs: the two that did not lead should each have one", updates)
	}
}
