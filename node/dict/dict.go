// Package dict is the hash table the data node uses for its keyspace and
// for large hashes, sets and sorted sets: Redis's dict semantics
// (power-of-two tables, incremental rehash, the reverse-binary SCAN cursor
// that survives resizes, fair random sampling), which a Go map cannot give.
package dict

import (
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"unsafe"
)

const (
	dictInitialSize = 4
	// Rehash steps visit at most this many empty buckets per bucket moved,
	// so one step has bounded cost even on a sparse table.
	emptyVisitsPerStep = 10
	// Redis shrinks a table when it is less than 10% full (7.0).
	minFillPercent = 10
)

type entry[V any] struct {
	key  string
	next *entry[V]
	val  V
}

type table[V any] struct {
	buckets []*entry[V]
	used    int
}

func (t *table[V]) mask() uint64 { return uint64(len(t.buckets) - 1) }

// Dict is a hash table from string keys to V with Redis's dict semantics:
// power-of-two tables, incremental rehashing spread over operations, a SCAN
// cursor that never misses an element present for the whole scan, and
// random sampling. It is not safe for concurrent use.
type Dict[V any] struct {
	seed      maphash.Seed
	ht        [2]table[V]
	rehashIdx int // -1 when not rehashing
	paused    int // >0 while an iteration forbids rehash steps
}

// New returns an empty dict.
func New[V any]() *Dict[V] {
	return &Dict[V]{seed: maphash.MakeSeed(), rehashIdx: -1}
}

// NewSeeded returns an empty dict sharing a hash seed (dicts that hold
// the same keys, like a db's main and expires tables, can share one).
func NewSeeded[V any](seed maphash.Seed) *Dict[V] {
	return &Dict[V]{seed: seed, rehashIdx: -1}
}

// Seed is the dict's hash seed.
func (d *Dict[V]) Seed() maphash.Seed { return d.seed }

// Len is the number of entries.
func (d *Dict[V]) Len() int { return d.ht[0].used + d.ht[1].used }

// Buckets is the total number of buckets in both tables (for MEMORY and
// DEBUG HTSTATS).
func (d *Dict[V]) Buckets() int { return len(d.ht[0].buckets) + len(d.ht[1].buckets) }

// IsRehashing reports whether an incremental rehash is in progress.
func (d *Dict[V]) IsRehashing() bool { return d.rehashIdx >= 0 }

func (d *Dict[V]) hash(key string) uint64 { return maphash.String(d.seed, key) }

// rehash moves up to n buckets from table 0 to table 1. It reports whether
// more work remains.
func (d *Dict[V]) rehash(n int) bool {
	if d.rehashIdx < 0 {
		return false
	}
	emptyVisits := n * emptyVisitsPerStep
	t0, t1 := &d.ht[0], &d.ht[1]
	for ; n > 0 && t0.used > 0; n-- {
		for t0.buckets[d.rehashIdx] == nil {
			d.rehashIdx++
			emptyVisits--
			if emptyVisits == 0 {
				return true
			}
		}
		e := t0.buckets[d.rehashIdx]
		for e != nil {
			next := e.next
			idx := d.hash(e.key) & t1.mask()
			e.next = t1.buckets[idx]
			t1.buckets[idx] = e
			t0.used--
			t1.used++
			e = next
		}
		t0.buckets[d.rehashIdx] = nil
		d.rehashIdx++
	}
	if t0.used == 0 {
		d.ht[0] = d.ht[1]
		d.ht[1] = table[V]{}
		d.rehashIdx = -1
		return false
	}
	return true
}

func (d *Dict[V]) step() {
	if d.paused == 0 && d.rehashIdx >= 0 {
		d.rehash(1)
	}
}

// RehashSome does up to n buckets of rehash work; the server's cron calls
// it so idle dicts finish rehashing (activerehashing).
func (d *Dict[V]) RehashSome(n int) bool {
	if d.paused > 0 {
		return d.rehashIdx >= 0
	}
	return d.rehash(n)
}

func nextPow2(n int) int {
	if n <= dictInitialSize {
		return dictInitialSize
	}
	return 1 << bits.Len(uint(n-1))
}

func (d *Dict[V]) resize(size int) {
	size = nextPow2(size)
	if d.rehashIdx >= 0 || size == len(d.ht[0].buckets) {
		return
	}
	nt := table[V]{buckets: make([]*entry[V], size)}
	if d.ht[0].buckets == nil {
		d.ht[0] = nt
		return
	}
	d.ht[1] = nt
	d.rehashIdx = 0
}

// Expand grows the table for n entries at once (RDB loading knows the
// count from RESIZEDB), instead of doubling and rehashing on the way.
func (d *Dict[V]) Expand(n int) {
	if d.rehashIdx < 0 && n > len(d.ht[0].buckets) && n > d.ht[0].used {
		d.resize(n)
	}
}

func (d *Dict[V]) expandIfNeeded() {
	if d.rehashIdx >= 0 {
		return
	}
	if len(d.ht[0].buckets) == 0 {
		d.resize(dictInitialSize)
		return
	}
	if d.ht[0].used >= len(d.ht[0].buckets) {
		d.resize(d.ht[0].used + 1)
	}
}

// ShrinkIfNeeded starts shrinking a table that is mostly empty; called by
// deletions and the server cron, like Redis's tryResizeHashTables.
func (d *Dict[V]) ShrinkIfNeeded() {
	size := len(d.ht[0].buckets)
	if d.rehashIdx >= 0 || size <= dictInitialSize {
		return
	}
	if d.ht[0].used*100/size < minFillPercent {
		d.resize(d.ht[0].used)
	}
}

func (d *Dict[V]) find(key string) *entry[V] {
	if d.Len() == 0 {
		return nil
	}
	d.step()
	return d.findHashed(key, d.hash(key))
}

// findHashed is find given key's hash, without a rehash step.
func (d *Dict[V]) findHashed(key string, h uint64) *entry[V] {
	for i := 0; i < 2; i++ {
		t := &d.ht[i]
		if len(t.buckets) == 0 {
			break
		}
		for e := t.buckets[h&t.mask()]; e != nil; e = e.next {
			if e.key == key {
				return e
			}
		}
		if d.rehashIdx < 0 {
			break
		}
	}
	return nil
}

// Get returns the value for key.
func (d *Dict[V]) Get(key string) (V, bool) {
	if e := d.find(key); e != nil {
		return e.val, true
	}
	var zero V
	return zero, false
}

// Ref returns a pointer to the stored value for in-place updates; it is
// valid until the next insertion or deletion.
func (d *Dict[V]) Ref(key string) *V {
	if e := d.find(key); e != nil {
		return &e.val
	}
	return nil
}

// Set inserts or replaces key's value. It reports whether the key is new.
// A new key's string is stored as given: callers that pass a string backed
// by reused memory must clone it first.
func (d *Dict[V]) Set(key string, val V) bool {
	d.step()
	h := d.hash(key)
	if e := d.findHashed(key, h); e != nil {
		e.val = val
		return false
	}
	d.expandIfNeeded()
	d.insertHashed(key, h, val)
	return true
}

// InsertIfAbsent adds key unless it is present, hashing it once (RDB
// loading checks every key for a duplicate); it reports whether it did.
func (d *Dict[V]) InsertIfAbsent(key string, val V) bool {
	d.step()
	h := d.hash(key)
	if d.findHashed(key, h) != nil {
		return false
	}
	d.expandIfNeeded()
	d.insertHashed(key, h, val)
	return true
}

// Add inserts key, which must not be present, and returns a pointer to the
// stored value.
func (d *Dict[V]) insert(key string, val V) *V {
	d.expandIfNeeded()
	return d.insertHashed(key, d.hash(key), val)
}

// insertHashed is insert given key's hash; the table must have room.
func (d *Dict[V]) insertHashed(key string, h uint64, val V) *V {
	t := &d.ht[0]
	if d.rehashIdx >= 0 {
		t = &d.ht[1]
	}
	idx := h & t.mask()
	e := &entry[V]{key: key, val: val, next: t.buckets[idx]}
	t.buckets[idx] = e
	t.used++
	return &e.val
}

// Insert adds a key known to be absent and returns a pointer to its value.
func (d *Dict[V]) Insert(key string, val V) *V { return d.insert(key, val) }

// Key returns the dict's own copy of key (so other tables can share its
// memory instead of holding another copy).
func (d *Dict[V]) Key(key string) (string, bool) {
	if e := d.find(key); e != nil {
		return e.key, true
	}
	return "", false
}

// Delete removes key and returns its value.
func (d *Dict[V]) Delete(key string) (V, bool) {
	var zero V
	if d.Len() == 0 {
		return zero, false
	}
	d.step()
	h := d.hash(key)
	for i := 0; i < 2; i++ {
		t := &d.ht[i]
		if len(t.buckets) == 0 {
			break
		}
		idx := h & t.mask()
		var prev *entry[V]
		for e := t.buckets[idx]; e != nil; e = e.next {
			if e.key == key {
				if prev == nil {
					t.buckets[idx] = e.next
				} else {
					prev.next = e.next
				}
				t.used--
				v := e.val
				e.next = nil
				if d.paused == 0 {
					d.ShrinkIfNeeded()
				}
				return v, true
			}
			prev = e
		}
		if d.rehashIdx < 0 {
			break
		}
	}
	return zero, false
}

// Clear removes every entry.
func (d *Dict[V]) Clear() {
	d.ht[0] = table[V]{}
	d.ht[1] = table[V]{}
	d.rehashIdx = -1
}

// ForEach calls fn for every entry until fn returns false. The dict must not
// be modified during the iteration except through the value pointer.
func (d *Dict[V]) ForEach(fn func(key string, val *V) bool) {
	d.paused++
	defer func() { d.paused-- }()
	for i := 0; i < 2; i++ {
		for _, e := range d.ht[i].buckets {
			for ; e != nil; e = e.next {
				if !fn(e.key, &e.val) {
					return
				}
			}
		}
	}
}

// rev reverses the bits of v.
func rev(v uint64) uint64 { return bits.Reverse64(v) }

// Scan visits the buckets addressed by cursor and returns the next cursor
// (0 when the scan is complete). Every element present in the dict from the
// start to the end of a full scan is returned at least once, even across
// resizes; some may be returned more than once. This is Redis's
// reverse-binary cursor algorithm.
func (d *Dict[V]) Scan(cursor uint64, fn func(key string, val *V)) uint64 {
	if d.Len() == 0 {
		return 0
	}
	d.paused++
	defer func() { d.paused-- }()
	emit := func(e *entry[V]) {
		for ; e != nil; e = e.next {
			fn(e.key, &e.val)
		}
	}
	if d.rehashIdx < 0 {
		t := &d.ht[0]
		m := t.mask()
		emit(t.buckets[cursor&m])
		cursor |= ^m
		cursor = rev(cursor)
		cursor++
		cursor = rev(cursor)
		return cursor
	}
	small, large := &d.ht[0], &d.ht[1]
	if len(small.buckets) > len(large.buckets) {
		small, large = large, small
	}
	m0, m1 := small.mask(), large.mask()
	emit(small.buckets[cursor&m0])
	for {
		emit(large.buckets[cursor&m1])
		cursor |= ^m1
		cursor = rev(cursor)
		cursor++
		cursor = rev(cursor)
		if cursor&(m0^m1) == 0 {
			break
		}
	}
	return cursor
}

// RandomKey returns a random entry's key and value, picking fairly among
// entries by sampling several buckets first (Redis's fair random key), so
// keys in long chains are not favoured or starved.
func (d *Dict[V]) RandomKey(r *rand.Rand) (string, *V, bool) {
	if d.Len() == 0 {
		return "", nil, false
	}
	const samples = 20
	var keys [samples]*entry[V]
	n := d.sample(r, keys[:])
	if n == 0 {
		e := d.randomChainEntry(r)
		return e.key, &e.val, true
	}
	e := keys[r.IntN(n)]
	return e.key, &e.val, true
}

// randomChainEntry picks a random non-empty bucket and a random element of
// its chain (Redis's dictGetRandomKey).
func (d *Dict[V]) randomChainEntry(r *rand.Rand) *entry[V] {
	d.step()
	var he *entry[V]
	if d.rehashIdx >= 0 {
		s0 := uint64(len(d.ht[0].buckets))
		s1 := uint64(len(d.ht[1].buckets))
		for he == nil {
			// Buckets below rehashIdx in table 0 are empty.
			h := uint64(d.rehashIdx) + r.Uint64N(s0+s1-uint64(d.rehashIdx))
			if h >= s0 {
				he = d.ht[1].buckets[h-s0]
			} else {
				he = d.ht[0].buckets[h]
			}
		}
	} else {
		m := d.ht[0].mask()
		for he == nil {
			he = d.ht[0].buckets[r.Uint64()&m]
		}
	}
	n := 0
	for e := he; e != nil; e = e.next {
		n++
	}
	k := r.IntN(n)
	for ; k > 0; k-- {
		he = he.next
	}
	return he
}

// Sample fills out with up to len(out) entries taken from a random run of
// buckets (Redis's dictGetSomeKeys): cheap, not uniformly distributed, good
// for eviction and active expiry. It returns how many it found.
func (d *Dict[V]) Sample(r *rand.Rand, fn func(key string, val *V) bool, count int) int {
	if count <= 0 || d.Len() == 0 {
		return 0
	}
	buf := make([]*entry[V], min(count, d.Len()))
	n := d.sample(r, buf)
	for i := 0; i < n; i++ {
		if !fn(buf[i].key, &buf[i].val) {
			return i + 1
		}
	}
	return n
}

func (d *Dict[V]) sample(r *rand.Rand, out []*entry[V]) int {
	count := len(out)
	if count > d.Len() {
		count = d.Len()
	}
	if count == 0 {
		return 0
	}
	for j := 0; j < count && d.rehashIdx >= 0 && d.paused == 0; j++ {
		d.rehash(1)
	}
	tables := 1
	if d.rehashIdx >= 0 {
		tables = 2
	}
	maxMask := d.ht[0].mask()
	if tables > 1 && d.ht[1].mask() > maxMask {
		maxMask = d.ht[1].mask()
	}
	i := r.Uint64() & maxMask
	emptyLen := 0
	stored := 0
	maxSteps := count * 10
	for stored < count && maxSteps > 0 {
		maxSteps--
		for j := 0; j < tables; j++ {
			t := &d.ht[j]
			if tables == 2 && j == 0 && i < uint64(d.rehashIdx) {
				// Already-rehashed buckets of table 0 are empty.
				if i >= uint64(len(d.ht[1].buckets)) {
					i = uint64(d.rehashIdx)
				} else {
					continue
				}
			}
			if i >= uint64(len(t.buckets)) {
				continue
			}
			e := t.buckets[i]
			if e == nil {
				emptyLen++
				if emptyLen >= 5 && emptyLen > count {
					i = r.Uint64() & maxMask
					emptyLen = 0
				}
				continue
			}
			emptyLen = 0
			for ; e != nil && stored < count; e = e.next {
				out[stored] = e
				stored++
			}
		}
		i = (i + 1) & maxMask
	}
	return stored
}

// PrefetchMax is the most keys one PrefetchKeys call reads for.
const PrefetchMax = 32

// PrefetchKeys reads what lookups of these keys will read first
// (the bucket, the chain's first entry, its key's bytes), so that the
// lookups that follow find it in cache. Reading it for a batch of keys in
// passes lets the processor overlap the cache misses that one lookup after
// another would take in turn: a pipeline of commands on a large keyspace
// spends most of its time waiting on them. val, if not nil, reads what a
// value points to, a last pass. It returns a value made of what it read;
// the caller keeps it so the reads are not optimised away.
func (d *Dict[V]) PrefetchKeys(keys [][]byte, val func(*V) uintptr) uintptr {
	t := &d.ht[0]
	if len(t.buckets) == 0 || d.rehashIdx >= 0 {
		return 0
	}
	n := min(len(keys), PrefetchMax)
	var heads [PrefetchMax]*entry[V]
	m := t.mask()
	for i := 0; i < n; i++ {
		heads[i] = t.buckets[maphash.Bytes(d.seed, keys[i])&m]
	}
	var sink uintptr
	var keyBytes [PrefetchMax]*byte
	for i := 0; i < n; i++ {
		if e := heads[i]; e != nil && len(e.key) > 0 {
			keyBytes[i] = unsafe.StringData(e.key)
		}
	}
	for i := 0; i < n; i++ {
		if p := keyBytes[i]; p != nil {
			sink += uintptr(*p)
		}
	}
	if val != nil {
		for i := 0; i < n; i++ {
			if e := heads[i]; e != nil {
				sink += val(&e.val)
			}
		}
	}
	return sink
}
