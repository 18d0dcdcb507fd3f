// Package persistence holds the crash and corruption tests of the data
// node's RDB and AOF persistence, run against the real binary.
package persistence

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// ack is one acknowledged write: the n-th element pushed by a writer.
type ack struct {
	n  int
	at time.Time
}

// checkLedger verifies each writer's list after a restart: a gapless run
// of every number pushed in earlier rounds and this one, in order; it
// returns, per writer, the acknowledged writes that are missing.
func checkLedger(t *testing.T, c *redis.Client, acked [][]ack, base []int) (missing [][]ack, next []int) {
	t.Helper()
	ctx := context.Background()
	next = make([]int, len(acked))
	missing = make([][]ack, len(acked))
	for w, acks := range acked {
		got, err := c.LRange(ctx, "list:"+strconv.Itoa(w), 0, -1).Result()
		if err != nil {
			t.Fatalf("LRANGE after restart: %v", err)
		}
		for i, v := range got {
			if v != strconv.Itoa(i) {
				t.Fatalf("writer %d: element %d is %s: a gap or a duplicate", w, i, v)
			}
		}
		have := len(got)
		if have < base[w] {
			t.Fatalf("writer %d: %d elements, but %d survived the previous round", w, have, base[w])
		}
		for _, a := range acks {
			if a.n >= have {
				missing[w] = append(missing[w], a)
			}
		}
		next[w] = have
	}
	return missing, next
}

// TestKillWithAppendfsyncAlways kills the server with SIGKILL at random
// moments under a write load and checks that every acknowledged write is
// there after each restart.
// It runs with the AOF written through io_uring and with plain system
// calls.
func TestKillWithAppendfsyncAlways(t *testing.T) {
	for _, ring := range []string{"yes", "no"} {
		t.Run("aof-io-uring="+ring, func(t *testing.T) { killWithAppendfsyncAlways(t, ring) })
	}
}

func killWithAppendfsyncAlways(t *testing.T, ring string) {
	p := testutil.StartVigil(t, "--appendonly", "yes", "--appendfsync", "always", "--aof-io-uring", ring)
	r := rand.New(rand.NewPCG(7, 7))
	const writers = 8
	next := make([]int, writers)
	for round := 0; round < 4; round++ {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan [][]ack)
		go func() { done <- writeUntilKilledEach(ctx, p.Addr, next) }()
		time.Sleep(time.Duration(150+r.IntN(500)) * time.Millisecond)
		p.Kill()
		cancel()
		acked := <-done
		p.Restart()
		missing, n := checkLedger(t, p.Client(), acked, next)
		for w, m := range missing {
			if len(m) > 0 {
				t.Fatalf("round %d: writer %d lost %d acknowledged writes (first: #%d)", round, w, len(m), m[0].n)
			}
		}
		total := 0
		for w := range n {
			total += n[w] - next[w]
		}
		t.Logf("round %d: %d acknowledged writes survived SIGKILL", round, total)
		next = n
	}
}

// writeUntilKilledEach runs one writer per entry of from; writer w
// RPUSHes increasing numbers from from[w] to its own list (every tenth
// inside MULTI/EXEC) and records what was acknowledged, until ctx ends or
// the server dies.
func writeUntilKilledEach(ctx context.Context, addr string, from []int) [][]ack {
	out := make([][]ack, len(from))
	var wg sync.WaitGroup
	for w := range from {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			res := writeOne(ctx, addr, w, from[w])
			out[w] = res
		}(w)
	}
	wg.Wait()
	return out
}

func writeOne(ctx context.Context, addr string, w, from int) []ack {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, PoolSize: 1, DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
	defer c.Close()
	key := "list:" + strconv.Itoa(w)
	var out []ack
	for n := from; ctx.Err() == nil; n++ {
		var err error
		if n%10 == 0 {
			_, err = c.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.RPush(ctx, key, n)
				p.Incr(ctx, "count:"+strconv.Itoa(w))
				return nil
			})
		} else {
			err = c.RPush(ctx, key, n).Err()
		}
		if err != nil {
			return out
		}
		out = append(out, ack{n, time.Now()})
	}
	return out
}

// TestKillWithAppendfsyncEverysec checks that with everysec a SIGKILL
// loses at most the last couple of seconds of acknowledged writes, and
// that the server always restarts.
func TestKillWithAppendfsyncEverysec(t *testing.T) {
	p := testutil.StartVigil(t, "--appendonly", "yes", "--appendfsync", "everysec")
	const writers = 4
	next := make([]int, writers)
	for round := 0; round < 2; round++ {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan [][]ack)
		go func() { done <- writeUntilKilledEach(ctx, p.Addr, next) }()
		time.Sleep(1500 * time.Millisecond)
		killedAt := time.Now()
		p.Kill()
		cancel()
		acked := <-done
		p.Restart()
		missing, n := checkLedger(t, p.Client(), acked, next)
		lost := 0
		for w, m := range missing {
			for _, a := range m {
				if killedAt.Sub(a.at) > 2500*time.Millisecond {
					t.Fatalf("round %d: writer %d lost write #%d acknowledged %v before the kill", round, w, a.n, killedAt.Sub(a.at))
				}
			}
			lost += len(m)
		}
		t.Logf("round %d: %d acknowledged writes lost to SIGKILL (within the last 2.5s)", round, lost)
		next = n
	}
}
