package types

import (
	"encoding/binary"
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
	ints []int64 // intset encoding, while d is nil
	d    *dict.Dict[struct{}]
	mem  int
}

const (
	setStructSize     = 48
	setEntryOverhead  = 48
	intsetElementSize = 8
)

// NewSet returns an empty intset-encoded set.
func NewSet() *Set { return &Set{} }

// NewHashSet returns an empty hashtable-encoded set (for members that are
// not integers).
func NewHashSet() *Set { return &Set{d: dict.New[struct{}]()} }

func (s *Set) isIntset() bool { return s.d == nil }

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
		return len(s.ints)
	}
	return s.d.Len()
}

// MemoryUsage estimates the bytes held.
func (s *Set) MemoryUsage() int {
	if s.isIntset() {
		return setStructSize + cap(s.ints)*intsetElementSize
	}
	return setStructSize + s.mem + s.d.Buckets()*8
}

// parseSetInt reports whether m is the canonical form of an int64.
func parseSetInt(m []byte) (int64, bool) {
	if len(m) == 0 || len(m) > 20 {
		return 0, false
	}
	v, err := strconv.ParseInt(string(m), 10, 64)
	if err != nil || strconv.FormatInt(v, 10) != string(m) {
		return 0, false
	}
	return v, true
}

func (s *Set) convert() {
	d := dict.New[struct{}]()
	for _, v := range s.ints {
		m := strconv.FormatInt(v, 10)
		d.Insert(m, struct{}{})
		s.mem += setEntryOverhead + len(m)
	}
	s.ints = nil
	s.d = d
}

// Add inserts m and reports whether it was new; maxIntset is
// set-max-intset-entries.
func (s *Set) Add(m []byte, maxIntset int) bool {
	if s.isIntset() {
		if v, ok := parseSetInt(m); ok {
			i, found := slices.BinarySearch(s.ints, v)
			if found {
				return false
			}
			if len(s.ints) < maxIntset {
				s.ints = slices.Insert(s.ints, i, v)
				return true
			}
		}
		s.convert()
	}
	if s.d.Ref(bytesStr(m)) != nil {
		return false
	}
	ms := string(m)
	s.d.Insert(ms, struct{}{})
	s.mem += setEntryOverhead + len(ms)
	return true
}

// Remove deletes m and reports whether it was there.
func (s *Set) Remove(m []byte) bool {
	if s.isIntset() {
		v, ok := parseSetInt(m)
		if !ok {
			return false
		}
		i, found := slices.BinarySearch(s.ints, v)
		if !found {
			return false
		}
		s.ints = slices.Delete(s.ints, i, i+1)
		return true
	}
	if _, ok := s.d.Delete(bytesStr(m)); !ok {
		return false
	}
	s.mem -= setEntryOverhead + len(m)
	return true
}

// Contains reports whether m is a member.
func (s *Set) Contains(m []byte) bool {
	if s.isIntset() {
		v, ok := parseSetInt(m)
		if !ok {
			return false
		}
		_, found := slices.BinarySearch(s.ints, v)
		return found
	}
	return s.d.Ref(bytesStr(m)) != nil
}

// ForEach visits every member until fn returns false (intsets in order).
func (s *Set) ForEach(fn func(m string) bool) {
	if s.isIntset() {
		for _, v := range s.ints {
			if !fn(strconv.FormatInt(v, 10)) {
				return
			}
		}
		return
	}
	s.d.ForEach(func(k string, _ *struct{}) bool { return fn(k) })
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
	return s.d.Scan(cursor, func(k string, _ *struct{}) { fn(k) })
}

// Random returns a uniformly chosen member; the set must not be empty.
func (s *Set) Random(r *rand.Rand) string {
	if s.isIntset() {
		return strconv.FormatInt(s.ints[r.IntN(len(s.ints))], 10)
	}
	k, _, _ := s.d.RandomKey(r)
	return k
}

// Clone returns an independent copy.
func (s *Set) Clone() *Set {
	if s.isIntset() {
		return &Set{ints: slices.Clone(s.ints)}
	}
	c := NewHashSet()
	s.d.ForEach(func(k string, _ *struct{}) bool {
		c.d.Insert(k, struct{}{})
		return true
	})
	c.mem = s.mem
	return c
}

// RehashSome does a bounded amount of incremental rehashing.
func (s *Set) RehashSome(n int) bool {
	if s.isIntset() {
		return false
	}
	return s.d.RehashSome(n)
}

// IntsetBytes returns the intset in Redis's serialized layout (encoding
// width, length, little-endian sorted integers), or false if the set is
// not an intset.
func (s *Set) IntsetBytes() ([]byte, bool) {
	if !s.isIntset() {
		return nil, false
	}
	width := 2
	for _, v := range s.ints {
		switch {
		case v < -1<<31 || v > 1<<31-1:
			width = 8
		case (v < -1<<15 || v > 1<<15-1) && width < 4:
			width = 4
		}
	}
	b := make([]byte, 8, 8+width*len(s.ints))
	binary.LittleEndian.PutUint32(b, uint32(width))
	binary.LittleEndian.PutUint32(b[4:], uint32(len(s.ints)))
	for _, v := range s.ints {
		switch width {
		case 2:
			b = binary.LittleEndian.AppendUint16(b, uint16(int16(v)))
		case 4:
			b = binary.LittleEndian.AppendUint32(b, uint32(int32(v)))
		default:
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
	}
	return b, true
}

// ErrBadIntset reports a malformed serialized intset.
var ErrBadIntset = errors.New("invalid intset")

// SetFromIntset decodes and validates a serialized intset (RDB, RESTORE):
// a known width, a matching length, strictly ascending members.
func SetFromIntset(b []byte) (*Set, error) {
	if len(b) < 8 {
		return nil, ErrBadIntset
	}
	width := int(binary.LittleEndian.Uint32(b))
	n := int(binary.LittleEndian.Uint32(b[4:]))
	if (width != 2 && width != 4 && width != 8) || n <= 0 || len(b) != 8+width*n {
		return nil, ErrBadIntset
	}
	ints := make([]int64, n)
	for i := 0; i < n; i++ {
		p := b[8+i*width:]
		switch width {
		case 2:
			ints[i] = int64(int16(binary.LittleEndian.Uint16(p)))
		case 4:
			ints[i] = int64(int32(binary.LittleEndian.Uint32(p)))
		default:
			ints[i] = int64(binary.LittleEndian.Uint64(p))
		}
		if i > 0 && ints[i] <= ints[i-1] {
			return nil, ErrBadIntset
		}
	}
	return &Set{ints: ints}, nil
}
