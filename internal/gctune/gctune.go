// Package gctune gives the Go collector a minimum heap headroom.
//
// With GOGC=100 the collector runs each time the heap doubles. A data node
// holding a few megabytes under a heavy write load therefore collects every
// few megabytes allocated, and each mark phase takes processor time from the
// clients (the node serves them on one processor, as Redis does on one
// thread): at redis-benchmark -P 16 ZADD's p99 was 11 ms against 6 ms with
// the collector off. A floor on the headroom keeps small heaps from being
// collected that often while leaving large heaps at the operator's GOGC.
package gctune

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// maxPercent bounds the GOGC the tuner sets: with an almost empty heap the
// floor would otherwise ask for an arbitrarily large percentage.
const maxPercent = 100_000

// Percent is the GOGC that gives a heap of live bytes at least headroom
// bytes before the next collection, and never less than base.
func Percent(live, headroom uint64, base int) int {
	if live == 0 {
		live = 1
	}
	p := int(min((headroom*100+live-1)/live, maxPercent))
	return max(p, base)
}

// Tuner sets GOGC after every collection so that the next one starts no
// sooner than a minimum headroom above the live heap.
type Tuner struct {
	headroom atomic.Uint64
	base     int
	set      func(int) int // debug.SetGCPercent
	live     func() uint64
	stopped  atomic.Bool

	mu      sync.Mutex
	current int          // the GOGC last set
	tuned   atomic.Int64 // collections seen, for tests
}

// New returns a tuner keeping at least headroom bytes of headroom over
// GOGC=base; set applies a percentage (debug.SetGCPercent). Nothing
// happens until Start.
func New(headroom uint64, base int, set func(int) int) *Tuner {
	t := &Tuner{base: base, set: set, live: liveHeap, current: base}
	t.headroom.Store(headroom)
	return t
}

// Start applies the floor for the current heap and then re-applies it
// after each collection until Stop.
func (t *Tuner) Start() {
	t.tune()
	t.arm()
}

// Stop ends the tuning and puts GOGC back to its base.
func (t *Tuner) Stop() {
	if t.stopped.Swap(true) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.set(t.base)
	t.current = t.base
}

// SetHeadroom changes the floor from the next collection on.
func (t *Tuner) SetHeadroom(headroom uint64) { t.headroom.Store(headroom) }

// arm registers a finalizer on a fresh object: the collector runs it
// after the cycle that finds the object unreachable, which is the next
// one, and the finalizer arms the following cycle.
func (t *Tuner) arm() {
	sentinel := new([16]byte) // finalizers need a heap object of non-zero size
	runtime.SetFinalizer(sentinel, func(*[16]byte) {
		if t.stopped.Load() {
			return
		}
		t.tune()
		t.arm()
	})
}

func (t *Tuner) tune() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped.Load() {
		return
	}
	p := Percent(t.live(), t.headroom.Load(), t.base)
	// Small moves are not worth the heap lock SetGCPercent takes.
	if p != t.current && (p > t.current+t.current/8 || p < t.current-t.current/8 || p == t.base) {
		t.set(p)
		t.current = p
	}
	t.tuned.Add(1)
}

// liveHeap is the heap the last collection marked live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
