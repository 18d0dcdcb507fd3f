package node

import (
	"math/bits"

	"github.com/vigilkv/vigil/node/keyspace"
)

// bitCommands: SETBIT GETBIT BITCOUNT BITPOS BITOP over string values.
func bitCommands() []*Command {
	key1 := func(cmd *Command) *Command {
		cmd.FirstKey, cmd.LastKey, cmd.KeyStep, cmd.Group = 1, 1, 1, "bitmap"
		return cmd
	}
	return []*Command{
		key1(&Command{Name: "setbit", Arity: 4, Flags: FlagWrite | FlagDenyOOM, Categories: []string{"write", "bitmap", "slow"}, Since: "2.2.0",
			Summary: "Sets or clears the bit at offset in the string value stored at key", Complexity: "O(1)", Handler: cmdSetBit}),
		key1(&Command{Name: "getbit", Arity: 3, Flags: FlagReadonly | FlagFast, Categories: []string{"read", "bitmap", "fast"}, Since: "2.2.0",
			Summary: "Returns the bit value at offset in the string value stored at key", Complexity: "O(1)", Handler: cmdGetBit}),
		key1(&Command{Name: "bitcount", Arity: -2, Flags: FlagReadonly, Categories: []string{"read", "bitmap", "slow"}, Since: "2.6.0",
			Summary: "Count set bits in a string", Complexity: "O(N)", Handler: cmdBitCount}),
		key1(&Command{Name: "bitpos", Arity: -3, Flags: FlagReadonly, Categories: []string{"read", "bitmap", "slow"}, Since: "2.8.7",
			Summary: "Find first bit set or clear in a string", Complexity: "O(N)", Handler: cmdBitPos}),
		{Name: "bitop", Arity: -4, Flags: FlagWrite | FlagDenyOOM, FirstKey: 2, LastKey: -1, KeyStep: 1, Group: "bitmap",
			Categories: []string{"write", "bitmap", "slow"}, Since: "2.6.0",
			Summary: "Perform bitwise operations between strings", Complexity: "O(N)", Handler: cmdBitOp},
	}
}

// parseBitOffset parses a bit offset: 0 to 2^32-1 (512 MB of bits).
func parseBitOffset(c *Ctx, i int) (int64, bool) {
	n, ok := ParseInt(c.Args[i])
	if !ok || n < 0 || n >= 1<<32 || n>>3 >= c.Srv.cfg.ProtoMaxBulkLen {
		c.Error("ERR bit offset is not an integer or out of range")
		return 0, false
	}
	return n, true
}

func getBit(b []byte, off int64) int {
	if off>>3 >= int64(len(b)) {
		return 0
	}
	if b[off>>3]&(0x80>>(off&7)) != 0 {
		return 1
	}
	return 0
}

func cmdSetBit(c *Ctx) {
	key := c.Key(1)
	off, ok := parseBitOffset(c, 2)
	if !ok {
		return
	}
	if !c.ArgIs(3, "0") && !c.ArgIs(3, "1") {
		c.Error("ERR bit is not an integer or out of range")
		return
	}
	on := c.Args[3][0] == '1'
	v, ok := stringGet(c, key, true)
	if !ok {
		return
	}
	need := int(off>>3) + 1
	if v == nil {
		c.DB.Set(key, keyspace.NewRawString(make([]byte, need)), false)
		v = c.DB.LookupWrite(key)
	}
	b := v.MutableBytes()
	if len(*b) < need {
		*b = append(*b, make([]byte, need-len(*b))...)
	}
	old := getBit(*b, off)
	mask := byte(0x80 >> (off & 7))
	if on {
		(*b)[off>>3] |= mask
	} else {
		(*b)[off>>3] &^= mask
	}
	c.DB.SignalModified(key)
	c.Notify('$', "setbit", key)
	c.Changed(1)
	c.W.Int(int64(old))
}

func cmdGetBit(c *Ctx) {
	off, ok := parseBitOffset(c, 2)
	if !ok {
		return
	}
	v, ok := stringGet(c, c.Key(1), false)
	if !ok {
		return
	}
	if v == nil {
		c.W.Int(0)
		return
	}
	c.W.Int(int64(getBit(v.Bytes(), off)))
}

// bitRange parses "start end [BYTE|BIT]" at argument i for a string of n
// bytes into an inclusive bit range; empty reports an empty range.
func bitRange(c *Ctx, i int, n int64, endOptional bool) (start, end int64, isBit, endGiven, empty, ok bool) {
	var s, e int64
	if !endOptional || len(c.Args) > i+1 {
		endGiven = true
	}
	if len(c.Args) > i+3 {
		c.SyntaxError()
		return
	}
	if len(c.Args) == i+3 {
		switch {
		case c.ArgIs(i+2, "bit"):
			isBit = true
		case c.ArgIs(i+2, "byte"):
		default:
			c.SyntaxError()
			return
		}
	}
	var good bool
	if s, good = c.Int(i); !good {
		return
	}
	total := n
	if isBit {
		total = n * 8
	}
	e = total - 1
	if endGiven {
		if e, good = c.Int(i + 1); !good {
			return
		}
	}
	if s < 0 {
		s += total
	}
	if e < 0 {
		e += total
	}
	s, e = max(s, 0), max(e, 0)
	if e >= total {
		e = total - 1
	}
	ok = true
	if s > e || total == 0 {
		empty = true
		return
	}
	if !isBit {
		s, e = s*8, e*8+7
	}
	return s, e, isBit, endGiven, false, true
}

func cmdBitCount(c *Ctx) {
	if len(c.Args) == 3 {
		c.SyntaxError()
		return
	}
	v, ok := stringGet(c, c.Key(1), false)
	if !ok {
		return
	}
	var b []byte
	if v != nil {
		b = v.Bytes()
	}
	if len(c.Args) == 2 {
		n := 0
		for _, x := range b {
			n += bits.OnesCount8(x)
		}
		c.W.Int(int64(n))
		return
	}
	start, end, _, _, empty, ok := bitRange(c, 2, int64(len(b)), false)
	if !ok {
		return
	}
	if empty || v == nil {
		c.W.Int(0)
		return
	}
	n := int64(0)
	for i := start; i <= end; {
		if i&7 == 0 && i+7 <= end {
			n += int64(bits.OnesCount8(b[i>>3]))
			i += 8
			continue
		}
		n += int64(getBit(b, i))
		i++
	}
	c.W.Int(n)
}

func cmdBitPos(c *Ctx) {
	if !c.ArgIs(2, "0") && !c.ArgIs(2, "1") {
		if _, ok := ParseInt(c.Args[2]); !ok {
			c.Error(ErrNotInt)
			return
		}
		c.Error("ERR The bit argument must be 1 or 0.")
		return
	}
	want := int(c.Args[2][0] - '0')
	v, ok := stringGet(c, c.Key(1), false)
	if !ok {
		return
	}
	if v == nil {
		if want == 1 {
			c.W.Int(-1)
		} else {
			c.W.Int(0)
		}
		return
	}
	b := v.Bytes()
	n := int64(len(b))
	start, end := int64(0), n*8-1
	endGiven, empty := false, n == 0
	if len(c.Args) > 3 {
		var ok bool
		start, end, _, endGiven, empty, ok = bitRange(c, 3, n, true)
		if !ok {
			return
		}
	}
	if empty {
		c.W.Int(-1)
		return
	}
	for i := start; i <= end; i++ {
		if getBit(b, i) == want {
			c.W.Int(i)
			return
		}
	}
	if want == 0 && !endGiven {
		// Without an explicit end the string counts as padded with zeros.
		c.W.Int(end + 1)
		return
	}
	c.W.Int(-1)
}

func cmdBitOp(c *Ctx) {
	op := lowerASCII(c.Str(1))
	switch op {
	case "and", "or", "xor", "not":
	default:
		c.SyntaxError()
		return
	}
	srcs := c.Args[3:]
	if op == "not" && len(srcs) != 1 {
		c.Error("ERR BITOP NOT must be called with a single source key.")
		return
	}
	var vals [][]byte
	maxLen := 0
	for i := range srcs {
		v, ok := stringGet(c, c.Key(3+i), false)
		if !ok {
			return
		}
		var b []byte
		if v != nil {
			b = v.Bytes()
		}
		vals = append(vals, b)
		maxLen = max(maxLen, len(b))
	}
	out := make([]byte, maxLen)
	for j := 0; j < maxLen; j++ {
		byteAt := func(b []byte) byte {
			if j < len(b) {
				return b[j]
			}
			return 0
		}
		r := byteAt(vals[0])
		if op == "not" {
			r = ^r
		}
		for _, b := range vals[1:] {
			switch op {
			case "and":
				r &= byteAt(b)
			case "or":
				r |= byteAt(b)
			case "xor":
				r ^= byteAt(b)
			}
		}
		out[j] = r
	}
	dst := c.Key(2)
	if maxLen == 0 {
		if c.DB.LookupWrite(dst) != nil {
			c.DB.Delete(dst)
			c.Notify('g', "del", dst)
			c.Changed(1)
		}
		c.W.Int(0)
		return
	}
	c.DB.Set(dst, keyspace.NewRawString(out), false)
	c.Notify('$', "set", dst)
	c.Changed(1)
	c.W.Int(int64(maxLen))
}
