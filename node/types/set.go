package types

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"unsafe"

	"github.com/vigilkv/vigil/node/dict"
)

// Set is a Redis set. While every member is an integer and there are at
// most set-max-intset-entries of them it is an intset (a sorted array of
// integers, OBJECT ENCODING "intset"); otherwise, for good, a dict of
// members ("hashtable"), as in redis 7.0.
type Set struct {
	// p is the intset's bytes (n of them) or, with table set, the
	// *setTable: one word instead of a string header and a pointer, so a
	// small set's header takes 16 bytes (sets of 10 integers were 1.31x
	// Redis's memory with 24).
	p     unsafe.Pointer
	n     uint32
	table bool
}

// intset is the intset encoding's bytes; only without table.
func (s *Set) intset() intset {
	if s.n == 0 {
		return ""
	}
	return intset(unsafe.String((*byte)(s.p), s.n))
}

// setInts replaces the intset.
func (s *Set) setInts(is intset) {
	s.p, s.n = unsafe.Pointer(unsafe.StringData(string(is))), uint32(len(is))
}

// tbl is the hashtable encoding; only with table.
func (s *Set) tbl() *setTable { return (*setTable)(s.p) }

// setTable switches s to the hashtable encoding t.
func (s *Set) setTable(t *setTable) { s.p, s.n, s.table = unsafe.Pointer(t), 0, true }

// setTable is a hashtable-encoded set; kept apart so the common small
// intset costs only the Set header and its bytes.
type setTable struct {
	d   *dict.Dict[struct{}]
	mem int
}

const (
	setStructSize    = 16
	setEntryOverhead = 48
)

// NewSet returns an empty intset-encoded set.
func NewSet() *Set { return &Set{} }

// NewHashSet returns an empty hashtable-encoded set (for members that are
// not integers).
func NewHashSet() *Set {
	s := &Set{}
	s.setTable(&setTable{d: dict.New[struct{}]()})
	return s
}

func (s *Set) isIntset() bool { return !s.table }

// Prefetch reads ahead what looking these members up will read (see
// dict.PrefetchKeys); an intset is one small block and needs none.
func (s *Set) Prefetch(members [][]byte) uintptr {
	if !s.table {
		return 0
	}
	return s.tbl().d.PrefetchKeys(members, nil)
}

// Encoding is what OBJECT ENCODING reports.
func (s *Set) Encoding() string {
	if s.isIntset() {
		return "intset"
	}
	return "hashtable"
}

// Len is the number of members.
func (s *Set) Len() int {
	if s.isIntset() {
		return s.intset().len()
	}
	return s.tbl().d.Len()
}

// MemoryUsage estimates the bytes held.
func (s *Set) MemoryUsage() int {
	if s.isIntset() {
		return setStructSize + allocClass(len(s.intset()))
	}
	return setStructSize + s.tbl().mem + s.tbl().d.Buckets()*8
}

// parseSetInt reports whether m is the canonical form of an int64.
func parseSetInt(m []byte) (int64, bool) {
	if len(m) == 0 || len(m) > 20 {
		return 0, false
	}
	v, err := strconv.ParseInt(bytesStr(m), 10, 64)
	if err != nil {
		return 0, false
	}
	// Only the canonical form is an integer member ("01" is a string).
	var buf [20]byte
	if string(strconv.AppendInt(buf[:0], v, 10)) != bytesStr(m) {
		return 0, false
	}
	return v, true
}

func (s *Set) convert() {
	d := dict.New[struct{}]()
	mem := 0
	for i := range s.intset().len() {
		m := strconv.FormatInt(s.intset().get(i), 10)
		d.Insert(m, struct{}{})
		mem += setEntryOverhead + len(m)
	}
	s.setTable(&setTable{d: d, mem: mem})
}

// Add inserts m and reports whether it was new; maxIntset is
// set-max-intset-entries.
func (s *Set) Add(m []byte, maxIntset int) bool {
	if s.isIntset() {
		if v, ok := parseSetInt(m); ok {
			i, found := s.intset().search(v)
			if found {
				return false
			}
			if s.intset().len() < maxIntset {
				s.setInts(s.intset().insert(i, v))
				return true
			}
		}
		s.convert()
	}
	if s.tbl().d.Ref(bytesStr(m)) != nil {
		return false
	}
	ms := string(m)
	s.tbl().d.Insert(ms, struct{}{})
	s.tbl().mem += setEntryOverhead + len(ms)
	return true
}

// AddMany inserts members and returns how many were new. Integers going
// into an intset are merged in one allocation rather than one per
// member (SADD of many members to a new set).
func (s *Set) AddMany(members [][]byte, maxIntset int) int {
	if s.isIntset() && len(members) > 1 {
		vals := make([]int64, 0, len(members))
		for _, m := range members {
			v, ok := parseSetInt(m)
			if !ok {
				vals = nil
				break
			}
			if _, found := s.intset().search(v); !found {
				vals = append(vals, v)
			}
		}
		if vals != nil {
			slices.Sort(vals)
			vals = slices.Compact(vals)
			if s.intset().len()+len(vals) <= maxIntset {
				s.setInts(s.intset().merge(vals))
				return len(vals)
			}
		}
	}
	added := 0
	for _, m := range members {
		if s.Add(m, maxIntset) {
			added++
		}
	}
	return added
}

// Remove deletes m and reports whether it was there.
func (s *Set) Remove(m []byte) bool {
	if s.isIntset() {
		v, ok := parseSetInt(m)
		if !ok {
			return false
		}
		i, found := s.intset().search(v)
		if !found {
			return false
		}
		s.setInts(s.intset().remove(i))
		return true
	}
	if _, ok := s.tbl().d.Delete(bytesStr(m)); !ok {
		return false
	}
	s.tbl().mem -= setEntryOverhead + len(m)
	return true
}

// Contains reports whether m is a member.
func (s *Set) Contains(m []byte) bool {
	if s.isIntset() {
		v, ok := parseSetInt(m)
		if !ok {
			return false
		}
		_, found := s.intset().search(v)
		return found
	}
	return s.tbl().d.Ref(bytesStr(m)) != nil
}

// ForEach visits every member until fn returns false (intsets in order).
func (s *Set) ForEach(fn func(m string) bool) {
	if s.isIntset() {
		for i := range s.intset().len() {
			if !fn(strconv.FormatInt(s.intset().get(i), 10)) {
				return
			}
		}
		return
	}
	s.tbl().d.ForEach(func(k string, _ *struct{}) bool { return fn(k) })
}

// Members returns every member (SORT, SMEMBERS).
func (s *Set) Members() []string {
	out := make([]string, 0, s.Len())
	s.ForEach(func(m string) bool { out = append(out, m); return true })
	return out
}

// Scan advances an SSCAN cursor; an intset is returned whole.
func (s *Set) Scan(cursor uint64, fn func(m string)) uint64 {
	if s.isIntset() {
		s.ForEach(func(m string) bool { fn(m); return true })
		return 0
	}
	return s.tbl().d.Scan(cursor, func(k string, _ *struct{}) { fn(k) })
}

// Random returns a uniformly chosen member; the set must not be empty.
func (s *Set) Random(r *rand.Rand) string {
	if s.isIntset() {
		return strconv.FormatInt(s.intset().get(r.IntN(s.intset().len())), 10)
	}
	k, _, _ := s.tbl().d.RandomKey(r)
	return k
}

// Clone returns an independent copy.
func (s *Set) Clone() *Set {
	if s.isIntset() {
		return &Set{p: s.p, n: s.n} // immutable: shared safely
	}
	c := NewHashSet()
	s.tbl().d.ForEach(func(k string, _ *struct{}) bool {
		c.tbl().d.Insert(k, struct{}{})
		return true
	})
	c.tbl().mem = s.tbl().mem
	return c
}

// RehashSome does a bounded amount of incremental rehashing.
func (s *Set) RehashSome(n int) bool {
	if s.isIntset() {
		return false
	}
	return s.tbl().d.RehashSome(n)
}

// IntsetBytes returns the intset in Redis's serialized layout (encoding
// width, length, little-endian sorted integers), or false if the set is
// not an intset. The bytes alias the set.
func (s *Set) IntsetBytes() ([]byte, bool) {
	if !s.isIntset() {
		return nil, false
	}
	if s.intset() == "" {
		return []byte{2, 0, 0, 0, 0, 0, 0, 0}, true
	}
	return s.intset().view(), true
}

// ErrBadIntset reports a malformed serialized intset.
var ErrBadIntset = errors.New("invalid intset")

// SetFromIntset adopts a copy of a serialized intset (RDB, RESTORE) after
// validating it: a known width, a matching length, strictly ascending
// members.
func SetFromIntset(b []byte) (*Set, error) {
	if !validIntset(b) {
		return nil, ErrBadIntset
	}
	st := &Set{}
	st.setInts(intset(b))
	return st, nil
}
