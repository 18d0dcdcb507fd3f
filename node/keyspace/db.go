package keyspace

import (
	"math/rand/v2"
	"strings"
	"time"
	"unsafe"

	"github.com/vigilkv/vigil/node/dict"
)

// Hooks lets the server react to changes made inside the keyspace without
// the keyspace knowing about clients, replication or pub/sub.
type Hooks struct {
	// Expired runs after an expired key was deleted on access or by the
	// active cycle (master only): notify "expired", propagate DEL.
	Expired func(db *DB, key string)
	// Modified runs whenever a key's value changes or the key goes away
	// (WATCH invalidation, client-side caching).
	Modified func(db *DB, key string)
	// Ready runs when a list or sorted set key is created, so clients
	// blocked on it can be served.
	Ready func(db *DB, key string)
	// Added runs when a key is created (the "new" keyspace event).
	Added func(db *DB, key string)
}

// Config holds the keyspace settings the server can change at runtime.
type Config struct {
	// ReplicaMode hides logically expired keys without deleting them: a
	// replica waits for the master's DEL.
	ReplicaMode bool
	// LFU selects LFU bookkeeping in each value's LRU word.
	LFU bool
	// LFULogFactor and LFUDecayTime are lfu-log-factor and lfu-decay-time.
	LFULogFactor int
	LFUDecayTime int
	// NoActiveExpire stops the active expiry cycle (DEBUG
	// SET-ACTIVE-EXPIRE 0); keys still expire lazily.
	NoActiveExpire bool
	// Loading suspends expiry while an AOF is replayed, as in Redis: the
	// log's own DELs and later commands decide.
	Loading bool
}

// Keyspace is the set of numbered databases plus what they share: the
// cached command time, the random source, the clock and the hooks.
type Keyspace struct {
	DBs    []*DB
	Hooks  Hooks
	Config Config
	Rand   *rand.Rand
	clock  func() time.Time
	// wallClock: clock is time.Now, so a reading the server already took
	// for the command can stand in for a fresh one.
	wallClock bool
	nowMs     int64
	// NoTouch disables LRU/LFU updates for the current command
	// (CLIENT NO-TOUCH, OBJECT, DEBUG).
	NoTouch bool
	// snap is the running snapshot, if any; snapGen the generation of the
	// last one begun.
	snap    *Snapshot
	snapGen uint16
	// Stats.
	ExpiredKeys  int64
	EvictedKeys  int64
	KeyspaceHits int64
	KeyspaceMiss int64
}

// New creates n empty databases. clock may be nil for the wall clock.
func New(n int, clock func() time.Time, rng *rand.Rand) *Keyspace {
	wall := clock == nil
	if wall {
		clock = time.Now
	}
	if rng == nil {
		rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	ks := &Keyspace{clock: clock, wallClock: wall, Rand: rng, Config: Config{LFULogFactor: 10, LFUDecayTime: 1}}
	for i := 0; i < n; i++ {
		ks.DBs = append(ks.DBs, newDB(ks, i))
	}
	ks.UpdateTime()
	return ks
}

// UpdateTime refreshes the cached time. The server calls it once per
// command so that a command (or a MULTI block) sees one instant.
func (ks *Keyspace) UpdateTime() { ks.nowMs = ks.clock().UnixMilli() }

// UpdateTimeAt is UpdateTime given a wall-clock reading the caller just
// took: a command reads the clock once for its expiry checks, its lease
// check and its duration. An injected clock is still read.
func (ks *Keyspace) UpdateTimeAt(now time.Time) {
	if ks.wallClock {
		ks.nowMs = now.UnixMilli()
		return
	}
	ks.UpdateTime()
}

// NowMs is the cached command time in Unix milliseconds.
func (ks *Keyspace) NowMs() int64 { return ks.nowMs }

// Now is the clock's current time (not cached).
func (ks *Keyspace) Now() time.Time { return ks.clock() }

// UsedMemory is the estimated bytes held by all keys and values.
func (ks *Keyspace) UsedMemory() int64 {
	var n int64
	for _, db := range ks.DBs {
		n += db.mem
	}
	return n
}

// DB is one numbered database: the main dict and the expires dict, which
// holds only keys with a TTL (sharing their key strings).
type DB struct {
	ID      int
	ks      *Keyspace
	keys    *dict.Dict[Value]
	expires *dict.Dict[int64]
	mem     int64
	// AvgTTL is the running estimate INFO keyspace reports.
	AvgTTL int64
	// expireCursor resumes the active expiry scan where it stopped.
	expireCursor uint64
}

func newDB(ks *Keyspace, id int) *DB {
	keys := dict.New[Value]()
	return &DB{ID: id, ks: ks, keys: keys, expires: dict.NewSeeded[int64](keys.Seed())}
}

// Keyspace is the keyspace this db belongs to.
func (db *DB) Keyspace() *Keyspace { return db.ks }

// Len is the number of keys, including logically expired ones not yet
// deleted (DBSIZE counts those too).
func (db *DB) Len() int { return db.keys.Len() }

// ExpiresLen is the number of keys with a TTL.
func (db *DB) ExpiresLen() int { return db.expires.Len() }

// Memory is the estimated bytes held by this db's keys.
func (db *DB) Memory() int64 { return db.mem }

// isExpired reports whether key has a TTL in the past.
func (db *DB) isExpired(key string) bool {
	if db.expires.Len() == 0 || db.ks.Config.Loading {
		return false
	}
	when, ok := db.expires.Get(key)
	return ok && when <= db.ks.nowMs
}

// expireIfNeeded deletes key if it is logically expired and this is a
// master; on a replica it only reports it. It reports whether the key is
// (logically) gone.
func (db *DB) expireIfNeeded(key string) bool {
	if !db.isExpired(key) {
		return false
	}
	if db.ks.Config.ReplicaMode {
		return true
	}
	db.deleteExpired(key)
	return true
}

func (db *DB) deleteExpired(key string) {
	// The hooks may outlive this call's view of key (it can alias the
	// dict's copy), so keep our own.
	k, _ := db.keys.Key(key)
	db.Delete(k)
	db.ks.ExpiredKeys++
	if db.ks.Hooks.Expired != nil {
		db.ks.Hooks.Expired(db, k)
	}
}

// IsLogicallyExpired reports whether key is present but past its TTL
// (a replica's hidden keys).
func (db *DB) IsLogicallyExpired(key string) bool { return db.isExpired(key) }

// Lookup finds key for reading: expired keys are removed (or hidden on a
// replica), the value's access time is updated, and hits/misses counted.
// The pointer is valid until the next insertion or deletion in this db.
func (db *DB) Lookup(key string) *Value {
	v := db.lookup(key)
	if v == nil {
		db.ks.KeyspaceMiss++
	} else {
		db.ks.KeyspaceHits++
	}
	return v
}

// LookupWrite finds key for modification: like Lookup, without counting
// hits or misses. A running snapshot gets the value before the caller
// changes it.
func (db *DB) LookupWrite(key string) *Value {
	v := db.lookup(key)
	db.beforeWrite(key, v)
	return v
}

// Peek finds key without expiring it or touching its access time.
func (db *DB) Peek(key string) *Value { return db.keys.Ref(key) }

func (db *DB) lookup(key string) *Value {
	if db.expireIfNeeded(key) {
		return nil
	}
	v := db.keys.Ref(key)
	if v != nil && !db.ks.NoTouch {
		db.ks.touch(v)
	}
	return v
}

// Exists reports whether key is present and not expired.
func (db *DB) Exists(key string) bool { return db.lookup(key) != nil }

// Set stores val under key, replacing any value. The TTL is cleared unless
// keepTTL. key is copied if it is new.
func (db *DB) Set(key string, val Value, keepTTL bool) {
	db.expireIfNeeded(key)
	val.refresh()
	db.ks.initLRU(&val)
	val.gen = db.ks.currentGen()
	if old := db.keys.Ref(key); old != nil {
		db.beforeWrite(key, old)
		db.mem -= int64(old.memoryCost(key))
		typ := old.typ
		*old = val
		db.mem += int64(val.memoryCost(key))
		if !keepTTL {
			db.expires.Delete(key)
		}
		if (val.typ == TypeList || val.typ == TypeZSet) && typ != val.typ {
			db.signalReady(key)
		}
		db.signalModified(key)
		return
	}
	db.add(strings.Clone(key), val)
}

// Add stores val under key, which must be absent. key is copied.
func (db *DB) Add(key string, val Value) {
	val.refresh()
	db.ks.initLRU(&val)
	db.add(strings.Clone(key), val)
}

func (db *DB) add(key string, val Value) {
	val.gen = db.ks.currentGen()
	db.keys.Insert(key, val)
	db.added(key, val)
}

// AddOwnedIfAbsent adds key unless it is present (a duplicate in an RDB
// file) and reports whether it did. key is kept as it is, not copied (RDB
// loading, where every key is freshly allocated). One hash and one walk of the
// bucket instead of a lookup and an insert: a third of loading's CPU.
func (db *DB) AddOwnedIfAbsent(key string, val Value) bool {
	val.refresh()
	db.ks.initLRU(&val)
	val.gen = db.ks.currentGen()
	if !db.keys.InsertIfAbsent(key, val) {
		return false
	}
	db.added(key, val)
	return true
}

// added does the bookkeeping of a new key.
func (db *DB) added(key string, val Value) {
	db.mem += int64(val.memoryCost(key))
	if db.ks.Hooks.Added != nil {
		db.ks.Hooks.Added(db, key)
	}
	if val.typ == TypeList || val.typ == TypeZSet {
		db.signalReady(key)
	}
	db.signalModified(key)
}

// Delete removes key and its TTL. It reports whether the key existed.
func (db *DB) Delete(key string) bool {
	if db.ks.snap != nil {
		db.beforeWrite(key, db.keys.Ref(key))
	}
	v, ok := db.keys.Delete(key)
	if !ok {
		return false
	}
	db.mem -= int64(v.memoryCost(key))
	if db.expires.Len() > 0 {
		db.expires.Delete(key)
	}
	db.signalModified(key)
	return true
}

// SignalModified must be called after a value was changed in place: it
// updates the memory estimate and tells WATCH and friends.
func (db *DB) SignalModified(key string) {
	if v := db.keys.Ref(key); v != nil {
		db.mem -= int64(v.memoryCost(key))
		v.refresh()
		db.mem += int64(v.memoryCost(key))
	}
	db.signalModified(key)
}

// SignalReady tells clients blocked on key that it may have data (used
// when elements are pushed to an existing key that someone waits for,
// e.g. by the destination side of LMOVE).
func (db *DB) SignalReady(key string) { db.signalReady(key) }

func (db *DB) signalModified(key string) {
	if db.ks.Hooks.Modified != nil {
		db.ks.Hooks.Modified(db, key)
	}
}

func (db *DB) signalReady(key string) {
	if db.ks.Hooks.Ready != nil {
		db.ks.Hooks.Ready(db, key)
	}
}

// SetExpire sets key's absolute expiry in Unix ms. The key must exist.
func (db *DB) SetExpire(key string, whenMs int64) {
	k, ok := db.keys.Key(key)
	if !ok {
		return
	}
	if db.ks.snap != nil {
		db.beforeWrite(k, db.keys.Ref(k))
	}
	db.expires.Set(k, whenMs)
}

// Expire returns key's absolute expiry in Unix ms, if it has one.
func (db *DB) Expire(key string) (int64, bool) {
	if db.expires.Len() == 0 {
		return 0, false
	}
	return db.expires.Get(key)
}

// Persist removes key's TTL and reports whether it had one.
func (db *DB) Persist(key string) bool {
	if db.expires.Len() == 0 {
		return false
	}
	if db.ks.snap != nil && db.expires.Ref(key) != nil {
		db.beforeWrite(key, db.keys.Ref(key))
	}
	_, ok := db.expires.Delete(key)
	return ok
}

// Flush removes every key. It returns how many there were.
func (db *DB) Flush() int {
	n := db.keys.Len()
	db.keys = dict.New[Value]()
	db.expires = dict.NewSeeded[int64](db.keys.Seed())
	db.mem = 0
	db.AvgTTL = 0
	db.expireCursor = 0
	return n
}

// SwapContents exchanges the data of two dbs (SWAPDB), keeping their ids.
func (db *DB) SwapContents(other *DB) {
	db.keys, other.keys = other.keys, db.keys
	db.expires, other.expires = other.expires, db.expires
	db.mem, other.mem = other.mem, db.mem
	db.AvgTTL, other.AvgTTL = other.AvgTTL, db.AvgTTL
	db.expireCursor, other.expireCursor = other.expireCursor, db.expireCursor
}

// Scan advances a SCAN cursor over the db, calling fn for each key that is
// not expired. It returns the next cursor.
func (db *DB) Scan(cursor uint64, fn func(key string, v *Value)) uint64 {
	var expired []string
	next := db.keys.Scan(cursor, func(key string, v *Value) {
		if db.isExpired(key) {
			expired = append(expired, key)
			return
		}
		fn(key, v)
	})
	if !db.ks.Config.ReplicaMode {
		for _, k := range expired {
			db.deleteExpired(k)
		}
	}
	return next
}

// ForEach visits every key (including logically expired ones) until fn
// returns false. The db must not be modified meanwhile.
func (db *DB) ForEach(fn func(key string, v *Value) bool) {
	db.keys.ForEach(fn)
}

// RandomKey returns a random live key, or false if there is none. Like
// Redis, it gives up on finding a non-expired key after a bounded number of
// tries on a replica where every key may be logically expired.
func (db *DB) RandomKey() (string, bool) {
	for tries := 0; db.keys.Len() > 0; tries++ {
		key, _, _ := db.keys.RandomKey(db.ks.Rand)
		if !db.isExpired(key) {
			return key, true
		}
		if db.ks.Config.ReplicaMode {
			if tries > 100 {
				return key, true
			}
			continue
		}
		db.deleteExpired(key)
	}
	return "", false
}

// SampleKeys passes up to count sampled keys to fn (for eviction).
func (db *DB) SampleKeys(count int, fn func(key string, v *Value) bool) {
	db.keys.Sample(db.ks.Rand, fn, count)
}

// SampleVolatile passes up to count sampled keys with a TTL to fn.
func (db *DB) SampleVolatile(count int, fn func(key string, whenMs int64) bool) {
	db.expires.Sample(db.ks.Rand, func(k string, w *int64) bool { return fn(k, *w) }, count)
}

// RehashSome spends a little time on incremental rehashing of this db.
func (db *DB) RehashSome(n int) bool {
	a := db.keys.RehashSome(n)
	b := db.expires.RehashSome(n)
	return a || b
}

// Reserve sizes the tables for keys keys, expires of them with a TTL
// (RDB loading).
func (db *DB) Reserve(keys, expires int) {
	db.keys.Expand(keys)
	db.expires.Expand(expires)
}

// ShrinkIfNeeded lets the cron shrink sparse tables.
func (db *DB) ShrinkIfNeeded() {
	db.keys.ShrinkIfNeeded()
	db.expires.ShrinkIfNeeded()
}

// HashtableStats describes the tables for DEBUG HTSTATS and MEMORY STATS.
func (db *DB) HashtableStats() (keyBuckets, expireBuckets int) {
	return db.keys.Buckets(), db.expires.Buckets()
}

// memoryCost is the estimate for a key and its value. Plain strings derive
// it from their length; raw strings and collections cache the value part in
// n (see refresh), so the estimate removed is always the one added.
func (v *Value) memoryCost(key string) int {
	n := entryOverhead + sizeClass(len(key))
	if v.typ == TypeString && v.flags&flagRawString == 0 {
		return n + sizeClass(int(v.n))
	}
	return n + int(v.n)
}

func (v *Value) refresh() {
	switch {
	case v.typ == TypeString && v.flags&flagRawString == 0:
		return
	case v.typ == TypeString:
		v.n = uint32(32 + sizeClass(cap((*rawString)(v.ptr).b)))
	default:
		c := v.memoryUsage("") - entryOverhead
		if c > 1<<32-1 {
			c = 1<<32 - 1
		}
		v.n = uint32(c)
	}
}

// Prefetch reads ahead what looking up these keys will read, for a batch
// of pipelined commands (see dict.PrefetchKeys). It returns a value to keep so
// the reads are not optimised away.
func (db *DB) Prefetch(keys [][]byte) uintptr {
	return db.keys.PrefetchKeys(keys, prefetchValue)
}

// PrefetchMembers reads ahead, for pipelined commands on keys[i] naming a
// member or field members[i] (nil when a command has none), what looking
// the member up in a large hash or set will read. Only runs of commands on
// one key are worth it: the run shares one lookup of the key, done here
// ahead of them, where a single command's lookup would only be done twice.
func (db *DB) PrefetchMembers(keys, members [][]byte) uintptr {
	var sink uintptr
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && string(keys[j]) == string(keys[i]) {
			j++
		}
		if j-i < 2 {
			i = j
			continue
		}
		if v := db.Peek(unsafe.String(unsafe.SliceData(keys[i]), len(keys[i]))); v != nil {
			switch v.typ {
			case TypeHash:
				sink += v.Hash().Prefetch(members[i:j])
			case TypeSet:
				sink += v.Set().Prefetch(members[i:j])
			}
		}
		i = j
	}
	return sink
}

// prefetchValue reads the first byte a value points to: a string's bytes
// or a collection's header.
func prefetchValue(v *Value) uintptr {
	if v.ptr == nil {
		return 0
	}
	return uintptr(*(*byte)(v.ptr))
}
