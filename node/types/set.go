package types

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/vigilkv/vigil/node/dict"
)

// Set is a Redis set. While every member is an integer and there are at
// most set-max-intset-entries of them it is an intset (a sorted array of
// integers, OBJECT ENCODING "intset"); otherwise, for good, a dict of
// members ("hashtable"), as in redis 7.0.
type Set struct {
	ints intset    // intset encoding, while t is nil
	t    *setTable // hashtable encoding
}

// setTable is a hashtable-encoded set; kept apart so the common small
// intset costs only the Set header and its bytes.
type setTable struct {
	d   *dict.Dict[struct{}]
	mem int
}

const (
	setStructSize    = 24
	setEntryOverhead = 48
)

// NewSet returns an empty intset-encoded set.
func NewSet() *Set { return &Set{} }

// NewHashSet returns an empty hashtable-encoded set (for members that are
// not integers).
func NewHashSet() *Set { return &Set{t: &setTable{d: dict.New[struct{}]()}} }

func (s *Set) isIntset() bool { return s.t == nil }

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
		return s.ints.len()
	}
	return s.t.d.Len()
}

// MemoryUsage estimates the bytes held.
func (s *Set) MemoryUsage() int {
	if s.isIntset() {
		return setStructSize + allocClass(len(s.ints))
	}
	return setStructSize + s.t.mem + s.t.d.Buckets()*8
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
	for i := range s.ints.len() {
		m := strconv.FormatInt(s.ints.get(i), 10)
		d.Insert(m, struct{}{})
		mem += setEntryOverhead + len(m)
	}
	s.ints = ""
	s.t = &setTable{d: d, mem: mem}
}

// Add inserts m and reports whether it was new; maxIntset is
// set-max-intset-entries.
func (s *Set) Add(m []byte, maxIntset int) bool {
	if s.isIntset() {
		if v, ok := parseSetInt(m); ok {
			i, found := s.ints.search(v)
			if found {
				return false
			}
			if s.ints.len() < maxIntset {
				s.ints = s.ints.insert(i, v)
				return true
			}
		}
		s.convert()
	}
	if s.t.d.Ref(bytesStr(m)) != nil {
		return false
	}
	ms := string(m)
	s.t.d.Insert(ms, struct{}{})
	s.t.mem += setEntryOverhead + len(ms)
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
			if _, found := s.ints.search(v); !found {
				vals = append(vals, v)
			}
		}
		if vals != nil {
			slices.Sort(vals)
			vals = slices.Compact(vals)
			if s.ints.len()+len(vals) <= maxIntset {
				s.ints = s.ints.merge(vals)
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
		i, found := s.ints.search(v)
		if !found {
			return false
		}
		s.ints = s.ints.remove(i)
		return true
	}
	if _, ok := s.t.d.Delete(bytesStr(m)); !ok {
		return false
	}
	s.t.mem -= setEntryOverhead + len(m)
	return true
}

// Contains reports whether m is a member.
func (s *Set) Contains(m []byte) bool {
	if s.isIntset() {
		v, ok := parseSetInt(m)
		if !ok {
			return false
		}
		_, found := s.ints.search(v)
		return found
	}
	return s.t.d.Ref(bytesStr(m)) != nil
}

// ForEach visits every member until fn returns false (intsets in order).
func (s *Set) ForEach(fn func(m string) bool) {
	if s.isIntset() {
		for i := range s.ints.len() {
			if !fn(strconv.FormatInt(s.ints.get(i), 10)) {
				return
			}
		}
		return
	}
	s.t.d.ForEach(func(k string, _ *struct{}) bool { return fn(k) })
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
	return s.t.d.Scan(cursor, func(k string, _ *struct{}) { fn(k) })
}

// Random returns a uniformly chosen member; the set must not be empty.
func (s *Set) Random(r *rand.Rand) string {
	if s.isIntset() {
		return strconv.FormatInt(s.ints.get(r.IntN(s.ints.len())), 10)
	}
	k, _, _ := s.t.d.RandomKey(r)
	return k
}

// Clone returns an independent copy.
func (s *Set) Clone() *Set {
	if s.isIntset() {
		return &Set{ints: s.ints} // immutable: shared safely
	}
	c := NewHashSet()
	s.t.d.ForEach(func(k string, _ *struct{}) bool {
		c.t.d.Insert(k, struct{}{})
		return true
	})
	c.t.mem = s.t.mem
	return c
}

// RehashSome does a bounded amount of incremental rehashing.
func (s *Set) RehashSome(n int) bool {
	if s.isIntset() {
		return false
	}
	return s.t.d.RehashSome(n)
}

// IntsetBytes returns the intset in Redis's serialized layout (encoding
// width, length, little-endian sorted integers), or false if the set is
// not an intset. The bytes alias the set.
func (s *Set) IntsetBytes() ([]byte, bool) {
	if !s.isIntset() {
		return nil, false
	}
	if s.ints == "" {
		return []byte{2, 0, 0, 0, 0, 0, 0, 0}, true
	}
	return s.ints.view(), true
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
	return &Set{ints: intset(b)}, nil
}
