package rollout

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/deploy/proc"
	"github.com/vigilkv/vigil/internal/testutil"
)

// RequestFailover against a real vigil-sentinel monitoring a master that
// has no replica: NOGOODSLAVE is asked again (until the context ends),
// while a sentinel that is frozen or dead gets no second asking: the
// error comes back at once, or after the client's read timeout for the
// frozen one.
func TestRequestFailover(t *testing.T) {
	dead, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	sent := testutil.StartSentinelsWith(t, 1, "--monitor", fmt.Sprintf("mymaster 127.0.0.1 %d 1", dead))[0]
	c := redis.NewClient(&redis.Options{Addr: sent.Addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: time.Second})
	t.Cleanup(func() { c.Close() })
	ask := func(within time.Duration) (error, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), within)
		defer cancel()
		start := time.Now()
		err := RequestFailover(ctx, c, "mymaster")
		return err, time.Since(start)
	}

	// No replica: asked again and again until the context ends.
	if err, took := ask(time.Second); !errors.Is(err, context.DeadlineExceeded) || took < 900*time.Millisecond {
		t.Fatalf("no replica: %v after %v, want the context's end after asking again", err, took)
	}
	// An unknown master is not asked again.
	ctx := context.Background()
	if err := RequestFailover(ctx, c, "nope"); err == nil || redis.HasErrorPrefix(err, "NOGOODSLAVE") {
		t.Fatalf("unknown master: %v", err)
	}
	// Frozen: no reply; the read timeout ends the wait.
	sent.Freeze()
	if err, took := ask(30 * time.Second); err == nil || took > 3*time.Second {
		t.Fatalf("frozen sentinel: %v after %v", err, took)
	}
	sent.Thaw()
	// Dead: the dial fails and is not asked again for 10 s.
	sent.Kill()
	if err, took := ask(30 * time.Second); err == nil || took > 5*time.Second {
		t.Fatalf("dead sentinel: %v after %v", err, took)
	}
}
