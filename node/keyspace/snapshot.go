package keyspace

import "github.com/vigilkv/vigil/node/dict"

// A point-in-time snapshot without fork (BGSAVE, the AOF rewrite base, a
// replica's full sync). The snapshot walks the dicts as they were when it
// began, a few buckets at a time under the server lock; a write that is
// about to change, expire or delete a key the walk has not reached yet
// first hands the key's current value to Preserve. Each value carries the
// generation of the last snapshot that has seen it, so every key is
// emitted exactly once, either by the walk or by Preserve, and keys
// created during the snapshot (which carry the current generation) are
// not emitted at all. Memory overhead is what Preserve holds: proportional
// to the keys written during the snapshot, not to the dataset.

// PreserveFunc receives a key's value as of the snapshot's start, just
// before a write changes it. db is the database the key was in when the
// snapshot began; expireMs is its absolute TTL or -1. v is only valid
// during the call.
type PreserveFunc func(db int, key string, v *Value, expireMs int64)

type snapDB struct {
	keys    *dict.Dict[Value]
	expires *dict.Dict[int64]
}

// Snapshot is a running snapshot. Its methods must be called under the
// same lock as every other keyspace access.
type Snapshot struct {
	ks       *Keyspace
	gen      uint16
	dbs      []snapDB
	origin   map[*dict.Dict[Value]]int
	preserve PreserveFunc
	done     bool
}

// BeginSnapshot starts a snapshot of the whole keyspace. Only one may run
// at a time.
func (ks *Keyspace) BeginSnapshot(preserve PreserveFunc) *Snapshot {
	if ks.snap != nil {
		panic("keyspace: snapshot already running")
	}
	if ks.snapGen == 1<<16-1 {
		// The generation would wrap and could collide with a value's stale
		// one: reset every value first (once per 65535 snapshots).
		for _, db := range ks.DBs {
			db.keys.ForEach(func(_ string, v *Value) bool { v.gen = 0; return true })
		}
		ks.snapGen = 0
	}
	ks.snapGen++
	s := &Snapshot{ks: ks, gen: ks.snapGen, preserve: preserve, origin: make(map[*dict.Dict[Value]]int, len(ks.DBs))}
	for i, db := range ks.DBs {
		s.dbs = append(s.dbs, snapDB{db.keys, db.expires})
		s.origin[db.keys] = i
	}
	ks.snap = s
	return s
}

// SnapshotRunning reports whether a snapshot is in progress.
func (ks *Keyspace) SnapshotRunning() bool { return ks.snap != nil }

// DBs is the number of databases in the snapshot.
func (s *Snapshot) DBs() int { return len(s.dbs) }

// Sizes are database i's key and TTL counts now (RESIZEDB's hint).
func (s *Snapshot) Sizes(i int) (keys, expires int) {
	return s.dbs[i].keys.Len(), s.dbs[i].expires.Len()
}

// Scan advances the walk of database i from cursor, calling fn for each
// key not emitted yet, and returns the next cursor (0: database done).
func (s *Snapshot) Scan(i int, cursor uint64, fn func(key string, v *Value, expireMs int64)) uint64 {
	d := s.dbs[i]
	return d.keys.Scan(cursor, func(key string, v *Value) {
		if v.gen == s.gen {
			return
		}
		v.gen = s.gen
		fn(key, v, expireOf(d.expires, key))
	})
}

// Ended reports whether the snapshot was ended (possibly by
// AbortSnapshot while its walk was between steps).
func (s *Snapshot) Ended() bool { return s.done }

// AbortSnapshot ends the running snapshot, if any (SHUTDOWN and DEBUG
// RELOAD need a snapshot of their own); its walk notices on its next step.
func (ks *Keyspace) AbortSnapshot() {
	if ks.snap != nil {
		ks.snap.End()
	}
}

// End finishes the snapshot; writes stop preserving values.
func (s *Snapshot) End() {
	if s.done {
		return
	}
	s.done = true
	s.ks.snap = nil
}

func expireOf(expires *dict.Dict[int64], key string) int64 {
	if expires.Len() == 0 {
		return -1
	}
	if when, ok := expires.Get(key); ok {
		return when
	}
	return -1
}

// beforeWrite hands a key's value to a running snapshot before it is
// changed, if the snapshot has not emitted it yet.
func (db *DB) beforeWrite(key string, v *Value) {
	s := db.ks.snap
	if s == nil || v == nil || v.gen == s.gen {
		return
	}
	v.gen = s.gen
	if i, ok := s.origin[db.keys]; ok {
		s.preserve(i, key, v, expireOf(db.expires, key))
	}
}

// currentGen is the generation a new value gets: the running snapshot's
// (so it is not emitted) or the last one's (so the next one emits it).
func (ks *Keyspace) currentGen() uint16 { return ks.snapGen }
