package keyspace

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vigilkv/vigil/node/types"
)

// Reading ahead touches memory only: every kind of key, present or not,
// with or without members, leaves the data as it was.
func TestPrefetchLeavesDataAlone(t *testing.T) {
	now := time.Unix(1700000000, 0)
	ks := New(1, func() time.Time { return now }, rand.New(rand.NewPCG(1, 2)))
	db := ks.DBs[0]
	h := types.NewHash()
	s := types.NewHashSet()
	for i := 0; i < 1000; i++ {
		f := []byte(fmt.Sprintf("f%d", i))
		h.Set(f, f, 128, 64) // converts to a dict past 128 fields
		s.Add(f, 512)
	}
	if h.Encoding() != "hashtable" || s.Encoding() != "hashtable" {
		t.Fatalf("encodings %s, %s: the test needs hashtables", h.Encoding(), s.Encoding())
	}
	db.Add("h", NewHash(h))
	db.Add("s", NewSet(s))
	db.Add("small", NewHash(types.NewHash()))
	db.Add("str", NewString("v"))
	b := func(ss ...string) [][]byte {
		out := make([][]byte, len(ss))
		for i, x := range ss {
			if x != "-" {
				out[i] = []byte(x)
			}
		}
		return out
	}
	keys := b("h", "h", "s", "s", "s", "small", "str", "missing", "h")
	members := b("f1", "nope", "f2", "-", "f999", "x", "-", "y", "f3")
	db.Prefetch(keys)
	db.PrefetchMembers(keys, members)
	if db.Len() != 4 || h.Len() != 1000 || s.Len() != 1000 {
		t.Fatalf("after reading ahead: %d keys, hash %d fields, set %d members", db.Len(), h.Len(), s.Len())
	}
}
