package testutil

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// InfoClient is what WaitInfo needs of a client: go-redis's Client and
// the clients of every other mode have it.
type InfoClient interface {
	Info(ctx context.Context, sections ...string) *redis.StringCmd
}

// WaitInfo waits up to 30 s until INFO section (every section when empty)
// contains line, and fails the test with the last INFO otherwise. Work a
// server does in the background (a rewrite, a sync) is waited for this
// way rather than by sleeping.
func WaitInfo(t testing.TB, c InfoClient, section, line string) {
	t.Helper()
	var sections []string
	if section != "" {
		sections = []string{section}
	}
	var last string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		last = c.Info(context.Background(), sections...).Val()
		if strings.Contains(last, line) {
			return
		}
	}
	t.Fatalf("INFO %s never showed %q:\n%s", section, line, last)
}

// InfoField is the value of field name in an INFO reply, "" if absent.
func InfoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}
