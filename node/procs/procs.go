// Package procs sizes a data node's Go scheduler (GOMAXPROCS) to the
// work it has.
//
// Clients are served by io-threads processors, one by default as Redis
// serves them from one thread: on a machine where clients share the
// cores, a second processor for the same work costs more in thread
// hand-offs than it brings (redis-benchmark at -P 1 on two cores: 70k
// SET/s with two, 98k with one). Background work that Redis gives its
// own process (a snapshot's fork child) gets one more processor per kind
// while it runs, up to the machine's CPUs. Not fsyncs: appendfsync always
// served 39k SET/s with one processor and 26k with two (redis 45k), as
// Redis too fsyncs on its one thread.
package procs

import (
	"sync"
)

// Work is a kind of background work that earns a processor of its own.
type Work int

const (
	// Snapshot: an RDB image being written (BGSAVE, AOF rewrite, a
	// replica's full sync).
	Snapshot Work = iota
	// Load: a dataset being loaded (start-up, a replica's full sync).
	Load
	// Replicas: replicas being fed the replication stream.
	Replicas
	numWork
)

// Governor holds the processor count. A nil *Governor manages nothing:
// tests that run several nodes in one process, or a GOMAXPROCS the
// operator set, leave the runtime alone.
type Governor struct {
	mu    sync.Mutex
	base  int
	max   int
	holds [numWork]int
	cur   int
	set   func(int) int
}

// New returns a governor serving clients with base processors, never
// using more than cpus in all; set applies a count (runtime.GOMAXPROCS).
// It applies base at once.
func New(base, cpus int, set func(int) int) *Governor {
	cpus = max(cpus, 1)
	g := &Governor{base: min(max(base, 1), cpus), max: cpus, set: set}
	g.apply()
	return g
}

// Hold records one piece of background work of kind w until release is
// called (once; later calls do nothing).
func (g *Governor) Hold(w Work) (release func()) {
	if g == nil {
		return func() {}
	}
	g.mu.Lock()
	g.holds[w]++
	g.apply()
	g.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			g.holds[w]--
			g.apply()
			g.mu.Unlock()
		})
	}
}

// Procs is the processor count in force (0 for a nil governor).
func (g *Governor) Procs() int {
	if g == nil {
		return 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cur
}

// apply sets the count the holds call for; with g.mu held.
func (g *Governor) apply() {
	n := g.base
	for _, h := range g.holds {
		if h > 0 {
			n++
		}
	}
	n = min(n, g.max)
	if n != g.cur {
		g.set(n)
		g.cur = n
	}
}
