package types

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unsafe"
)

// Listpack byte format (Redis's listpack.c, byte for byte, so RDB and
// DUMP/RESTORE can copy listpacks as they are):
//
//	<total-bytes uint32 LE> <num-elements uint16 LE> <entry>... <0xFF>
//
// num-elements is 65535 when the count does not fit (then it is unknown
// and must be counted). Each entry is <encoding+data> <backlen>, where
// backlen is the size of <encoding+data> written so it can be read from
// its last byte backwards (7 bits per byte, the high bit set on every byte
// but the leftmost), which lets the listpack be walked in both directions.
// Encodings, by first byte:
//
//	0xxxxxxx                    7-bit unsigned int
//	10xxxxxx <data>             string of up to 63 bytes
//	110xxxxx yyyyyyyy           13-bit signed int
//	1110xxxx yyyyyyyy <data>    string of up to 4095 bytes
//	11110000 <len uint32 LE>    string of up to 2^32-1 bytes
//	11110001 <int16 LE>, 11110010 <int24 LE>, 11110011 <int32 LE>,
//	11110100 <int64 LE>         signed ints
//	11111111                    terminator
//
// A value that is a canonical int64 (as Redis's string2ll accepts it) is
// always stored in the smallest integer encoding.

const (
	lpHeaderSize    = 6
	lpEOF           = 0xFF
	lpNumeleUnknown = math.MaxUint16

	lpEnc6BitStr  = 0x80
	lpEnc13BitInt = 0xC0
	lpEnc12BitStr = 0xE0
	lpEnc32BitStr = 0xF0
	lpEnc16BitInt = 0xF1
	lpEnc24BitInt = 0xF2
	lpEnc32BitInt = 0xF3
	lpEnc64BitInt = 0xF4

	// ListpackMaxIntLen is the longest decimal form of an integer entry,
	// the buffer size GetBytes needs to format any integer.
	ListpackMaxIntLen = 20

	// listpackStructSize is the Listpack header (slice + count) for the
	// memory estimate.
	listpackStructSize = 32
)

// Listpack is a Redis listpack: a compact sequence of strings and integers
// in one byte slice, kept byte-identical to Redis's format. Entries are
// addressed by their byte offset ("position"); positions are invalidated
// by any modification except where a method returns a new one. A position
// of -1 means "no entry". Methods other than ListpackFromBytes and
// ValidateListpack assume the bytes are well-formed. The zero value is
// not usable: make listpacks with NewListpack.
type Listpack struct {
	b []byte
	n int // exact element count (the header saturates at 65535)
}

// NewListpack returns an empty listpack.
func NewListpack() *Listpack {
	b := make([]byte, lpHeaderSize+1, 16)
	binary.LittleEndian.PutUint32(b, lpHeaderSize+1)
	b[lpHeaderSize] = lpEOF
	return &Listpack{b: b}
}

// ListpackFromBytes adopts b (which must not be modified by the caller
// afterwards) as a listpack after a deep integrity check, for bytes loaded
// from an RDB file or a RESTORE payload.
func ListpackFromBytes(b []byte) (*Listpack, error) {
	n, err := validateListpack(b)
	if err != nil {
		return nil, err
	}
	return &Listpack{b: b[:len(b):len(b)], n: n}, nil
}

// ErrCorruptListpack is wrapped by every ValidateListpack error.
var ErrCorruptListpack = errors.New("corrupt listpack")

// ValidateListpack deeply checks untrusted bytes: header, every entry's
// encoding, lengths and backlen, the element count and the terminator. It
// never panics, whatever the input.
func ValidateListpack(b []byte) error {
	_, err := validateListpack(b)
	return err
}

func lpCorrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorruptListpack, fmt.Sprintf(format, args...))
}

func validateListpack(b []byte) (int, error) {
	if len(b) < lpHeaderSize+1 {
		return 0, lpCorrupt("too short (%d bytes)", len(b))
	}
	if total := binary.LittleEndian.Uint32(b); uint64(total) != uint64(len(b)) {
		return 0, lpCorrupt("header says %d bytes, have %d", total, len(b))
	}
	if b[len(b)-1] != lpEOF {
		return 0, lpCorrupt("missing terminator")
	}
	count := 0
	p := lpHeaderSize
	for b[p] != lpEOF {
		enc, ok := lpEncodedSizeChecked(b, p)
		if !ok {
			return 0, lpCorrupt("bad entry at offset %d", p)
		}
		end := p + enc + lpBacklenSize(enc) // offset after the entry
		if end > len(b)-1 {
			return 0, lpCorrupt("entry at offset %d overruns", p)
		}
		if v, ok := lpDecodeBacklen(b, end-1); !ok || v != uint64(enc) {
			return 0, lpCorrupt("bad backlen for entry at offset %d", p)
		}
		p = end
		count++
	}
	if p != len(b)-1 {
		return 0, lpCorrupt("terminator before the end")
	}
	// 65535 means "unknown" and is accepted for any count, as Redis's
	// lpLength recounts then.
	if h := binary.LittleEndian.Uint16(b[4:]); h != lpNumeleUnknown && int(h) != count {
		return 0, lpCorrupt("header says %d elements, have %d", h, count)
	}
	return count, nil
}

// lpEncodedSizeChecked is the size of the entry's encoding and data at p,
// reading only bytes that exist. ok is false for an invalid encoding or
// one whose length bytes run past the end.
func lpEncodedSizeChecked(b []byte, p int) (int, bool) {
	c := b[p]
	switch {
	case c&0x80 == 0:
		return 1, true
	case c&0xC0 == lpEnc6BitStr:
		return 1 + int(c&0x3F), true
	case c&0xE0 == lpEnc13BitInt:
		return 2, true
	case c&0xF0 == lpEnc12BitStr:
		if p+1 >= len(b) {
			return 0, false
		}
		return 2 + (int(c&0x0F)<<8 | int(b[p+1])), true
	case c == lpEnc32BitStr:
		if p+4 >= len(b) {
			return 0, false
		}
		return 5 + int(binary.LittleEndian.Uint32(b[p+1:])), true
	case c == lpEnc16BitInt:
		return 3, true
	case c == lpEnc24BitInt:
		return 4, true
	case c == lpEnc32BitInt:
		return 5, true
	case c == lpEnc64BitInt:
		return 9, true
	}
	return 0, false
}

// lpEncodedSize is lpEncodedSizeChecked for trusted bytes.
func lpEncodedSize(b []byte, p int) int {
	c := b[p]
	switch {
	case c&0x80 == 0:
		return 1
	case c&0xC0 == lpEnc6BitStr:
		return 1 + int(c&0x3F)
	case c&0xE0 == lpEnc13BitInt:
		return 2
	case c&0xF0 == lpEnc12BitStr:
		return 2 + (int(c&0x0F)<<8 | int(b[p+1]))
	case c == lpEnc32BitStr:
		return 5 + int(binary.LittleEndian.Uint32(b[p+1:]))
	case c == lpEnc16BitInt:
		return 3
	case c == lpEnc24BitInt:
		return 4
	case c == lpEnc32BitInt:
		return 5
	case c == lpEnc64BitInt:
		return 9
	}
	panic("listpack: invalid entry encoding")
}

// lpBacklenSize is how many bytes the backlen of an l-byte entry takes.
func lpBacklenSize(l int) int {
	switch {
	case l <= 127:
		return 1
	case l < 16383:
		return 2
	case l < 2097151:
		return 3
	case l < 268435455:
		return 4
	}
	return 5
}

// lpPutBacklen writes l's backlen at dst (which has room for it).
func lpPutBacklen(dst []byte, l int) int {
	n := lpBacklenSize(l)
	v := uint64(l)
	for i := n - 1; i >= 0; i-- {
		dst[i] = byte(v&127) | 128
		v >>= 7
	}
	dst[0] &= 127
	return n
}

// lpDecodeBacklen reads a backlen whose last byte is at p, the way Redis
// does (so it accepts exactly what Redis accepts).
func lpDecodeBacklen(b []byte, p int) (uint64, bool) {
	var v uint64
	shift := uint(0)
	for {
		if p < 0 {
			return 0, false
		}
		v |= uint64(b[p]&127) << shift
		if b[p]&128 == 0 {
			return v, true
		}
		shift += 7
		p--
		if shift > 28 {
			return 0, false
		}
	}
}

// lpEntrySize is the whole entry size at p (encoding, data and backlen).
func lpEntrySize(b []byte, p int) int {
	l := lpEncodedSize(b, p)
	return l + lpBacklenSize(l)
}

// lpParseInt is Redis's lpStringToInt64: strict, canonical decimal.
func lpParseInt(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) > 20 {
		return 0, false
	}
	if len(s) == 1 && s[0] == '0' {
		return 0, true
	}
	neg := s[0] == '-'
	i := 0
	if neg {
		i = 1
		if len(s) == 1 {
			return 0, false
		}
	}
	if s[i] < '1' || s[i] > '9' {
		return 0, false
	}
	var v uint64
	for ; i < len(s); i++ {
		d := uint64(s[i] - '0')
		if d > 9 {
			return 0, false
		}
		if v > math.MaxUint64/10 || v*10 > math.MaxUint64-d {
			return 0, false
		}
		v = v*10 + d
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return int64(-v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// lpEncodeInt writes v's smallest integer encoding into dst and returns
// its length.
func lpEncodeInt(dst *[9]byte, v int64) int {
	switch {
	case v >= 0 && v <= 127:
		dst[0] = byte(v)
		return 1
	case v >= -4096 && v <= 4095:
		u := uint64(v) & (1<<13 - 1)
		dst[0] = byte(u>>8) | lpEnc13BitInt
		dst[1] = byte(u)
		return 2
	case v >= math.MinInt16 && v <= math.MaxInt16:
		dst[0] = lpEnc16BitInt
		binary.LittleEndian.PutUint16(dst[1:], uint16(v))
		return 3
	case v >= -1<<23 && v <= 1<<23-1:
		u := uint32(v)
		dst[0] = lpEnc24BitInt
		dst[1], dst[2], dst[3] = byte(u), byte(u>>8), byte(u>>16)
		return 4
	case v >= math.MinInt32 && v <= math.MaxInt32:
		dst[0] = lpEnc32BitInt
		binary.LittleEndian.PutUint32(dst[1:], uint32(v))
		return 5
	}
	dst[0] = lpEnc64BitInt
	binary.LittleEndian.PutUint64(dst[1:], uint64(v))
	return 9
}

// lpEncoded is an element ready to be written: either a short integer
// encoding or a string with its header size.
type lpEncoded struct {
	intenc [9]byte
	isInt  bool
	enclen int // encoding + data
	s      []byte
}

func lpEncode(s []byte) lpEncoded {
	var e lpEncoded
	if v, ok := lpParseInt(s); ok {
		e.isInt = true
		e.enclen = lpEncodeInt(&e.intenc, v)
		return e
	}
	e.s = s
	switch {
	case len(s) < 64:
		e.enclen = 1 + len(s)
	case len(s) < 4096:
		e.enclen = 2 + len(s)
	default:
		e.enclen = 5 + len(s)
	}
	return e
}

func lpEncodeInt64(v int64) lpEncoded {
	var e lpEncoded
	e.isInt = true
	e.enclen = lpEncodeInt(&e.intenc, v)
	return e
}

// size is the whole entry size, backlen included.
func (e *lpEncoded) size() int { return e.enclen + lpBacklenSize(e.enclen) }

// write stores the entry at dst, which has exactly size() bytes.
func (e *lpEncoded) write(dst []byte) {
	if e.isInt {
		copy(dst, e.intenc[:e.enclen])
	} else {
		n := len(e.s)
		switch {
		case n < 64:
			dst[0] = byte(n) | lpEnc6BitStr
			copy(dst[1:], e.s)
		case n < 4096:
			dst[0] = byte(n>>8) | lpEnc12BitStr
			dst[1] = byte(n)
			copy(dst[2:], e.s)
		default:
			dst[0] = lpEnc32BitStr
			binary.LittleEndian.PutUint32(dst[1:], uint32(n))
			copy(dst[5:], e.s)
		}
	}
	lpPutBacklen(dst[e.enclen:], e.enclen)
}

// ListpackEntrySize is the number of bytes s takes as a listpack entry
// (encoding, data and backlen): for size-bounded containers deciding
// whether an element fits.
func ListpackEntrySize(s []byte) int {
	e := lpEncode(s)
	return e.size()
}

func strBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// Bytes returns the listpack's bytes in Redis's format. They alias the
// listpack: valid until the next modification, never to be modified.
func (lp *Listpack) Bytes() []byte { return lp.b }

// Len is the number of entries.
func (lp *Listpack) Len() int { return lp.n }

// Size is the number of bytes in Redis's format (lpBytes).
func (lp *Listpack) Size() int { return len(lp.b) }

// MemoryUsage estimates the bytes held, allocation rounding included.
func (lp *Listpack) MemoryUsage() int { return listpackStructSize + allocClass(cap(lp.b)) }

// Clone returns an independent copy, trimmed to size.
func (lp *Listpack) Clone() *Listpack {
	return &Listpack{b: slices.Clone(lp.b), n: lp.n}
}

// Reset empties the listpack, keeping its buffer if it is small.
func (lp *Listpack) Reset() {
	if cap(lp.b) > 256 {
		lp.b = make([]byte, lpHeaderSize+1, 16)
	}
	lp.b = lp.b[:lpHeaderSize+1]
	lp.b[lpHeaderSize] = lpEOF
	lp.n = 0
	lp.setHeader()
}

func (lp *Listpack) setHeader() {
	binary.LittleEndian.PutUint32(lp.b, uint32(len(lp.b)))
	c := lp.n
	if c >= lpNumeleUnknown {
		c = lpNumeleUnknown
	}
	binary.LittleEndian.PutUint16(lp.b[4:], uint16(c))
}

// First is the position of the first entry, or -1 if empty.
func (lp *Listpack) First() int {
	if lp.n == 0 {
		return -1
	}
	return lpHeaderSize
}

// Last is the position of the last entry, or -1 if empty.
func (lp *Listpack) Last() int {
	if lp.n == 0 {
		return -1
	}
	return lp.Prev(len(lp.b) - 1)
}

// Next is the position after p, or -1 at the end.
func (lp *Listpack) Next(p int) int {
	p += lpEntrySize(lp.b, p)
	if lp.b[p] == lpEOF {
		return -1
	}
	return p
}

// Prev is the position before p (p may also be the terminator's offset,
// Size()-1), or -1 at the start.
func (lp *Listpack) Prev(p int) int {
	if p <= lpHeaderSize {
		return -1
	}
	l, _ := lpDecodeBacklen(lp.b, p-1)
	return p - int(l) - lpBacklenSize(int(l))
}

// Seek is the position of the entry at index (negative counts from the
// end, -1 being the last), or -1 if out of range. It walks from the
// nearer end.
func (lp *Listpack) Seek(index int) int {
	if index < 0 {
		index += lp.n
	}
	if index < 0 || index >= lp.n {
		return -1
	}
	if index <= lp.n/2 {
		p := lpHeaderSize
		for ; index > 0; index-- {
			p += lpEntrySize(lp.b, p)
		}
		return p
	}
	p := len(lp.b) - 1
	for i := lp.n - index; i > 0; i-- {
		p = lp.Prev(p)
	}
	return p
}

// Get decodes the entry at p: a string (aliasing the listpack) or, when
// isInt, an integer.
func (lp *Listpack) Get(p int) (s []byte, v int64, isInt bool) {
	b := lp.b
	c := b[p]
	switch {
	case c&0x80 == 0:
		return nil, int64(c), true
	case c&0xC0 == lpEnc6BitStr:
		n := int(c & 0x3F)
		return b[p+1 : p+1+n : p+1+n], 0, false
	case c&0xE0 == lpEnc13BitInt:
		u := uint16(c&0x1F)<<8 | uint16(b[p+1])
		return nil, int64(int16(u<<3) >> 3), true
	case c&0xF0 == lpEnc12BitStr:
		n := int(c&0x0F)<<8 | int(b[p+1])
		return b[p+2 : p+2+n : p+2+n], 0, false
	case c == lpEnc32BitStr:
		n := int(binary.LittleEndian.Uint32(b[p+1:]))
		return b[p+5 : p+5+n : p+5+n], 0, false
	case c == lpEnc16BitInt:
		return nil, int64(int16(binary.LittleEndian.Uint16(b[p+1:]))), true
	case c == lpEnc24BitInt:
		u := uint32(b[p+1]) | uint32(b[p+2])<<8 | uint32(b[p+3])<<16
		return nil, int64(int32(u<<8) >> 8), true
	case c == lpEnc32BitInt:
		return nil, int64(int32(binary.LittleEndian.Uint32(b[p+1:]))), true
	case c == lpEnc64BitInt:
		return nil, int64(binary.LittleEndian.Uint64(b[p+1:])), true
	}
	panic("listpack: invalid entry encoding")
}

// GetBytes returns the entry at p in string form: a string entry aliases
// the listpack; an integer is formatted by appending to buf[:0] (give it
// ListpackMaxIntLen bytes of capacity to avoid allocating).
func (lp *Listpack) GetBytes(p int, buf []byte) []byte {
	s, v, isInt := lp.Get(p)
	if isInt {
		return strconv.AppendInt(buf[:0], v, 10)
	}
	return s
}

// GetString returns the entry at p as a newly allocated string.
func (lp *Listpack) GetString(p int) string {
	s, v, isInt := lp.Get(p)
	if isInt {
		return strconv.FormatInt(v, 10)
	}
	return string(s)
}

// Equal reports whether the entry at p is s. An integer entry equals the
// canonical decimal form of its value only, as in Redis.
func (lp *Listpack) Equal(p int, s []byte) bool {
	es, v, isInt := lp.Get(p)
	if !isInt {
		return string(es) == string(s)
	}
	w, ok := lpParseInt(s)
	return ok && w == v
}

// Find returns the position of the first entry equal to s at or after p,
// comparing one entry and then skipping `skip` entries (skip 1 searches
// the keys of a key/value listpack), or -1.
func (lp *Listpack) Find(p int, s []byte, skip int) int {
	// Decide s's integer form once instead of per entry.
	w, sIsInt := lpParseInt(s)
	b := lp.b
	for p >= 0 && b[p] != lpEOF {
		es, v, isInt := lp.Get(p)
		if isInt {
			if sIsInt && v == w {
				return p
			}
		} else if !sIsInt && string(es) == string(s) {
			return p
		}
		p += lpEntrySize(b, p)
		for i := 0; i < skip && b[p] != lpEOF; i++ {
			p += lpEntrySize(b, p)
		}
	}
	return -1
}

// FindString is Find for a string argument.
func (lp *Listpack) FindString(p int, s string, skip int) int {
	return lp.Find(p, strBytes(s), skip)
}

// resize makes room for delta more bytes (or releases -delta bytes) at
// offset at, moving the tail. Growth leaves some slack so repeated pushes
// do not copy the whole listpack every time; shrinking gives memory back
// once less than half is used.
func (lp *Listpack) resize(at, delta int) {
	old := len(lp.b)
	n := old + delta
	if n > math.MaxUint32 {
		panic("listpack: exceeds 4GB")
	}
	switch {
	case delta > 0 && n > cap(lp.b):
		want := n + n/8
		nb := slices.Grow([]byte(nil), want)[:n]
		copy(nb, lp.b[:at])
		copy(nb[at+delta:], lp.b[at:old])
		lp.b = nb
	case delta > 0:
		lp.b = lp.b[:n]
		copy(lp.b[at+delta:], lp.b[at:old])
	case delta < 0 && cap(lp.b) > 64 && n < cap(lp.b)/2:
		nb := slices.Grow([]byte(nil), n)[:n]
		copy(nb, lp.b[:at])
		copy(nb[at:], lp.b[at-delta:old])
		lp.b = nb
	case delta < 0:
		copy(lp.b[at:], lp.b[at-delta:old])
		lp.b = lp.b[:n]
	}
}

// Reserve makes room for extra more bytes in one allocation, so a
// command adding several entries to a fresh listpack does not grow it
// (and leave garbage behind) once per entry.
func (lp *Listpack) Reserve(extra int) {
	if n := len(lp.b) + extra; n > cap(lp.b) {
		nb := slices.Grow([]byte(nil), n)[:len(lp.b)]
		copy(nb, lp.b)
		lp.b = nb
	}
}

// insertAt writes e as a new entry at offset at (an entry's position or
// the terminator's offset) and returns its position.
func (lp *Listpack) insertAt(at int, e *lpEncoded) int {
	sz := e.size()
	lp.resize(at, sz)
	e.write(lp.b[at : at+sz])
	lp.n++
	lp.setHeader()
	return at
}

// Append adds s at the end.
func (lp *Listpack) Append(s []byte) {
	e := lpEncode(s)
	lp.insertAt(len(lp.b)-1, &e)
}

// AppendString adds s at the end.
func (lp *Listpack) AppendString(s string) { lp.Append(strBytes(s)) }

// AppendInt adds v at the end.
func (lp *Listpack) AppendInt(v int64) {
	e := lpEncodeInt64(v)
	lp.insertAt(len(lp.b)-1, &e)
}

// Prepend adds s at the start.
func (lp *Listpack) Prepend(s []byte) {
	e := lpEncode(s)
	lp.insertAt(lpHeaderSize, &e)
}

// PrependString adds s at the start.
func (lp *Listpack) PrependString(s string) { lp.Prepend(strBytes(s)) }

// InsertBefore adds s before the entry at p (or at the end if p is the
// terminator's offset, Size()-1) and returns the new entry's position.
func (lp *Listpack) InsertBefore(p int, s []byte) int {
	e := lpEncode(s)
	return lp.insertAt(p, &e)
}

// InsertAfter adds s after the entry at p and returns the new entry's
// position.
func (lp *Listpack) InsertAfter(p int, s []byte) int {
	e := lpEncode(s)
	return lp.insertAt(p+lpEntrySize(lp.b, p), &e)
}

// InsertIntBefore adds v before the entry at p (or at the end if p is
// Size()-1) and returns the new entry's position.
func (lp *Listpack) InsertIntBefore(p int, v int64) int {
	e := lpEncodeInt64(v)
	return lp.insertAt(p, &e)
}

func (lp *Listpack) replaceWith(p int, e *lpEncoded) int {
	old := lpEntrySize(lp.b, p)
	sz := e.size()
	if sz > old {
		lp.resize(p+old, sz-old)
	} else if sz < old {
		lp.resize(p+sz, sz-old)
	}
	e.write(lp.b[p : p+sz])
	lp.setHeader()
	return p
}

// Replace overwrites the entry at p with s and returns its position (p).
func (lp *Listpack) Replace(p int, s []byte) int {
	e := lpEncode(s)
	return lp.replaceWith(p, &e)
}

// ReplaceInt overwrites the entry at p with v and returns its position.
func (lp *Listpack) ReplaceInt(p int, v int64) int {
	e := lpEncodeInt64(v)
	return lp.replaceWith(p, &e)
}

// Delete removes the entry at p and returns the position of the entry
// that followed it, or -1 if it was the last.
func (lp *Listpack) Delete(p int) int {
	sz := lpEntrySize(lp.b, p)
	lp.resize(p, -sz)
	lp.n--
	lp.setHeader()
	if lp.b[p] == lpEOF {
		return -1
	}
	return p
}

// DeleteRange removes up to count entries starting at p and returns the
// position of the entry after them, or -1. It moves the tail once.
func (lp *Listpack) DeleteRange(p, count int) int {
	end := p
	removed := 0
	for ; removed < count && lp.b[end] != lpEOF; removed++ {
		end += lpEntrySize(lp.b, end)
	}
	if removed == 0 {
		return -1
	}
	lp.resize(p, p-end)
	lp.n -= removed
	lp.setHeader()
	if lp.b[p] == lpEOF {
		return -1
	}
	return p
}

// DeleteIndexRange removes count entries starting at index (negative
// counts from the end).
func (lp *Listpack) DeleteIndexRange(index, count int) {
	if p := lp.Seek(index); p >= 0 {
		lp.DeleteRange(p, count)
	}
}

// ForEach calls fn for every entry in order, until fn returns false. s
// aliases the listpack for strings; for integers isInt is set.
func (lp *Listpack) ForEach(fn func(s []byte, v int64, isInt bool) bool) {
	b := lp.b
	for p := lpHeaderSize; b[p] != lpEOF; p += lpEntrySize(b, p) {
		s, v, isInt := lp.Get(p)
		if !fn(s, v, isInt) {
			return
		}
	}
}

// Strings returns every entry in string form (tests and debugging).
func (lp *Listpack) Strings() []string {
	out := make([]string, 0, lp.n)
	for p := lp.First(); p >= 0; p = lp.Next(p) {
		out = append(out, lp.GetString(p))
	}
	return out
}

// goSizeClasses are the Go runtime's small-object size classes (bytes):
// what an allocation of up to 32KB really occupies.
var goSizeClasses = [...]int{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048,
	2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880,
	12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

// allocClass is the memory an n-byte allocation really takes: Go's size
// class, or whole 8KB pages for large objects. (keyspace.SizeClass is a
// coarser estimate; this package cannot import keyspace.)
func allocClass(n int) int {
	if n <= 0 {
		return 0
	}
	if n > 32768 {
		return (n + 8191) &^ 8191
	}
	i, _ := slices.BinarySearch(goSizeClasses[:], n)
	return goSizeClasses[i]
}

// SplitAt moves the entries from position p to the end into a new
// listpack, which it returns; lp keeps the entries before p.
func (lp *Listpack) SplitAt(p int) *Listpack {
	moved := 0
	for q := p; lp.b[q] != lpEOF; q += lpEntrySize(lp.b, q) {
		moved++
	}
	tail := len(lp.b) - 1 - p
	nb := slices.Grow([]byte(nil), lpHeaderSize+tail+1)[:lpHeaderSize+tail+1]
	copy(nb[lpHeaderSize:], lp.b[p:])
	right := &Listpack{b: nb, n: moved}
	right.setHeader()
	lp.resize(p, -tail)
	lp.n -= moved
	lp.setHeader()
	return right
}

// AppendListpack appends every entry of other (their encoded bytes are
// copied as they are).
func (lp *Listpack) AppendListpack(other *Listpack) {
	body := other.b[lpHeaderSize : len(other.b)-1]
	at := len(lp.b) - 1
	lp.resize(at, len(body))
	copy(lp.b[at:], body)
	lp.n += other.n
	lp.setHeader()
}
