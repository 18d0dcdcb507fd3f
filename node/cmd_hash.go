package node

import (
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/vigilkv/vigil/node/keyspace"
	"github.com/vigilkv/vigil/node/types"
)

// hashCommands: the hash family.
func hashCommands() []*Command {
	wf := []string{"write", "hash", "fast"}
	rf := []string{"read", "hash", "fast"}
	rs := []string{"read", "hash", "slow"}
	key1 := func(cmd *Command) *Command {
		cmd.FirstKey, cmd.LastKey, cmd.KeyStep, cmd.Group = 1, 1, 1, "hash"
		return cmd
	}
	return []*Command{
		key1(&Command{Name: "hset", Arity: -4, Flags: FlagWrite | FlagDenyOOM | FlagFast, Categories: wf, Since: "2.0.0",
			Summary:    "Set the string value of a hash field",
			Complexity: "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.",
			Handler:    func(c *Ctx) { hashSet(c, false) }}),
		key1(&Command{Name: "hsetnx", Arity: 4, Flags: FlagWrite | FlagDenyOOM | FlagFast, Categories: wf, Since: "2.0.0",
			Summary: "Set the value of a hash field, only if the field does not exist", Complexity: "O(1)", Handler: cmdHSetNX}),
		key1(&Command{Name: "hget", Arity: 3, Flags: FlagReadonly | FlagFast, Categories: rf, Since: "2.0.0",
			Summary: "Get the value of a hash field", Complexity: "O(1)", Handler: cmdHGet}),
		key1(&Command{Name: "hmset", Arity: -4, Flags: FlagWrite | FlagDenyOOM | FlagFast, Categories: wf, Since: "2.0.0",
			Summary: "Set multiple hash fields to multiple values", Complexity: "O(N) where N is the number of fields being set.",
			Handler: func(c *Ctx) { hashSet(c, true) }}),
		key1(&Command{Name: "hmget", Arity: -3, Flags: FlagReadonly | FlagFast, Categories: rf, Since: "2.0.0",
			Summary: "Get the values of all the given hash fields", Complexity: "O(N) where N is the number of fields being requested.",
			Handler: cmdHMGet}),
		key1(&Command{Name: "hdel", Arity: -3, Flags: FlagWrite | FlagFast, Categories: wf, Since: "2.0.0",
			Summary: "Delete one or more hash fields", Complexity: "O(N) where N is the number of fields to be removed.", Handler: cmdHDel}),
		key1(&Command{Name: "hexists", Arity: 3, Flags: FlagReadonly | FlagFast, Categories: rf, Since: "2.0.0",
			Summary: "Determine if a hash field exists", Complexity: "O(1)", Handler: cmdHExists}),
		key1(&Command{Name: "hlen", Arity: 2, Flags: FlagReadonly | FlagFast, Categories: rf, Since: "2.0.0",
			Summary: "Get the number of fields in a hash", Complexity: "O(1)", Handler: cmdHLen}),
		key1(&Command{Name: "hstrlen", Arity: 3, Flags: FlagReadonly | FlagFast, Categories: rf, Since: "3.2.0",
			Summary: "Get the length of the value of a hash field", Complexity: "O(1)", Handler: cmdHStrLen}),
		key1(&Command{Name: "hgetall", Arity: 2, Flags: FlagReadonly, Categories: rs, Since: "2.0.0",
			Summary: "Get all the fields and values in a hash", Complexity: "O(N) where N is the size of the hash.",
			Handler: func(c *Ctx) { hashGetAll(c, true, true) }}),
		key1(&Command{Name: "hkeys", Arity: 2, Flags: FlagReadonly, Categories: rs, Since: "2.0.0",
			Summary: "Get all the fields in a hash", Complexity: "O(N) where N is the size of the hash.",
			Handler: func(c *Ctx) { hashGetAll(c, true, false) }}),
		key1(&Command{Name: "hvals", Arity: 2, Flags: FlagReadonly, Categories: rs, Since: "2.0.0",
			Summary: "Get all the values in a hash", Complexity: "O(N) where N is the size of the hash.",
			Handler: func(c *Ctx) { hashGetAll(c, false, true) }}),
		key1(&Command{Name: "hincrby", Arity: 4, Flags: FlagWrite | FlagDenyOOM | FlagFast, Categories: wf, Since: "2.0.0",
			Summary: "Increment the integer value of a hash field by the given number", Complexity: "O(1)", Handler: cmdHIncrBy}),
		key1(&Command{Name: "hincrbyfloat", Arity: 4, Flags: FlagWrite | FlagDenyOOM | FlagFast, Categories: wf, Since: "2.6.0",
			Summary: "Increment the float value of a hash field by the given amount", Complexity: "O(1)", Handler: cmdHIncrByFloat}),
		key1(&Command{Name: "hrandfield", Arity: -2, Flags: FlagReadonly, Categories: rs, Since: "6.2.0",
			Summary: "Get one or multiple random fields from a hash", Complexity: "O(N) where N is the number of fields returned",
			Handler: cmdHRandField}),
		key1(&Command{Name: "hscan", Arity: -3, Flags: FlagReadonly, Categories: rs, Since: "2.8.0",
			Summary:    "Incrementally iterate hash fields and associated values",
			Complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
			Handler:    cmdHScan}),
	}
}

// hashGet looks key up for reading (write=false) or writing. A key of
// another type replies WRONGTYPE and returns ok=false; a missing key
// returns nil, true.
func hashGet(c *Ctx, key string, write bool) (*types.Hash, bool) {
	v, ok := lookupType(c, key, write, keyspace.TypeHash)
	if v == nil {
		return nil, ok
	}
	return v.Hash(), true
}

// hashGetOrCreate returns the hash at key for writing, creating it
// (unstored: call hashStore) if missing.
func hashGetOrCreate(c *Ctx, key string) (h *types.Hash, created, ok bool) {
	h, ok = hashGet(c, key, true)
	if !ok {
		return nil, false, false
	}
	if h == nil {
		return types.NewHash(), true, true
	}
	return h, false, true
}

// hashStore adds a new hash or signals the change of an existing one.
// A new key is stored with Set, not Add: on a replica a logically expired
// key is hidden from lookups yet still present, and Add requires absence.
func hashStore(c *Ctx, key string, h *types.Hash, created bool) {
	if created {
		c.DB.Set(key, keyspace.NewHash(h), false)
	} else {
		c.DB.SignalModified(key)
	}
}

// hashLimits is the configured listpack bound of hashes.
func hashLimits(c *Ctx) (entries, value int) {
	return c.Srv.cfg.HashMaxListpackEntries, c.Srv.cfg.HashMaxListpackValue
}

func hashSet(c *Ctx, multi bool) {
	if len(c.Args)%2 == 1 {
		c.WrongArity()
		return
	}
	key := c.Key(1)
	h, created, ok := hashGetOrCreate(c, key)
	if !ok {
		return
	}
	maxEntries, maxValue := hashLimits(c)
	h.PrepareSet(maxValue, c.Args[2:]...)
	added := 0
	for i := 2; i < len(c.Args); i += 2 {
		if h.Set(c.Args[i], c.Args[i+1], maxEntries, maxValue) {
			added++
		}
	}
	hashStore(c, key, h, created)
	if multi {
		c.W.OK()
	} else {
		c.W.Int(int64(added))
	}
	c.Notify('h', "hset", key)
	c.Changed(int64(len(c.Args)-2) / 2)
}

func cmdHSetNX(c *Ctx) {
	key := c.Key(1)
	h, created, ok := hashGetOrCreate(c, key)
	if !ok {
		return
	}
	if !created && h.Exists(c.Args[2]) {
		c.W.Int(0)
		return
	}
	maxEntries, maxValue := hashLimits(c)
	h.Set(c.Args[2], c.Args[3], maxEntries, maxValue)
	hashStore(c, key, h, created)
	c.W.Int(1)
	c.Notify('h', "hset", key)
	c.Changed(1)
}

func cmdHGet(c *Ctx) {
	h, ok := hashGet(c, c.Key(1), false)
	if !ok {
		return
	}
	if h == nil {
		c.W.Null()
		return
	}
	var buf [types.ListpackMaxIntLen]byte
	v, found := h.Get(c.Args[2], buf[:0])
	if !found {
		c.W.Null()
		return
	}
	c.W.Bulk(v)
}

func cmdHMGet(c *Ctx) {
	h, ok := hashGet(c, c.Key(1), false)
	if !ok {
		return
	}
	c.W.Array(len(c.Args) - 2)
	var buf [types.ListpackMaxIntLen]byte
	for _, f := range c.Args[2:] {
		if h == nil {
			c.W.Null()
			continue
		}
		if v, found := h.Get(f, buf[:0]); found {
			c.W.Bulk(v)
		} else {
			c.W.Null()
		}
	}
}

func cmdHDel(c *Ctx) {
	key := c.Key(1)
	h, ok := hashGet(c, key, true)
	if !ok {
		return
	}
	if h == nil {
		c.W.Int(0)
		return
	}
	deleted := 0
	removed := false
	for _, f := range c.Args[2:] {
		if h.Delete(f) {
			deleted++
			if h.Len() == 0 {
				c.DB.Delete(key)
				removed = true
				break
			}
		}
	}
	if deleted > 0 {
		if !removed {
			c.DB.SignalModified(key)
		}
		c.Notify('h', "hdel", key)
		if removed {
			c.Notify('g', "del", key)
		}
		c.Changed(int64(deleted))
	}
	c.W.Int(int64(deleted))
}

func cmdHExists(c *Ctx) {
	h, ok := hashGet(c, c.Key(1), false)
	if !ok {
		return
	}
	if h != nil && h.Exists(c.Args[2]) {
		c.W.Int(1)
	} else {
		c.W.Int(0)
	}
}

func cmdHLen(c *Ctx) {
	h, ok := hashGet(c, c.Key(1), false)
	if !ok {
		return
	}
	if h == nil {
		c.W.Int(0)
		return
	}
	c.W.Int(int64(h.Len()))
}

func cmdHStrLen(c *Ctx) {
	h, ok := hashGet(c, c.Key(1), false)
	if !ok {
		return
	}
	if h == nil {
		c.W.Int(0)
		return
	}
	c.W.Int(int64(h.StrLen(c.Args[2])))
}

func hashGetAll(c *Ctx, fields, values bool) {
	h, ok := hashGet(c, c.Key(1), false)
	if !ok {
		return
	}
	n := 0
	if h != nil {
		n = h.Len()
	}
	if fields && values {
		c.W.Map(n)
	} else {
		c.W.Array(n)
	}
	if h == nil {
		return
	}
	h.ForEach(func(f, v []byte) bool {
		if fields {
			c.W.Bulk(f)
		}
		if values {
			c.W.Bulk(v)
		}
		return true
	})
}

func cmdHIncrBy(c *Ctx) {
	incr, ok := c.Int(3)
	if !ok {
		return
	}
	key := c.Key(1)
	h, created, ok := hashGetOrCreate(c, key)
	if !ok {
		return
	}
	var cur int64
	var buf [types.ListpackMaxIntLen]byte
	if v, found := h.Get(c.Args[2], buf[:0]); found {
		if cur, ok = ParseInt(v); !ok {
			c.Error("ERR hash value is not an integer")
			return
		}
	}
	if (incr < 0 && cur < 0 && incr < math.MinInt64-cur) || (incr > 0 && cur > 0 && incr > math.MaxInt64-cur) {
		c.Error(ErrOverflow)
		return
	}
	cur += incr
	maxEntries, maxValue := hashLimits(c)
	h.Set(c.Args[2], strconv.AppendInt(buf[:0], cur, 10), maxEntries, maxValue)
	hashStore(c, key, h, created)
	c.W.Int(cur)
	c.Notify('h', "hincrby", key)
	c.Changed(1)
}

func cmdHIncrByFloat(c *Ctx) {
	incr, ok := hashParseLongDouble(c.Args[3])
	if !ok {
		c.Error(ErrNotFloat)
		return
	}
	if incr.IsInf() {
		c.Error("ERR value is NaN or Infinity")
		return
	}
	key := c.Key(1)
	h, created, ok := hashGetOrCreate(c, key)
	if !ok {
		return
	}
	sum := hashNewLongDouble()
	var buf [types.ListpackMaxIntLen]byte
	if v, found := h.Get(c.Args[2], buf[:0]); found {
		cur, ok := hashParseLongDouble(v)
		if !ok {
			c.Error("ERR hash value is not a float")
			return
		}
		sum.Set(cur)
	}
	sum.Add(sum, incr)
	if hashLongDoubleOverflows(sum) {
		c.Error("ERR increment would produce NaN or Infinity")
		return
	}
	out := hashFormatLongDouble(sum)
	maxEntries, maxValue := hashLimits(c)
	h.Set(c.Args[2], []byte(out), maxEntries, maxValue)
	hashStore(c, key, h, created)
	c.W.BulkString(out)
	c.Notify('h', "hincrbyfloat", key)
	c.Changed(1)
	// Replicas and the AOF get the result, not the arithmetic, so float
	// formatting can never make them diverge.
	c.Propagate([]byte("HSET"), c.Args[1], c.Args[2], []byte(out))
}

// Redis computes HINCRBYFLOAT in x87 long double (64-bit mantissa, 15-bit
// exponent) and prints it with "%.17Lf" minus trailing zeros. A float64
// would print 10.5+0.1 as 10.59999999999999964, so the arithmetic is
// emulated with big.Float at the same precision and range.
const (
	hashLDPrec = 64
	// hashLDMaxExp: |x| >= 2^16384 overflows to infinity.
	hashLDMaxExp = 16384
	// hashLDMinExp: below the smallest denormal (2^-16445) strtold
	// underflows to zero and Redis rejects the input.
	hashLDMinExp = -16445
)

func hashNewLongDouble() *big.Float {
	return new(big.Float).SetPrec(hashLDPrec).SetMode(big.ToNearestEven)
}

func hashLongDoubleOverflows(f *big.Float) bool {
	return f.IsInf() || (f.Sign() != 0 && f.MantExp(nil) > hashLDMaxExp)
}

// hashParseLongDouble parses like Redis's string2ld (strtold with no
// leading space, nothing trailing, no NaN, no overflow or underflow to
// zero). Infinity parses (callers decide what to do with it).
func hashParseLongDouble(b []byte) (*big.Float, bool) {
	if len(b) == 0 || len(b) >= 5*1024 {
		return nil, false
	}
	s := string(b)
	if !hashIsStrtoldSyntax(s) {
		return nil, false
	}
	f := hashNewLongDouble()
	body := strings.TrimLeft(s, "+-")
	switch strings.ToLower(body) {
	case "inf", "infinity":
		f.SetInf(s[0] == '-')
		return f, true
	}
	if _, _, err := f.Parse(s, 0); err != nil {
		return nil, false
	}
	if hashLongDoubleOverflows(f) {
		return nil, false
	}
	// big.Float's exponent range is far wider than a long double's, so a
	// value that strtold would flush to zero (ERANGE) is still non-zero
	// here and can be refused.
	if f.Sign() != 0 && f.MantExp(nil) <= hashLDMinExp {
		return nil, false
	}
	return f, true
}

// hashIsStrtoldSyntax checks the whole string is one number as strtold
// reads it: decimal with optional fraction and exponent, hexadecimal
// (0x...) with optional fraction and p-exponent, or inf/infinity/nan.
func hashIsStrtoldSyntax(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	rest := strings.ToLower(s[i:])
	switch rest {
	case "inf", "infinity":
		return true
	case "":
		return false
	}
	digits := func(hex bool) int {
		n := 0
		for i < len(s) {
			ch := s[i]
			if ch >= '0' && ch <= '9' || hex && (ch >= 'a' && ch <= 'f' || ch >= 'A' && ch <= 'F') {
				i++
				n++
				continue
			}
			break
		}
		return n
	}
	hex := strings.HasPrefix(rest, "0x")
	if hex {
		i += 2
	}
	n := digits(hex)
	if i < len(s) && s[i] == '.' {
		i++
		n += digits(hex)
	}
	if n == 0 {
		return false
	}
	if i < len(s) && (hex && (s[i] == 'p' || s[i] == 'P') || !hex && (s[i] == 'e' || s[i] == 'E')) {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits(false) == 0 {
			return false
		}
	}
	return i == len(s)
}

// hashFormatLongDouble prints like "%.17Lf" with trailing zeros (and a
// bare point) removed, and "-0" as "0".
func hashFormatLongDouble(f *big.Float) string {
	s := f.Text('f', 17)
	if strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

func cmdHRandField(c *Ctx) {
	if len(c.Args) >= 3 {
		l, ok := c.Int(2)
		if !ok {
			return
		}
		if l == math.MinInt64 {
			c.Error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
			return
		}
		withValues := false
		if len(c.Args) > 4 || (len(c.Args) == 4 && !c.ArgIs(3, "withvalues")) {
			c.SyntaxError()
			return
		} else if len(c.Args) == 4 {
			withValues = true
			if l < -math.MaxInt64/2 || l > math.MaxInt64/2 {
				c.Error("ERR value is out of range")
				return
			}
		}
		hashRandFieldCount(c, l, withValues)
		return
	}
	h, ok := hashGet(c, c.Key(1), false)
	if !ok {
		return
	}
	if h == nil {
		c.W.Null()
		return
	}
	var fb, vb [types.ListpackMaxIntLen]byte
	f, _ := h.Random(c.DB.Keyspace().Rand, fb[:0], vb[:0])
	c.W.Bulk(f)
}

// hashRandMaxRepeat bounds HRANDFIELD's negative count. Redis tries to
// build any reply asked for (and dies of it past memory); holding the
// keyspace lock for billions of elements is no better, so a reply is
// refused beyond this.
const hashRandMaxRepeat = 1 << 31

func hashRandFieldCount(c *Ctx, l int64, withValues bool) {
	h, ok := hashGet(c, c.Key(1), false)
	if !ok {
		return
	}
	if h == nil || l == 0 {
		c.W.Array(0)
		return
	}
	unique := l > 0
	count := l
	if !unique {
		count = -l
	}
	emit := func(f, v []byte) {
		if withValues && c.W.Proto > 2 {
			c.W.Array(2)
		}
		c.W.Bulk(f)
		if withValues {
			c.W.Bulk(v)
		}
	}
	header := func(n int) {
		if withValues && c.W.Proto == 2 {
			c.W.Array(2 * n)
		} else {
			c.W.Array(n)
		}
	}
	r := c.DB.Keyspace().Rand
	if !unique || count == 1 {
		if count > hashRandMaxRepeat {
			c.Error("ERR value is out of range")
			return
		}
		header(int(count))
		h.RandomPairs(r, int(count), emit)
		return
	}
	n := int(min(count, int64(h.Len())))
	header(n)
	h.RandomDistinct(r, n, emit)
}

func cmdHScan(c *Ctx) {
	scanCollection(c, hashGet, func(h *types.Hash, cursor uint64, keep func([]byte) bool, out *[][]byte) uint64 {
		return h.Scan(cursor, func(f, v []byte) {
			if keep(f) {
				*out = append(*out, append([]byte(nil), f...), append([]byte(nil), v...))
			}
		})
	})
}
