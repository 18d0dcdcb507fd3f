package keyspace

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"
)

type snapEntry struct {
	val    string
	expire int64
}

func dumpKeyspace(ks *Keyspace) map[string]snapEntry {
	out := map[string]snapEntry{}
	for i, db := range ks.DBs {
		db.ForEach(func(k string, v *Value) bool {
			when, ok := db.Expire(k)
			if !ok {
				when = -1
			}
			out[fmt.Sprint(i, "/", k)] = snapEntry{string(v.Bytes()), when}
			return true
		})
	}
	return out
}

// TestSnapshotIsPointInTime interleaves a snapshot's walk with random
// writes, deletes, TTL changes, renames, moves, flushes and SWAPDBs, and
// checks that what the walk and Preserve emitted together is exactly the
// dataset as of the snapshot's start, each key once.
func TestSnapshotIsPointInTime(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 99))
			now := time.UnixMilli(1_000_000)
			ks := New(4, func() time.Time { return now }, rand.New(rand.NewPCG(seed, 1)))
			key := func() string { return fmt.Sprint("k", r.IntN(400)) }
			for i := 0; i < 1500; i++ {
				db := ks.DBs[r.IntN(4)]
				db.Set(key(), NewString(fmt.Sprint("v", i)), false)
			}
			for i := 0; i < 200; i++ {
				db := ks.DBs[r.IntN(4)]
				k := key()
				if db.Peek(k) != nil {
					db.SetExpire(k, now.UnixMilli()+int64(r.IntN(5000)))
				}
			}
			want := dumpKeyspace(ks)
			got := map[string]snapEntry{}
			emit := func(db int, k string, v *Value, when int64) {
				id := fmt.Sprint(db, "/", k)
				if _, dup := got[id]; dup {
					t.Fatalf("%s emitted twice", id)
				}
				got[id] = snapEntry{string(v.Bytes()), when}
			}
			snap := ks.BeginSnapshot(emit)
			cursors := make([]uint64, snap.DBs())
			started := make([]bool, snap.DBs())
			for step := 0; ; step++ {
				// A few writes between walk steps.
				for w := 0; w < 3; w++ {
					ks.UpdateTime()
					db := ks.DBs[r.IntN(4)]
					k := key()
					switch r.IntN(12) {
					case 0, 1, 2:
						db.Set(k, NewString(fmt.Sprint("new", step)), r.IntN(2) == 0)
					case 3, 4:
						db.Delete(k)
					case 5:
						if db.Peek(k) != nil {
							db.SetExpire(k, now.UnixMilli()+int64(r.IntN(3000)))
						}
					case 6:
						db.Persist(k)
					case 7:
						if v := db.LookupWrite(k); v != nil {
							// Modified in place.
							b := v.MutableBytes()
							*b = append(*b, '!')
							db.SignalModified(k)
						}
					case 8:
						// RENAME
						if v := db.LookupWrite(k); v != nil {
							val := *v
							db.Delete(k)
							db.Set(key(), val, false)
						}
					case 9:
						// MOVE
						if v := db.LookupWrite(k); v != nil {
							val := *v
							other := ks.DBs[(db.ID+1)%4]
							if other.Peek(k) == nil {
								db.Delete(k)
								other.Add(k, val)
							}
						}
					case 10:
						if r.IntN(20) == 0 {
							db.Flush()
						}
					case 11:
						if r.IntN(20) == 0 {
							db.SwapContents(ks.DBs[(db.ID+1)%4])
						}
					}
				}
				now = now.Add(time.Duration(r.IntN(50)) * time.Millisecond)
				i := -1
				for j := range cursors {
					if !started[j] || cursors[j] != 0 {
						i = j
						break
					}
				}
				if i < 0 {
					break
				}
				started[i] = true
				cursors[i] = snap.Scan(i, cursors[i], func(k string, v *Value, when int64) { emit(i, k, v, when) })
			}
			snap.End()
			if !maps.Equal(got, want) {
				for k, w := range want {
					if g, ok := got[k]; !ok || g != w {
						t.Errorf("%s: got %+v (present %v), want %+v", k, g, ok, w)
					}
				}
				for k := range got {
					if _, ok := want[k]; !ok {
						t.Errorf("%s emitted but created after the start", k)
					}
				}
				t.FailNow()
			}
		})
	}
}
