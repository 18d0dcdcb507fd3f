package writeload

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// Every acknowledged key is on the server with its number as the value,
// the keys are numbered without gaps, and after Stop nothing more is
// written.
func TestLoadAcknowledgesWhatIsWritten(t *testing.T) {
	p := testutil.StartVigil(t)
	c := p.Client()
	ctx := context.Background()
	var mu sync.Mutex
	var acked []string
	l := Start(ctx, c, "w:", 0, func(key string, sent, at time.Time) {
		if at.Before(sent) {
			t.Errorf("%s acknowledged at %v, before it was sent at %v", key, at, sent)
		}
		mu.Lock()
		acked = append(acked, key)
		mu.Unlock()
	})
	time.Sleep(100 * time.Millisecond)
	l.Stop()
	l.Stop()
	mu.Lock()
	defer mu.Unlock()
	if len(acked) == 0 {
		t.Fatal("nothing acknowledged")
	}
	for i, k := range acked {
		if k != "w:"+strconv.Itoa(i) {
			t.Fatalf("acknowledgement %d is %s", i, k)
		}
		if v := c.Get(ctx, k).Val(); v != strconv.Itoa(i) {
			t.Fatalf("%s = %q on the server", k, v)
		}
	}
	if n := c.DBSize(ctx).Val(); n != int64(len(acked)) {
		t.Errorf("%d keys on the server, %d acknowledged: written after Stop", n, len(acked))
	}
}

// The server killed mid-load: no write sent after the kill is acknowledged,
// and Stop returns promptly.
func TestLoadAgainstAKilledServer(t *testing.T) {
	p := testutil.StartVigil(t)
	c := p.Client(func(o *redis.Options) { o.MaxRetries = -1; o.DialTimeout = 100 * time.Millisecond })
	var mu sync.Mutex
	var lastSent time.Time
	acks := 0
	l := Start(context.Background(), c, "w:", 0, func(_ string, sent, _ time.Time) {
		mu.Lock()
		lastSent, acks = sent, acks+1
		mu.Unlock()
	})
	time.Sleep(100 * time.Millisecond)
	p.Kill()
	killed := time.Now()
	time.Sleep(300 * time.Millisecond)
	stopping := time.Now()
	l.Stop()
	if d := time.Since(stopping); d > time.Second {
		t.Errorf("Stop took %v against a dead server", d)
	}
	mu.Lock()
	defer mu.Unlock()
	if acks == 0 {
		t.Fatal("nothing acknowledged before the kill")
	}
	if lastSent.After(killed) {
		t.Errorf("a write sent %v after the server was killed was acknowledged", lastSent.Sub(killed))
	}
}
