// Package rdb reads and writes Redis's RDB serialization: whole snapshot
// files and the DUMP/RESTORE payloads built from the same value encoding.
// Vigil writes RDB version 10 (what redis-server 7.0 writes and reads) and
// reads every encoding redis 7.0 can load.
package rdb

import (
	"encoding/binary"
	"math"
	"strconv"
	"unsafe"

	"github.com/vigilkv/vigil/node/keyspace"
	"github.com/vigilkv/vigil/node/types"
)

// Version is the RDB format version vigil writes.
const Version = 10

// Value types (RDB_TYPE_*), as stored before each key.
const (
	TypeString          = 0
	TypeList            = 1
	TypeSet             = 2
	TypeZSet            = 3
	TypeHash            = 4
	TypeZSet2           = 5
	TypeModule          = 6
	TypeModule2         = 7
	TypeHashZipmap      = 9
	TypeListZiplist     = 10
	TypeSetIntset       = 11
	TypeZSetZiplist     = 12
	TypeHashZiplist     = 13
	TypeListQuicklist   = 14
	TypeStreamListpacks = 15
	TypeHashListpack    = 16
	TypeZSetListpack    = 17
	TypeListQuicklist2  = 18
	TypeStreamListpack2 = 19
	TypeSetListpack     = 20
	TypeStreamListpack3 = 21
)

// Opcodes of the file format.
const (
	opFunction2    = 245
	opModuleAux    = 247
	opIdle         = 248
	opFreq         = 249
	opAux          = 250
	opResizeDB     = 251
	opExpireTimeMs = 252
	opExpireTime   = 253
	opSelectDB     = 254
	opEOF          = 255
)

// Length encodings.
const (
	len6bit  = 0
	len14bit = 1
	len32    = 0x80
	len64    = 0x81
	lenEnc   = 3
	encInt8  = 0
	encInt16 = 1
	encInt32 = 2
	encLZF   = 3
)

// quicklist2 node containers.
const (
	qlNodePlain  = 1
	qlNodePacked = 2
)

// Encoder appends RDB-encoded data to a byte slice.
type Encoder struct {
	// Buf is the encoded output so far.
	Buf []byte
	// Compress enables LZF compression of strings longer than 20 bytes
	// (rdbcompression).
	Compress bool
	lzf      lzfScratch
}

// Byte appends one raw byte.
func (e *Encoder) Byte(b byte) { e.Buf = append(e.Buf, b) }

// Len appends a length.
func (e *Encoder) Len(n uint64) {
	switch {
	case n < 1<<6:
		e.Buf = append(e.Buf, byte(n))
	case n < 1<<14:
		e.Buf = append(e.Buf, byte(n>>8)|len14bit<<6, byte(n))
	case n <= math.MaxUint32:
		e.Buf = append(e.Buf, len32)
		e.Buf = binary.BigEndian.AppendUint32(e.Buf, uint32(n))
	default:
		e.Buf = append(e.Buf, len64)
		e.Buf = binary.BigEndian.AppendUint64(e.Buf, n)
	}
}

// String appends a string, as an integer when it is the canonical form of
// one that fits in 32 bits, LZF-compressed when that saves space and
// compression is on, raw otherwise.
func (e *Encoder) String(s []byte) {
	if len(s) <= 11 && len(s) > 0 {
		if v, ok := canonicalInt(s); ok && e.intString(v) {
			return
		}
	}
	if e.Compress && len(s) > 20 {
		if c := lzfCompress(s, len(s)-4, &e.lzf); c != nil {
			e.Buf = append(e.Buf, lenEnc<<6|encLZF)
			e.Len(uint64(len(c)))
			e.Len(uint64(len(s)))
			e.Buf = append(e.Buf, c...)
			return
		}
	}
	e.Len(uint64(len(s)))
	e.Buf = append(e.Buf, s...)
}

// StringS is String for a Go string (without copying it).
func (e *Encoder) StringS(s string) { e.String(unsafe.Slice(unsafe.StringData(s), len(s))) }

func (e *Encoder) intString(v int64) bool {
	switch {
	case v >= math.MinInt8 && v <= math.MaxInt8:
		e.Buf = append(e.Buf, lenEnc<<6|encInt8, byte(int8(v)))
	case v >= math.MinInt16 && v <= math.MaxInt16:
		e.Buf = append(e.Buf, lenEnc<<6|encInt16)
		e.Buf = binary.LittleEndian.AppendUint16(e.Buf, uint16(int16(v)))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		e.Buf = append(e.Buf, lenEnc<<6|encInt32)
		e.Buf = binary.LittleEndian.AppendUint32(e.Buf, uint32(int32(v)))
	default:
		return false
	}
	return true
}

// canonicalInt parses s as an integer only if formatting it back gives s.
func canonicalInt(s []byte) (int64, bool) {
	if s[0] != '-' && (s[0] < '0' || s[0] > '9') {
		return 0, false
	}
	v, err := strconv.ParseInt(unsafe.String(unsafe.SliceData(s), len(s)), 10, 64)
	if err != nil {
		return 0, false
	}
	var buf [20]byte
	if string(strconv.AppendInt(buf[:0], v, 10)) != string(s) {
		return 0, false
	}
	return v, true
}

// Double appends a binary double (zset2 scores).
func (e *Encoder) Double(f float64) {
	e.Buf = binary.LittleEndian.AppendUint64(e.Buf, math.Float64bits(f))
}

// Uint64LE appends a little-endian 64-bit value (expiry times).
func (e *Encoder) Uint64LE(v uint64) { e.Buf = binary.LittleEndian.AppendUint64(e.Buf, v) }

// ValueType is the RDB type byte vigil writes for v.
func ValueType(v *keyspace.Value) byte {
	switch v.Type() {
	case keyspace.TypeString:
		return TypeString
	case keyspace.TypeList:
		return TypeListQuicklist2
	case keyspace.TypeHash:
		if v.Hash().Encoding() == "listpack" {
			return TypeHashListpack
		}
		return TypeHash
	case keyspace.TypeSet:
		return setValueType(v.Set())
	case keyspace.TypeZSet:
		return zsetValueType(v.ZSet())
	}
	return TypeString
}

// Value appends v's type byte and payload.
func (e *Encoder) Value(v *keyspace.Value) {
	t := ValueType(v)
	e.Byte(t)
	e.Payload(t, v)
}

// Payload appends v's payload in the encoding of type t (ValueType(v)).
func (e *Encoder) Payload(t byte, v *keyspace.Value) {
	switch v.Type() {
	case keyspace.TypeString:
		e.String(v.Bytes())
	case keyspace.TypeList:
		e.list(v.List())
	case keyspace.TypeHash:
		e.hash(t, v.Hash())
	case keyspace.TypeSet:
		e.set(t, v.Set())
	case keyspace.TypeZSet:
		e.zset(t, v.ZSet())
	}
}

func (e *Encoder) list(l *types.List) {
	e.Len(uint64(l.Nodes()))
	l.ForEachNode(func(lp *types.Listpack) bool {
		e.Len(qlNodePacked)
		e.String(lp.Bytes())
		return true
	})
}

func (e *Encoder) hash(t byte, h *types.Hash) {
	if t == TypeHashListpack {
		e.String(h.Listpack().Bytes())
		return
	}
	e.Len(uint64(h.Len()))
	h.ForEach(func(f, v []byte) bool {
		e.String(f)
		e.String(v)
		return true
	})
}
