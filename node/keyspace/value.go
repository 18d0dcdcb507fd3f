package keyspace

import (
	"strconv"
	"unsafe"

	"github.com/vigilkv/vigil/node/types"
)

// Type is a value's Redis type.
type Type uint8

// Value types, in Redis's TYPE names.
const (
	TypeString Type = iota
	TypeList
	TypeSet
	TypeZSet
	TypeHash
)

// String is the name TYPE replies with.
func (t Type) String() string {
	switch t {
	case TypeString:
		return "string"
	case TypeList:
		return "list"
	case TypeSet:
		return "set"
	case TypeZSet:
		return "zset"
	case TypeHash:
		return "hash"
	}
	return "none"
}

// ParseType parses a TYPE name (for SCAN ... TYPE).
func ParseType(s string) (Type, bool) {
	for t := TypeString; t <= TypeHash; t++ {
		if t.String() == s {
			return t, true
		}
	}
	return 0, false
}

const (
	// flagRawString marks a string that was modified in place (APPEND,
	// SETRANGE, SETBIT): stored as a growable buffer, reported as "raw".
	flagRawString uint8 = 1 << iota
)

// Value is one key's value plus its eviction metadata. The keyspace holds
// millions of these, so it is kept to 24 bytes: a pointer to the string's
// bytes or to the collection, the string length (for collections, the
// cached memory estimate), the LRU/LFU word, the type, flags, and the
// generation of the last snapshot that has emitted it.
type Value struct {
	ptr   unsafe.Pointer
	n     uint32
	lru   uint32
	typ   Type
	flags uint8
	gen   uint16
}

type rawString struct{ b []byte }

// NewString makes a string value. s must not alias reused memory.
func NewString(s string) Value {
	return Value{ptr: unsafe.Pointer(unsafe.StringData(s)), n: uint32(len(s)), typ: TypeString}
}

// NewRawString makes a growable string value that owns b.
func NewRawString(b []byte) Value {
	return Value{ptr: unsafe.Pointer(&rawString{b: b}), n: uint32(len(b)), typ: TypeString, flags: flagRawString}
}

// NewList wraps a list.
func NewList(l *types.List) Value { return Value{ptr: unsafe.Pointer(l), typ: TypeList} }

// NewHash wraps a hash.
func NewHash(h *types.Hash) Value { return Value{ptr: unsafe.Pointer(h), typ: TypeHash} }

// NewSet wraps a set.
func NewSet(s *types.Set) Value { return Value{ptr: unsafe.Pointer(s), typ: TypeSet} }

// NewZSet wraps a sorted set.
func NewZSet(z *types.ZSet) Value { return Value{ptr: unsafe.Pointer(z), typ: TypeZSet} }

// Type is the value's type.
func (v *Value) Type() Type { return v.typ }

// Str returns a string value's bytes as a string. For a raw (in-place
// modified) string the result aliases the buffer: it is valid until the
// key is next written.
func (v *Value) Str() string {
	if v.flags&flagRawString != 0 {
		r := (*rawString)(v.ptr)
		return unsafe.String(unsafe.SliceData(r.b), len(r.b))
	}
	if v.n == 0 {
		return ""
	}
	return unsafe.String((*byte)(v.ptr), int(v.n))
}

// Bytes returns a string value's bytes; like Str, they must not be modified
// or retained past the next write of the key.
func (v *Value) Bytes() []byte {
	if v.flags&flagRawString != 0 {
		return (*rawString)(v.ptr).b
	}
	if v.n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(v.ptr), int(v.n))
}

// MutableBytes converts a string value to its growable form (if needed) and
// returns a pointer to its buffer for in-place modification. Callers must
// call DB.SignalModified afterwards.
func (v *Value) MutableBytes() *[]byte {
	if v.flags&flagRawString == 0 {
		b := make([]byte, v.n, max(int(v.n), 8))
		copy(b, v.Bytes())
		// Keep the cached cost equal to the plain string's until
		// SignalModified re-measures it, so accounting stays balanced.
		cost := sizeClass(int(v.n))
		v.ptr = unsafe.Pointer(&rawString{b: b})
		v.flags |= flagRawString
		v.n = uint32(cost)
	}
	return &(*rawString)(v.ptr).b
}

// IsRaw reports whether a string is stored in its growable form.
func (v *Value) IsRaw() bool { return v.flags&flagRawString != 0 }

// List returns the list, or nil if the value is not one.
func (v *Value) List() *types.List {
	if v.typ != TypeList {
		return nil
	}
	return (*types.List)(v.ptr)
}

// Hash returns the hash, or nil if the value is not one.
func (v *Value) Hash() *types.Hash {
	if v.typ != TypeHash {
		return nil
	}
	return (*types.Hash)(v.ptr)
}

// Set returns the set, or nil if the value is not one.
func (v *Value) Set() *types.Set {
	if v.typ != TypeSet {
		return nil
	}
	return (*types.Set)(v.ptr)
}

// ZSet returns the sorted set, or nil if the value is not one.
func (v *Value) ZSet() *types.ZSet {
	if v.typ != TypeZSet {
		return nil
	}
	return (*types.ZSet)(v.ptr)
}

// Encoding is what OBJECT ENCODING reports.
func (v *Value) Encoding() string {
	switch v.typ {
	case TypeString:
		if v.flags&flagRawString != 0 {
			return "raw"
		}
		if IsIntEncodable(v.Str()) {
			return "int"
		}
		if v.n <= 44 {
			return "embstr"
		}
		return "raw"
	case TypeList:
		return v.List().Encoding()
	case TypeHash:
		return v.Hash().Encoding()
	case TypeSet:
		return v.Set().Encoding()
	case TypeZSet:
		return v.ZSet().Encoding()
	}
	return "unknown"
}

// Len is a collection's element count, or a string's length.
func (v *Value) Len() int {
	switch v.typ {
	case TypeString:
		return len(v.Str())
	case TypeList:
		return v.List().Len()
	case TypeHash:
		return v.Hash().Len()
	case TypeSet:
		return v.Set().Len()
	case TypeZSet:
		return v.ZSet().Len()
	}
	return 0
}

// IsIntEncodable reports whether Redis would store s as an integer: a
// canonical int64 of at most 20 characters.
func IsIntEncodable(s string) bool {
	if len(s) == 0 || len(s) > 20 {
		return false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return false
	}
	var buf [20]byte
	return string(strconv.AppendInt(buf[:0], n, 10)) == s
}

// sizeClass rounds an allocation up the way Go's allocator does (roughly),
// so memory estimates track what the process really holds.
func sizeClass(n int) int {
	switch {
	case n <= 0:
		return 0
	case n <= 8:
		return 8
	case n <= 16:
		return 16
	case n <= 128:
		return (n + 15) &^ 15
	case n <= 1024:
		return (n + 127) &^ 127
	case n <= 32768:
		return (n + 1023) &^ 1023
	default:
		return (n + 8191) &^ 8191
	}
}

// SizeClass exposes the allocation rounding to collection code.
func SizeClass(n int) int { return sizeClass(n) }

const entryOverhead = 48 + 8 // dict entry + its share of the bucket array

// memoryUsage estimates the bytes key and value occupy.
func (v *Value) memoryUsage(key string) int {
	n := entryOverhead + sizeClass(len(key))
	switch v.typ {
	case TypeString:
		if v.flags&flagRawString != 0 {
			n += 32 + sizeClass(cap((*rawString)(v.ptr).b))
		} else {
			n += sizeClass(int(v.n))
		}
	case TypeList:
		n += v.List().MemoryUsage()
	case TypeHash:
		n += v.Hash().MemoryUsage()
	case TypeSet:
		n += v.Set().MemoryUsage()
	case TypeZSet:
		n += v.ZSet().MemoryUsage()
	}
	return n
}

// MemoryUsage estimates the bytes key and value occupy (MEMORY USAGE).
func (v *Value) MemoryUsage(key string) int { return v.memoryUsage(key) }
