package sentinel

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

// gossipWatch reads the gossip fields of INFO sentinel from a set of
// sentinels, through one client each for the whole test.
type gossipWatch struct {
	t       *testing.T
	clients []*redis.Client
}

func watchGossip(t *testing.T, procs ...*testutil.Proc) *gossipWatch {
	g := &gossipWatch{t: t}
	for _, p := range procs {
		g.clients = append(g.clients, sentinelClient(t, p))
	}
	return g
}

// field is each sentinel's INFO sentinel field name, in order.
func (g *gossipWatch) field(name string) []string {
	var out []string
	for _, c := range g.clients {
		out = append(out, testutil.InfoField(c.Info(context.Background(), "sentinel").Val(), name))
	}
	return out
}

// alive is each sentinel's sentinel_gossip_alive.
func (g *gossipWatch) alive() []string { return g.field("sentinel_gossip_alive") }

// is reports whether got is want, one value per sentinel or one for all.
func is(got []string, want ...string) bool {
	if len(want) == 1 {
		for _, v := range got {
			if v != want[0] {
				return false
			}
		}
		return true
	}
	return strings.Join(got, " ") == strings.Join(want, " ")
}

// wait waits up to timeout until field reads want (one value per
// sentinel, or one for all).
func (g *gossipWatch) wait(timeout time.Duration, what, field string, want ...string) {
	g.t.Helper()
	testutil.WaitFor(g.t, timeout, what, func() (bool, string) {
		got := g.field(field)
		return is(got, want...), fmt.Sprint(field, " ", got)
	})
}

// sentinelYAML gives n sentinels a YAML settings file each, rewritten
// by write (before a SIGHUP, say).
func sentinelYAML(t *testing.T, n int) (path func(i int) string, write func(i int, body string)) {
	dir := t.TempDir()
	path = func(i int) string { return filepath.Join(dir, fmt.Sprintf("s%d.yaml", i)) }
	write = func(i int, body string) {
		t.Helper()
		if err := os.WriteFile(path(i), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return path, write
}

// argAfter is the index of the argument that follows flag in args (-1
// if none).
func argAfter(args []string, flag string) int {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			return i + 1
		}
	}
	return -1
}
