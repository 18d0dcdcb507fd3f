package node

import (
	"math"

	"github.com/vigilkv/vigil/node/keyspace"
)

// BITFIELD and BITFIELD_RO: integers of 1 to 64 bits at arbitrary bit
// offsets of a string, with Redis's overflow policies.

func bitfieldCommands() []*Command {
	return []*Command{
		{Name: "bitfield", Arity: -2, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 1, KeyStep: 1, Group: "bitmap",
			Categories: []string{"write", "bitmap", "slow"}, Since: "3.2.0",
			Summary: "Perform arbitrary bitfield integer operations on strings", Complexity: "O(1) for each subcommand specified",
			Handler: func(c *Ctx) { bitfieldGeneric(c, false) }},
		{Name: "bitfield_ro", Arity: -2, Flags: FlagReadonly | FlagFast, FirstKey: 1, LastKey: 1, KeyStep: 1, Group: "bitmap",
			Categories: []string{"read", "bitmap", "fast"}, Since: "6.0.0",
			Summary: "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD", Complexity: "O(1) for each subcommand specified",
			Handler: func(c *Ctx) { bitfieldGeneric(c, true) }},
	}
}

type bitfieldOverflow int

const (
	overflowWrap bitfieldOverflow = iota
	overflowSat
	overflowFail
)

type bitfieldOpKind int

const (
	bfGet bitfieldOpKind = iota
	bfSet
	bfIncrBy
)

type bitfieldOp struct {
	kind     bitfieldOpKind
	offset   int64
	value    int64
	bits     int
	signed   bool
	overflow bitfieldOverflow
}

const errBitfieldType = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."

// parseBitfieldType parses i1..i64 or u1..u63.
func parseBitfieldType(b []byte) (bits int, signed, ok bool) {
	if len(b) < 2 || (b[0] != 'i' && b[0] != 'u') {
		return 0, false, false
	}
	n, ok := ParseInt(b[1:])
	signed = b[0] == 'i'
	if !ok || n < 1 || (signed && n > 64) || (!signed && n > 63) {
		return 0, false, false
	}
	return int(n), signed, true
}

// parseBitfieldOffset parses an offset in bits, or "#n" meaning n fields
// of the type's width.
func parseBitfieldOffset(c *Ctx, b []byte, bits int) (int64, bool) {
	mult := int64(1)
	if len(b) > 0 && b[0] == '#' {
		b, mult = b[1:], int64(bits)
	}
	n, ok := ParseInt(b)
	if ok && mult > 1 {
		if n > math.MaxInt64/mult || n < math.MinInt64/mult {
			ok = false
		}
		n *= mult
	}
	if !ok || n < 0 || n>>3 >= c.Srv.cfg.ProtoMaxBulkLen {
		c.Error("ERR bit offset is not an integer or out of range")
		return 0, false
	}
	return n, true
}

func bitfieldGeneric(c *Ctx, readonly bool) {
	var ops []bitfieldOp
	overflow := overflowWrap
	writes := false
	highest := int64(-1)
	for j := 2; j < len(c.Args); j++ {
		rem := len(c.Args) - j - 1
		var kind bitfieldOpKind
		switch {
		case c.ArgIs(j, "get") && rem >= 2:
			kind = bfGet
		case c.ArgIs(j, "set") && rem >= 3:
			kind = bfSet
		case c.ArgIs(j, "incrby") && rem >= 3:
			kind = bfIncrBy
		case c.ArgIs(j, "overflow") && rem >= 1:
			j++
			switch {
			case c.ArgIs(j, "wrap"):
				overflow = overflowWrap
			case c.ArgIs(j, "sat"):
				overflow = overflowSat
			case c.ArgIs(j, "fail"):
				overflow = overflowFail
			default:
				c.Error("ERR Invalid OVERFLOW type specified")
				return
			}
			continue
		default:
			c.SyntaxError()
			return
		}
		bits, signed, ok := parseBitfieldType(c.Args[j+1])
		if !ok {
			c.Error(errBitfieldType)
			return
		}
		off, ok := parseBitfieldOffset(c, c.Args[j+2], bits)
		if !ok {
			return
		}
		op := bitfieldOp{kind: kind, offset: off, bits: bits, signed: signed, overflow: overflow}
		if kind != bfGet {
			writes = true
			highest = max(highest, off+int64(bits)-1)
			if op.value, ok = c.Int(j + 3); !ok {
				return
			}
			j++
		}
		ops = append(ops, op)
		j += 2
	}
	key := c.Key(1)
	var buf []byte
	var v *keyspace.Value
	if !writes {
		var ok bool
		if v, ok = stringGet(c, key, false); !ok {
			return
		}
		if v != nil {
			buf = v.Bytes()
		}
	} else {
		if readonly {
			c.Error("ERR BITFIELD_RO only supports the GET subcommand")
			return
		}
		var ok bool
		if v, ok = stringGet(c, key, true); !ok {
			return
		}
		need := int(highest>>3) + 1
		if v == nil {
			c.DB.Set(key, keyspace.NewRawString(make([]byte, need)), false)
			v = c.DB.LookupWrite(key)
		}
		b := v.MutableBytes()
		if len(*b) < need {
			*b = append(*b, make([]byte, need-len(*b))...)
		}
		buf = *b
	}
	changes := 0
	c.W.Array(len(ops))
	for _, op := range ops {
		if op.kind == bfGet {
			u := getBitfield(buf, op.offset, op.bits)
			if op.signed {
				c.W.Int(signExtend(u, op.bits))
			} else {
				c.W.Int(int64(u))
			}
			continue
		}
		old := getBitfield(buf, op.offset, op.bits)
		var newVal uint64
		var reply int64
		var overflowed bool
		if op.signed {
			oldS := signExtend(old, op.bits)
			var n int64
			if op.kind == bfIncrBy {
				n, overflowed = signedBitfieldAdd(oldS, op.value, op.bits, op.overflow)
				reply = n
			} else {
				n, overflowed = signedBitfieldAdd(op.value, 0, op.bits, op.overflow)
				reply = oldS
			}
			newVal = uint64(n)
		} else {
			var n uint64
			if op.kind == bfIncrBy {
				n, overflowed = unsignedBitfieldAdd(old, op.value, op.bits, op.overflow)
				reply = int64(n)
			} else {
				n, overflowed = unsignedBitfieldAdd(uint64(op.value), 0, op.bits, op.overflow)
				reply = int64(old)
			}
			newVal = n
		}
		if overflowed && op.overflow == overflowFail {
			c.W.Null()
			continue
		}
		setBitfield(buf, op.offset, op.bits, newVal)
		c.W.Int(reply)
		changes++
	}
	if changes > 0 {
		c.DB.SignalModified(key)
		c.Notify('$', "setbit", key)
		c.Changed(int64(changes))
	}
}

// getBitfield reads bits bits at a bit offset, most significant first;
// bits past the end of b read as zero.
func getBitfield(b []byte, off int64, bits int) uint64 {
	var v uint64
	for i := 0; i < bits; i++ {
		byteIdx := (off + int64(i)) >> 3
		bit := 7 - uint((off+int64(i))&7)
		var x uint64
		if byteIdx < int64(len(b)) {
			x = uint64(b[byteIdx]>>bit) & 1
		}
		v = v<<1 | x
	}
	return v
}

func setBitfield(b []byte, off int64, bits int, v uint64) {
	for i := 0; i < bits; i++ {
		pos := off + int64(i)
		mask := byte(0x80 >> uint(pos&7))
		if v>>(bits-1-i)&1 != 0 {
			b[pos>>3] |= mask
		} else {
			b[pos>>3] &^= mask
		}
	}
}

func signExtend(u uint64, bits int) int64 {
	if bits < 64 && u&(1<<(bits-1)) != 0 {
		u |= ^uint64(0) << bits
	}
	return int64(u)
}

// unsignedBitfieldAdd adds incr to value in a field of bits bits and
// applies the overflow policy; overflowed reports that it had to.
func unsignedBitfieldAdd(value uint64, incr int64, bits int, ow bitfieldOverflow) (uint64, bool) {
	maxV := uint64(1)<<bits - 1
	maxIncr := int64(maxV - value)
	minIncr := -int64(value)
	wrap := func() uint64 { return (value + uint64(incr)) & maxV }
	switch {
	case value > maxV || (incr > 0 && incr > maxIncr):
		if ow == overflowWrap {
			return wrap(), true
		}
		return maxV, true
	case incr < 0 && incr < minIncr:
		if ow == overflowWrap {
			return wrap(), true
		}
		return 0, true
	}
	return value + uint64(incr), false
}

// signedBitfieldAdd is unsignedBitfieldAdd for two's complement fields.
func signedBitfieldAdd(value, incr int64, bits int, ow bitfieldOverflow) (int64, bool) {
	maxV := int64(math.MaxInt64)
	if bits < 64 {
		maxV = int64(1)<<(bits-1) - 1
	}
	minV := -maxV - 1
	maxIncr := int64(uint64(maxV) - uint64(value))
	minIncr := int64(uint64(minV) - uint64(value))
	wrap := func() int64 {
		c := uint64(value) + uint64(incr)
		if bits < 64 {
			mask := ^uint64(0) << bits
			if c&(1<<(bits-1)) != 0 {
				c |= mask
			} else {
				c &^= mask
			}
		}
		return int64(c)
	}
	switch {
	case value > maxV || (bits != 64 && incr > maxIncr) || (value >= 0 && incr > 0 && incr > maxIncr):
		if ow == overflowWrap {
			return wrap(), true
		}
		return maxV, true
	case value < minV || (bits != 64 && incr < minIncr) || (value < 0 && incr < 0 && incr < minIncr):
		if ow == overflowWrap {
			return wrap(), true
		}
		return minV, true
	}
	return value + incr, false
}
