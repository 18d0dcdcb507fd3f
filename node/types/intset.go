package types

import (
	"encoding/binary"
	"sort"
	"unsafe"
)

// intset is Redis's intset, kept in its serialized layout: a 4-byte
// element width (2, 4 or 8), a 4-byte count, then the members in
// ascending order, little-endian, each in that width. The width grows to
// fit the widest member and never shrinks; every change reallocates to
// the exact size, so a small set of small integers costs 2 bytes a member
// and RDB and DUMP write the bytes as they are. It is a string (never
// modified in place) to keep the Set header small; "" is the empty
// intset.
type intset string

// view is the intset's bytes, read-only.
func (is intset) view() []byte {
	return unsafe.Slice(unsafe.StringData(string(is)), len(is))
}

// frozen turns freshly built bytes into an intset without copying.
func frozen(b []byte) intset {
	if len(b) == 0 {
		return ""
	}
	return intset(unsafe.String(&b[0], len(b)))
}

const intsetHeader = 8

func (is intset) width() int {
	if len(is) == 0 {
		return 2
	}
	return int(binary.LittleEndian.Uint32(is.view()))
}

func (is intset) len() int {
	if len(is) == 0 {
		return 0
	}
	return int(binary.LittleEndian.Uint32(is.view()[4:]))
}

func intsetWidthFor(v int64) int {
	switch {
	case v < -1<<31 || v > 1<<31-1:
		return 8
	case v < -1<<15 || v > 1<<15-1:
		return 4
	}
	return 2
}

func getWidth(b []byte, w int) int64 {
	switch w {
	case 2:
		return int64(int16(binary.LittleEndian.Uint16(b)))
	case 4:
		return int64(int32(binary.LittleEndian.Uint32(b)))
	}
	return int64(binary.LittleEndian.Uint64(b))
}

func putWidth(b []byte, w int, v int64) {
	switch w {
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(v))
	default:
		binary.LittleEndian.PutUint64(b, uint64(v))
	}
}

// get is the i-th smallest member.
func (is intset) get(i int) int64 {
	w := is.width()
	return getWidth(is.view()[intsetHeader+i*w:], w)
}

// search returns v's index, or where it would be inserted.
func (is intset) search(v int64) (int, bool) {
	n := is.len()
	if n == 0 || intsetWidthFor(v) > is.width() {
		// Wider than every member: below or above them all.
		if v < 0 {
			return 0, false
		}
		return n, false
	}
	i := sort.Search(n, func(i int) bool { return is.get(i) >= v })
	return i, i < n && is.get(i) == v
}

// insert returns the intset with v added at index i (from search).
func (is intset) insert(i int, v int64) intset {
	n, w := is.len(), is.width()
	nw := max(w, intsetWidthFor(v))
	out := make([]byte, intsetHeader+(n+1)*nw)
	binary.LittleEndian.PutUint32(out, uint32(nw))
	binary.LittleEndian.PutUint32(out[4:], uint32(n+1))
	switch {
	case n == 0:
	case nw == w:
		copy(out[intsetHeader:], is.view()[intsetHeader:intsetHeader+i*w])
		copy(out[intsetHeader+(i+1)*w:], is.view()[intsetHeader+i*w:])
	default:
		for j := 0; j < n; j++ {
			k := j
			if j >= i {
				k++
			}
			putWidth(out[intsetHeader+k*nw:], nw, is.get(j))
		}
	}
	putWidth(out[intsetHeader+i*nw:], nw, v)
	return frozen(out)
}

// merge returns the intset with vals (sorted, distinct, none present)
// added.
func (is intset) merge(vals []int64) intset {
	if len(vals) == 0 {
		return is
	}
	n := is.len()
	w := max(is.width(), intsetWidthFor(vals[0]), intsetWidthFor(vals[len(vals)-1]))
	out := make([]byte, intsetHeader+(n+len(vals))*w)
	binary.LittleEndian.PutUint32(out, uint32(w))
	binary.LittleEndian.PutUint32(out[4:], uint32(n+len(vals)))
	i, j := 0, 0
	for k := 0; k < n+len(vals); k++ {
		var v int64
		if j >= len(vals) || (i < n && is.get(i) < vals[j]) {
			v = is.get(i)
			i++
		} else {
			v = vals[j]
			j++
		}
		putWidth(out[intsetHeader+k*w:], w, v)
	}
	return frozen(out)
}

// remove returns the intset without its i-th member.
func (is intset) remove(i int) intset {
	n, w := is.len(), is.width()
	if n == 1 {
		return ""
	}
	b := is.view()
	out := make([]byte, intsetHeader+(n-1)*w)
	copy(out, b[:intsetHeader])
	binary.LittleEndian.PutUint32(out[4:], uint32(n-1))
	copy(out[intsetHeader:], b[intsetHeader:intsetHeader+i*w])
	copy(out[intsetHeader+i*w:], b[intsetHeader+(i+1)*w:])
	return frozen(out)
}

// validIntset checks a serialized intset: a known width, a matching
// length, strictly ascending members.
func validIntset(b []byte) bool {
	if len(b) < intsetHeader {
		return false
	}
	is := frozen(b)
	w, n := is.width(), is.len()
	if (w != 2 && w != 4 && w != 8) || n <= 0 || len(b) != intsetHeader+w*n {
		return false
	}
	for i := 1; i < n; i++ {
		if is.get(i) <= is.get(i-1) {
			return false
		}
	}
	return true
}
