package node

import (
	"math"
	"strconv"

	"github.com/vigilkv/vigil/node/keyspace"
)

// stringCommands: the string family.
func stringCommands() []*Command {
	wf := []string{"write", "string", "fast"}
	ws := []string{"write", "string", "slow"}
	rf := []string{"read", "string", "fast"}
	key1 := func(cmd *Command) *Command {
		cmd.FirstKey, cmd.LastKey, cmd.KeyStep, cmd.Group = 1, 1, 1, "string"
		return cmd
	}
	allKeys := func(step int) func(*Command) *Command {
		return func(cmd *Command) *Command {
			cmd.FirstKey, cmd.LastKey, cmd.KeyStep, cmd.Group = 1, -1, step, "string"
			return cmd
		}
	}
	wo := FlagWrite | FlagDenyOOM
	return []*Command{
		key1(&Command{Name: "get", Arity: 2, Flags: FlagReadonly | FlagFast, Categories: rf, Since: "1.0.0",
			Summary: "Get the value of a key", Complexity: "O(1)", Handler: cmdGet}),
		key1(&Command{Name: "set", Arity: -3, Flags: wo, Categories: ws, Since: "1.0.0",
			Summary: "Set the string value of a key", Complexity: "O(1)", Handler: cmdSet}),
		key1(&Command{Name: "setnx", Arity: 3, Flags: wo | FlagFast, Categories: wf, Since: "1.0.0",
			Summary: "Set the value of a key, only if the key does not exist", Complexity: "O(1)", Handler: cmdSetNX}),
		key1(&Command{Name: "setex", Arity: 4, Flags: wo, Categories: ws, Since: "2.0.0",
			Summary: "Set the value and expiration of a key", Complexity: "O(1)", Handler: func(c *Ctx) { cmdSetEx(c, 1000) }}),
		key1(&Command{Name: "psetex", Arity: 4, Flags: wo, Categories: ws, Since: "2.6.0",
			Summary: "Set the value and expiration in milliseconds of a key", Complexity: "O(1)", Handler: func(c *Ctx) { cmdSetEx(c, 1) }}),
		key1(&Command{Name: "getset", Arity: 3, Flags: wo | FlagFast, Categories: wf, Since: "1.0.0",
			Summary: "Set the string value of a key and return its old value", Complexity: "O(1)", Handler: cmdGetSet}),
		key1(&Command{Name: "getdel", Arity: 2, Flags: FlagWrite | FlagFast, Categories: wf, Since: "6.2.0",
			Summary: "Get the value of a key and delete the key", Complexity: "O(1)", Handler: cmdGetDel}),
		key1(&Command{Name: "getex", Arity: -2, Flags: FlagWrite | FlagFast, Categories: wf, Since: "6.2.0",
			Summary: "Get the value of a key and optionally set its expiration", Complexity: "O(1)", Handler: cmdGetEx}),
		allKeys(1)(&Command{Name: "mget", Arity: -2, Flags: FlagReadonly | FlagFast, Categories: rf, Since: "1.0.0",
			Summary: "Get the values of all the given keys", Complexity: "O(N) where N is the number of keys to retrieve.", Handler: cmdMGet}),
		allKeys(2)(&Command{Name: "mset", Arity: -3, Flags: wo, Categories: ws, Since: "1.0.1",
			Summary: "Set multiple keys to multiple values", Complexity: "O(N) where N is the number of keys to set.", Handler: func(c *Ctx) { cmdMSet(c, false) }}),
		allKeys(2)(&Command{Name: "msetnx", Arity: -3, Flags: wo, Categories: ws, Since: "1.0.1",
			Summary: "Set multiple keys to multiple values, only if none of the keys exist", Complexity: "O(N) where N is the number of keys to set.", Handler: func(c *Ctx) { cmdMSet(c, true) }}),
		key1(&Command{Name: "append", Arity: 3, Flags: wo | FlagFast, Categories: wf, Since: "2.0.0",
			Summary: "Append a value to a key", Complexity: "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.", Handler: cmdAppend}),
		key1(&Command{Name: "strlen", Arity: 2, Flags: FlagReadonly | FlagFast, Categories: rf, Since: "2.2.0",
			Summary: "Get the length of the value stored in a key", Complexity: "O(1)", Handler: cmdStrLen}),
		key1(&Command{Name: "getrange", Arity: 4, Flags: FlagReadonly, Categories: []string{"read", "string", "slow"}, Since: "2.4.0",
			Summary: "Get a substring of the string stored at a key", Complexity: "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.", Handler: cmdGetRange}),
		key1(&Command{Name: "substr", Arity: 4, Flags: FlagReadonly, Categories: []string{"read", "string", "slow"}, Since: "1.0.0",
			Summary: "Get a substring of the string stored at a key", Complexity: "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.", Handler: cmdGetRange}),
		key1(&Command{Name: "setrange", Arity: 4, Flags: wo, Categories: ws, Since: "2.2.0",
			Summary: "Overwrite part of a string at key starting at the specified offset", Complexity: "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.", Handler: cmdSetRange}),
		key1(&Command{Name: "incr", Arity: 2, Flags: wo | FlagFast, Categories: wf, Since: "1.0.0",
			Summary: "Increment the integer value of a key by one", Complexity: "O(1)", Handler: func(c *Ctx) { incrDecr(c, 1) }}),
		key1(&Command{Name: "decr", Arity: 2, Flags: wo | FlagFast, Categories: wf, Since: "1.0.0",
			Summary: "Decrement the integer value of a key by one", Complexity: "O(1)", Handler: func(c *Ctx) { incrDecr(c, -1) }}),
		key1(&Command{Name: "incrby", Arity: 3, Flags: wo | FlagFast, Categories: wf, Since: "1.0.0",
			Summary: "Increment the integer value of a key by the given amount", Complexity: "O(1)", Handler: cmdIncrBy}),
		key1(&Command{Name: "decrby", Arity: 3, Flags: wo | FlagFast, Categories: wf, Since: "1.0.0",
			Summary: "Decrement the integer value of a key by the given number", Complexity: "O(1)", Handler: cmdDecrBy}),
		key1(&Command{Name: "incrbyfloat", Arity: 3, Flags: wo | FlagFast, Categories: wf, Since: "2.6.0",
			Summary: "Increment the float value of a key by the given amount", Complexity: "O(1)", Handler: cmdIncrByFloat}),
		lcsCommand(),
	}
}

// stringGet looks key up for reading; a non-string replies WRONGTYPE and
// returns ok=false, a missing key nil, true.
func stringGet(c *Ctx, key string, write bool) (*keyspace.Value, bool) {
	return lookupType(c, key, write, keyspace.TypeString)
}

// lookupType looks key up for reading (write=false) or writing. A key of
// another type than typ replies WRONGTYPE and returns ok=false; a missing
// key returns nil, true.
func lookupType(c *Ctx, key string, write bool, typ keyspace.Type) (*keyspace.Value, bool) {
	var v *keyspace.Value
	if write {
		v = c.DB.LookupWrite(key)
	} else {
		v = c.DB.Lookup(key)
	}
	if v != nil && v.Type() != typ {
		c.WrongType()
		return nil, false
	}
	return v, true
}

func cmdGet(c *Ctx) {
	v, ok := stringGet(c, c.Key(1), false)
	if !ok {
		return
	}
	if v == nil {
		c.W.Null()
		return
	}
	c.W.Bulk(v.Bytes())
}

// setOpts are SET's and GETEX's parsed options.
type setOpts struct {
	nx, xx, get, keepTTL, persist bool
	// expireAt is the absolute expiry in unix ms (0 = none); unit records
	// which option set it, for conflict checks.
	expireAt int64
	unit     string
}

// parseExpireArg parses an EX/PX/EXAT/PXAT value into absolute unix ms,
// replying as Redis does on a bad value.
func parseExpireArg(c *Ctx, i int, unit string) (int64, bool) {
	v, ok := c.Int(i)
	if !ok {
		return 0, false
	}
	bad := func() (int64, bool) {
		c.Error("ERR invalid expire time in '" + c.Cmd.FullName() + "' command")
		return 0, false
	}
	if v <= 0 {
		return bad()
	}
	switch unit {
	case "ex", "exat":
		if v > math.MaxInt64/1000 {
			return bad()
		}
		v *= 1000
	}
	switch unit {
	case "ex", "px":
		now := c.Srv.ks.NowMs()
		if v > math.MaxInt64-now {
			return bad()
		}
		v += now
	}
	return v, true
}

// parseSetOpts parses options from argument start; getex restricts them
// to GETEX's set.
func parseSetOpts(c *Ctx, start int, getex bool) (setOpts, bool) {
	var o setOpts
	for i := start; i < len(c.Args); i++ {
		a := c.Args[i]
		hasNext := i+1 < len(c.Args)
		switch {
		case !getex && len(a) == 2 && (a[0]|0x20) == 'n' && (a[1]|0x20) == 'x' && !o.xx:
			o.nx = true
		case !getex && len(a) == 2 && (a[0]|0x20) == 'x' && (a[1]|0x20) == 'x' && !o.nx:
			o.xx = true
		case !getex && c.ArgIs(i, "get"):
			o.get = true
		case !getex && c.ArgIs(i, "keepttl") && (o.unit == "" || o.unit == "keepttl"):
			o.keepTTL = true
			o.unit = "keepttl"
		case getex && c.ArgIs(i, "persist") && (o.unit == "" || o.unit == "persist"):
			o.persist = true
			o.unit = "persist"
		case (c.ArgIs(i, "ex") || c.ArgIs(i, "px") || c.ArgIs(i, "exat") || c.ArgIs(i, "pxat")) &&
			(o.unit == "" || o.unit == lowerASCII(c.Str(i))) && hasNext:
			// Repeating the same option is allowed (the last wins).
			unit := lowerASCII(c.Str(i))
			i++
			at, ok := parseExpireArg(c, i, unit)
			if !ok {
				return o, false
			}
			o.expireAt, o.unit = at, unit
		default:
			c.SyntaxError()
			return o, false
		}
	}
	return o, true
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if ch >= 'A' && ch <= 'Z' {
			b[i] = ch + 'a' - 'A'
		}
	}
	return string(b)
}

func cmdSet(c *Ctx) {
	o := setOpts{}
	if len(c.Args) > 3 {
		var ok bool
		if o, ok = parseSetOpts(c, 3, false); !ok {
			return
		}
	}
	setGeneric(c, c.Key(1), o)
}

// setGeneric is SET with parsed options (also SETEX, PSETEX, SETNX).
func setGeneric(c *Ctx, key string, o setOpts) {
	var old *keyspace.Value
	if o.get || o.nx || o.xx {
		var v *keyspace.Value
		if o.get {
			var ok bool
			if v, ok = stringGet(c, key, true); !ok {
				return
			}
		} else {
			// NX and XX only test existence: a key of any type counts.
			v = c.DB.LookupWrite(key)
		}
		old = v
		if (o.nx && old != nil) || (o.xx && old == nil) {
			if o.get {
				writeOldValue(c, old)
			} else {
				c.W.Null()
			}
			return
		}
		if o.get {
			writeOldValue(c, old)
		}
	}
	val := c.Args[2]
	if o.expireAt > 0 && o.expireAt <= c.Srv.ks.NowMs() {
		// An absolute time already past: the write is a deletion.
		if c.DB.Delete(key) {
			c.DB.SignalModified(key)
			c.Notify('g', "del", key)
			c.Changed(1)
			c.PropagateStrings("DEL", key)
		}
		if !o.get {
			c.W.OK()
		}
		return
	}
	c.DB.Set(key, keyspace.NewString(string(val)), o.keepTTL)
	c.Notify('$', "set", key)
	if o.expireAt > 0 {
		c.DB.SetExpire(key, o.expireAt)
		c.Notify('g', "expire", key)
		if o.unit != "pxat" {
			// Relative or second-based times become PXAT so replicas and
			// the AOF expire the key at the same instant.
			c.Propagate([]byte("SET"), c.Args[1], val, []byte("PXAT"), []byte(strconv.FormatInt(o.expireAt, 10)))
		}
	}
	c.Changed(1)
	if !o.get {
		c.W.OK()
	}
}

func writeOldValue(c *Ctx, old *keyspace.Value) {
	if old == nil {
		c.W.Null()
		return
	}
	c.W.Bulk(old.Bytes())
}

func cmdSetNX(c *Ctx) {
	key := c.Key(1)
	if c.DB.LookupWrite(key) != nil {
		c.W.Int(0)
		return
	}
	c.DB.Set(key, keyspace.NewString(c.Str(2)), false)
	c.Notify('$', "set", key)
	c.Changed(1)
	c.W.Int(1)
}

func cmdSetEx(c *Ctx, unitMs int64) {
	unit := "ex"
	if unitMs == 1 {
		unit = "px"
	}
	at, ok := parseExpireArg(c, 2, unit)
	if !ok {
		return
	}
	key := c.Key(1)
	c.DB.Set(key, keyspace.NewString(c.Str(3)), false)
	c.DB.SetExpire(key, at)
	c.Notify('$', "set", key)
	c.Notify('g', "expire", key)
	c.Changed(1)
	c.Propagate([]byte("SET"), c.Args[1], c.Args[3], []byte("PXAT"), []byte(strconv.FormatInt(at, 10)))
	c.W.OK()
}

func cmdGetSet(c *Ctx) {
	key := c.Key(1)
	old, ok := stringGet(c, key, true)
	if !ok {
		return
	}
	writeOldValue(c, old)
	c.DB.Set(key, keyspace.NewString(c.Str(2)), false)
	c.Notify('$', "set", key)
	c.Changed(1)
	c.Propagate([]byte("SET"), c.Args[1], c.Args[2])
}

func cmdGetDel(c *Ctx) {
	key := c.Key(1)
	v, ok := stringGet(c, key, true)
	if !ok {
		return
	}
	if v == nil {
		c.W.Null()
		return
	}
	c.W.Bulk(v.Bytes())
	c.DB.Delete(key)
	c.DB.SignalModified(key)
	c.Notify('g', "del", key)
	c.Changed(1)
	c.PropagateStrings("DEL", key)
}

func cmdGetEx(c *Ctx) {
	key := c.Key(1)
	o, ok := parseSetOpts(c, 2, true)
	if !ok {
		return
	}
	v, ok := stringGet(c, key, true)
	if !ok {
		return
	}
	if v == nil {
		c.W.Null()
		return
	}
	c.W.Bulk(v.Bytes())
	switch {
	case o.expireAt > 0 && o.expireAt <= c.Srv.ks.NowMs():
		c.DB.Delete(key)
		c.DB.SignalModified(key)
		c.Notify('g', "del", key)
		c.Changed(1)
		c.PropagateStrings("DEL", key)
	case o.expireAt > 0:
		c.DB.SetExpire(key, o.expireAt)
		c.DB.SignalModified(key)
		c.Notify('g', "expire", key)
		c.Changed(1)
		c.PropagateStrings("PEXPIREAT", key, strconv.FormatInt(o.expireAt, 10))
	case o.persist:
		if c.DB.Persist(key) {
			c.DB.SignalModified(key)
			c.Notify('g', "persist", key)
			c.Changed(1)
			c.PropagateStrings("PERSIST", key)
		}
	}
}

func cmdMGet(c *Ctx) {
	c.W.Array(len(c.Args) - 1)
	for i := 1; i < len(c.Args); i++ {
		v := c.DB.Lookup(c.Key(i))
		if v == nil || v.Type() != keyspace.TypeString {
			c.W.Null()
			continue
		}
		c.W.Bulk(v.Bytes())
	}
}

func cmdMSet(c *Ctx, nx bool) {
	if len(c.Args)%2 != 1 {
		c.WrongArity()
		return
	}
	if nx {
		for i := 1; i < len(c.Args); i += 2 {
			if c.DB.LookupWrite(c.Key(i)) != nil {
				c.W.Int(0)
				return
			}
		}
	}
	for i := 1; i < len(c.Args); i += 2 {
		key := c.Key(i)
		c.DB.Set(key, keyspace.NewString(c.Str(i+1)), false)
		c.Notify('$', "set", key)
	}
	c.Changed(int64(len(c.Args) / 2))
	if nx {
		c.W.Int(1)
	} else {
		c.W.OK()
	}
}

// errStringTooBig is the reply for a string that would exceed
// proto-max-bulk-len.
const errStringTooBig = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"

func (c *Ctx) stringTooBig(n int64) bool {
	if n > c.Srv.cfg.ProtoMaxBulkLen {
		c.Error(errStringTooBig)
		return true
	}
	return false
}

func cmdAppend(c *Ctx) {
	key := c.Key(1)
	v, ok := stringGet(c, key, true)
	if !ok {
		return
	}
	add := c.Args[2]
	if v == nil {
		c.DB.Set(key, keyspace.NewString(string(add)), false)
		c.W.Int(int64(len(add)))
	} else {
		if c.stringTooBig(int64(v.Len() + len(add))) {
			return
		}
		b := v.MutableBytes()
		*b = append(*b, add...)
		c.W.Int(int64(len(*b)))
		c.DB.SignalModified(key)
	}
	c.Notify('$', "append", key)
	c.Changed(1)
}

func cmdStrLen(c *Ctx) {
	v, ok := stringGet(c, c.Key(1), false)
	if !ok {
		return
	}
	if v == nil {
		c.W.Int(0)
		return
	}
	c.W.Int(int64(v.Len()))
}

func cmdGetRange(c *Ctx) {
	start, ok := c.Int(2)
	if !ok {
		return
	}
	end, ok := c.Int(3)
	if !ok {
		return
	}
	v, ok := stringGet(c, c.Key(1), false)
	if !ok {
		return
	}
	if v == nil {
		c.W.BulkString("")
		return
	}
	s := v.Bytes()
	n := int64(len(s))
	if start < 0 && end < 0 && start > end {
		c.W.BulkString("")
		return
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start = max(start, 0)
	end = max(end, 0)
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		c.W.BulkString("")
		return
	}
	c.W.Bulk(s[start : end+1])
}

func cmdSetRange(c *Ctx) {
	key := c.Key(1)
	off, ok := c.Int(2)
	if !ok {
		return
	}
	if off < 0 {
		c.Error("ERR offset is out of range")
		return
	}
	val := c.Args[3]
	end := off + int64(len(val))
	if end < off {
		end = math.MaxInt64 // overflowed: too big for any limit
	}
	v, ok := stringGet(c, key, true)
	if !ok {
		return
	}
	if v == nil {
		if len(val) == 0 {
			c.W.Int(0)
			return
		}
		if c.stringTooBig(end) {
			return
		}
		b := make([]byte, end)
		copy(b[off:], val)
		c.DB.Set(key, keyspace.NewRawString(b), false)
		c.W.Int(int64(len(b)))
	} else {
		if len(val) == 0 {
			c.W.Int(int64(v.Len()))
			return
		}
		if c.stringTooBig(end) {
			return
		}
		b := v.MutableBytes()
		if need := int(end); need > len(*b) {
			*b = append(*b, make([]byte, need-len(*b))...)
		}
		copy((*b)[off:], val)
		c.W.Int(int64(len(*b)))
		c.DB.SignalModified(key)
	}
	c.Notify('$', "setrange", key)
	c.Changed(1)
}

func incrDecr(c *Ctx, by int64) {
	key := c.Key(1)
	v, ok := stringGet(c, key, true)
	if !ok {
		return
	}
	var cur int64
	if v != nil {
		n, ok := ParseInt(v.Bytes())
		if !ok {
			c.Error(ErrNotInt)
			return
		}
		cur = n
	}
	if (by < 0 && cur < 0 && by < math.MinInt64-cur) || (by > 0 && cur > 0 && by > math.MaxInt64-cur) {
		c.Error(ErrOverflow)
		return
	}
	cur += by
	s := strconv.FormatInt(cur, 10)
	c.DB.Set(key, keyspace.NewString(s), true)
	c.Notify('$', "incrby", key)
	c.Changed(1)
	c.W.Int(cur)
}

func cmdIncrBy(c *Ctx) {
	by, ok := c.Int(2)
	if !ok {
		return
	}
	incrDecr(c, by)
}

func cmdDecrBy(c *Ctx) {
	by, ok := c.Int(2)
	if !ok {
		return
	}
	if by == math.MinInt64 {
		c.Error("ERR decrement would overflow")
		return
	}
	incrDecr(c, -by)
}

func cmdIncrByFloat(c *Ctx) {
	key := c.Key(1)
	v, ok := stringGet(c, key, true)
	if !ok {
		return
	}
	// Long double arithmetic, as Redis: see hashParseLongDouble.
	sum := hashNewLongDouble()
	if v != nil {
		cur, ok := hashParseLongDouble(v.Bytes())
		if !ok {
			c.Error(ErrNotFloat)
			return
		}
		sum.Set(cur)
	}
	incr, ok := hashParseLongDouble(c.Args[2])
	if !ok {
		c.Error(ErrNotFloat)
		return
	}
	if sum.IsInf() || incr.IsInf() || hashLongDoubleOverflows(sum.Add(sum, incr)) {
		c.Error("ERR increment would produce NaN or Infinity")
		return
	}
	s := hashFormatLongDouble(sum)
	c.DB.Set(key, keyspace.NewString(s), true)
	c.Notify('$', "incrbyfloat", key)
	c.Changed(1)
	c.W.BulkString(s)
	// The float arithmetic must not be redone on replicas: propagate the
	// result.
	c.PropagateStrings("SET", key, s, "KEEPTTL")
}

// lcsCommand is LCS: the longest common subsequence of two strings, with
// its length (LEN) or the matching ranges (IDX), computed by dynamic
// programming as Redis does, so ties resolve to the same ranges.
func lcsCommand() *Command {
	return &Command{Name: "lcs", Arity: -3, Flags: FlagReadonly, FirstKey: 1, LastKey: 2, KeyStep: 1,
		Categories: []string{"read", "string", "slow"}, Group: "string", Since: "7.0.0",
		Summary: "Find longest common substring", Complexity: "O(N*M) where N and M are the lengths of s1 and s2, respectively",
		Handler: cmdLCS}
}

func cmdLCS(c *Ctx) {
	var getLen, getIdx, withMatchLen bool
	minMatch := int64(0)
	for i := 3; i < len(c.Args); i++ {
		switch {
		case c.ArgIs(i, "idx"):
			getIdx = true
		case c.ArgIs(i, "len"):
			getLen = true
		case c.ArgIs(i, "withmatchlen"):
			withMatchLen = true
		case c.ArgIs(i, "minmatchlen") && i+1 < len(c.Args):
			n, ok := c.Int(i + 1)
			if !ok {
				return
			}
			minMatch = max(n, 0)
			i++
		default:
			c.SyntaxError()
			return
		}
	}
	var a, b []byte
	for i, dst := range []*[]byte{&a, &b} {
		v := c.DB.Lookup(c.Key(1 + i))
		if v != nil && v.Type() != keyspace.TypeString {
			c.Error("ERR The specified keys must contain string values")
			return
		}
		if v != nil {
			*dst = v.Bytes()
		}
	}
	if getLen && getIdx {
		c.Error("ERR If you want both the length and indexes, please just use IDX.")
		return
	}
	alen, blen := len(a), len(b)
	if int64(alen+1)*int64(blen+1)*4 > c.Srv.cfg.ProtoMaxBulkLen {
		c.Error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
		return
	}
	w := blen + 1
	dp := make([]uint32, (alen+1)*w)
	for i := 1; i <= alen; i++ {
		for j := 1; j <= blen; j++ {
			if a[i-1] == b[j-1] {
				dp[i*w+j] = dp[(i-1)*w+j-1] + 1
			} else {
				dp[i*w+j] = max(dp[(i-1)*w+j], dp[i*w+j-1])
			}
		}
	}
	n := int(dp[alen*w+blen])
	if getLen {
		c.W.Int(int64(n))
		return
	}
	type match struct{ a0, a1, b0, b1 int }
	var matches []match
	result := make([]byte, n)
	idx := n
	i, j := alen, blen
	aStart, aEnd, bStart, bEnd := alen, 0, 0, 0
	for i > 0 && j > 0 {
		emit := false
		if a[i-1] == b[j-1] {
			result[idx-1] = a[i-1]
			if aStart == alen {
				aStart, aEnd, bStart, bEnd = i-1, i-1, j-1, j-1
			} else if aStart == i && bStart == j {
				aStart--
				bStart--
			} else {
				emit = true
			}
			if aStart == 0 || bStart == 0 {
				emit = true
			}
			idx--
			i--
			j--
		} else {
			if dp[(i-1)*w+j] > dp[i*w+j-1] {
				i--
			} else {
				j--
			}
			if aStart != alen {
				emit = true
			}
		}
		if emit {
			if l := aEnd - aStart + 1; minMatch == 0 || int64(l) >= minMatch {
				matches = append(matches, match{aStart, aEnd, bStart, bEnd})
			}
			aStart = alen
		}
	}
	if !getIdx {
		c.W.Bulk(result)
		return
	}
	c.W.Map(2)
	c.W.BulkString("matches")
	c.W.Array(len(matches))
	for _, m := range matches {
		if withMatchLen {
			c.W.Array(3)
		} else {
			c.W.Array(2)
		}
		c.W.Array(2)
		c.W.Int(int64(m.a0))
		c.W.Int(int64(m.a1))
		c.W.Array(2)
		c.W.Int(int64(m.b0))
		c.W.Int(int64(m.b1))
		if withMatchLen {
			c.W.Int(int64(m.a1 - m.a0 + 1))
		}
	}
	c.W.BulkString("len")
	c.W.Int(int64(n))
}
