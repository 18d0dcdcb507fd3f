package main

import (
	"context"
	"slices"
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
	// attempts is every write's outcome, for the report's timeline and
	// latency percentiles.
	attempts []attempt
}

// attempt is one write of the workload.
type attempt struct {
	done    time.Time
	latency time.Duration
	ok      bool
}

// startWorkload starts the writer; pause is the delay between writes,
// timeout the client's read and write timeout (0: 500 ms).
func startWorkload(ctx context.Context, sentinels []string, pause, timeout time.Duration) *workload {
	if timeout == 0 {
		timeout = 500 * time.Millisecond
	}
	w := &workload{stop: make(chan struct{}), errKinds: map[string]int{}}
	w.fc = redis.NewFailoverClient(&redis.FailoverOptions{MasterName: masterName, SentinelAddrs: sentinels, MaxRetries: -1, DisableIdentity: true,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: timeout, WriteTimeout: timeout})
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
			sent := time.Now()
			err := w.fc.Incr(ctx, k).Err()
			now := time.Now()
			w.mu.Lock()
			w.attempts = append(w.attempts, attempt{done: now, latency: now.Sub(sent), ok: err == nil})
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

// bucket is one slice of the timeline: writes acknowledged and failed.
type bucket struct {
	Ms     int64 `json:"t_ms"` // start, from the fault
	Acked  int   `json:"acked"`
	Errors int   `json:"errors"`
}

// timeline counts the writes per step, by completion time, from the
// first one; times are relative to origin (the fault).
func (w *workload) timeline(origin time.Time, step time.Duration) []bucket {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.attempts) == 0 {
		return nil
	}
	if origin.IsZero() {
		origin = w.attempts[0].done
	}
	// Buckets are aligned on the origin, so one starts at the fault.
	first := origin.Add(w.attempts[0].done.Sub(origin).Truncate(step))
	if first.After(w.attempts[0].done) {
		first = first.Add(-step)
	}
	var out []bucket
	for _, a := range w.attempts {
		i := int(a.done.Sub(first) / step)
		for len(out) <= i {
			out = append(out, bucket{Ms: first.Add(time.Duration(len(out)) * step).Sub(origin).Milliseconds()})
		}
		if a.ok {
			out[i].Acked++
		} else {
			out[i].Errors++
		}
	}
	return out
}

// latencies returns percentiles of the acknowledged writes' latency in
// milliseconds.
func (w *workload) latencies() map[string]float64 {
	w.mu.Lock()
	var ls []time.Duration
	for _, a := range w.attempts {
		if a.ok {
			ls = append(ls, a.latency)
		}
	}
	w.mu.Unlock()
	if len(ls) == 0 {
		return nil
	}
	slices.Sort(ls)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	at := func(q float64) float64 { return ms(ls[min(len(ls)-1, int(q*float64(len(ls))))]) }
	return map[string]float64{"p50": at(0.50), "p99": at(0.99), "p999": at(0.999), "max": ms(ls[len(ls)-1])}
}
