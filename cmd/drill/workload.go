package main

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// workload writes unique, increasing keys through a go-redis
// FailoverClient that finds the master via the sentinels, and keeps a
// ledger of the writes the server acknowledged.
type workload struct {
	fc   *redis.Client
	stop chan struct{}
	wg   sync.WaitGroup

	mu     sync.Mutex
	acked  []string
	ackAt  []time.Time // when each acked write was acknowledged
	errors int
	// errKinds counts errors by their first word (NOLEASE, NOTCONFIRMED,
	// "dial", "i/o", ...), for the report.
	errKinds map[string]int
	lastOK   time.Time
	window   time.Duration
}

// startWorkload starts the writer; pause is the delay between writes.
func startWorkload(ctx context.Context, sentinels []string, pause time.Duration) *workload {
	w := &workload{stop: make(chan struct{}), errKinds: map[string]int{}}
	w.fc = redis.NewFailoverClient(&redis.FailoverOptions{MasterName: masterName, SentinelAddrs: sentinels, MaxRetries: -1, DisableIdentity: true,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond})
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			case <-time.After(pause):
			}
			// INCR of a fresh key rather than SET: a write applied twice
			// anywhere (a replica replaying part of its master's stream
			// again) leaves a 2 that DEBUG DIGEST tells apart.
			k := "fc:" + strconv.Itoa(i)
			err := w.fc.Incr(ctx, k).Err()
			now := time.Now()
			w.mu.Lock()
			if err == nil {
				w.acked = append(w.acked, k)
				w.ackAt = append(w.ackAt, now)
				if !w.lastOK.IsZero() && now.Sub(w.lastOK) > w.window {
					w.window = now.Sub(w.lastOK)
				}
				w.lastOK = now
			} else {
				w.errors++
				kind, _, _ := strings.Cut(err.Error(), " ")
				w.errKinds[strings.TrimSuffix(kind, ":")]++
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// record adds a write acknowledged by another client to the ledger.
func (w *workload) record(key string) {
	w.mu.Lock()
	w.acked = append(w.acked, key)
	w.mu.Unlock()
}

// halt stops the writer and closes its client; idempotent.
func (w *workload) halt() {
	select {
	case <-w.stop:
		return
	default:
	}
	close(w.stop)
	w.wg.Wait()
	w.fc.Close()
	// A client that never wrote again after a fault had its longest
	// window last.
	w.mu.Lock()
	if now := time.Now(); !w.lastOK.IsZero() && now.Sub(w.lastOK) > w.window {
		w.window = now.Sub(w.lastOK)
	}
	w.mu.Unlock()
}

// stats are the workload's counts so far.
type stats struct {
	acked, errors int
	window        time.Duration
}

func (w *workload) stats() stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return stats{acked: len(w.acked), errors: w.errors, window: w.window}
}

// keys returns the ledger.
func (w *workload) keys() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.acked...)
}

// errorKinds returns the error counts by kind.
func (w *workload) errorKinds() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]int, len(w.errKinds))
	for k, v := range w.errKinds {
		out[k] = v
	}
	return out
}

// firstAckAfter is when the first write after t was acknowledged (zero if
// none was).
func (w *workload) firstAckAfter(t time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := len(w.ackAt) - 1; i >= 0; i-- {
		if w.ackAt[i].Before(t) {
			if i+1 < len(w.ackAt) {
				return w.ackAt[i+1]
			}
			return time.Time{}
		}
	}
	if len(w.ackAt) > 0 {
		return w.ackAt[0]
	}
	return time.Time{}
}

// ackedSince counts the writes acknowledged after t.
func (w *workload) ackedSince(t time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for i := len(w.ackAt) - 1; i >= 0 && w.ackAt[i].After(t); i-- {
		n++
	}
	return n
}
