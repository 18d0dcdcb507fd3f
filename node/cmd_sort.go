package node

import (
	"bytes"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/vigilkv/vigil/node/keyspace"
	"github.com/vigilkv/vigil/node/types"
)

// sortCommands: the sort family.
func sortCommands() []*Command {
	const complexity = "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N)."
	return []*Command{
		{Name: "sort", Arity: -2, Flags: FlagWrite | FlagDenyOOM, Keys: sortKeys,
			Categories: []string{"write", "set", "sortedset", "list", "slow", "dangerous"}, Group: "generic", Since: "1.0.0",
			Summary: "Sort the elements in a list, set or sorted set", Complexity: complexity,
			Handler: func(c *Ctx) { sortGeneric(c, false) }},
		{Name: "sort_ro", Arity: -2, Flags: FlagReadonly, FirstKey: 1, LastKey: 1, KeyStep: 1,
			Categories: []string{"read", "set", "sortedset", "list", "slow", "dangerous"}, Group: "generic", Since: "7.0.0",
			Summary: "Sort the elements in a list, set or sorted set. Read-only variant of SORT.", Complexity: complexity,
			Handler: func(c *Ctx) { sortGeneric(c, true) }},
	}
}

// sortKeys finds SORT's keys: the sorted key and the STORE destination
// (the last STORE wins, as in Redis's sortGetKeys). BY and GET patterns
// name keys only through the data, so they are not reported.
func sortKeys(args [][]byte) []int {
	keys := []int{1}
	store := -1
	for i := 2; i < len(args); i++ {
		switch strings.ToLower(string(args[i])) {
		case "limit":
			i += 2
		case "get", "by":
			i++
		case "store":
			if i+1 < len(args) {
				store = i + 1
			}
			i++
		}
	}
	if store > 0 {
		keys = append(keys, store)
	}
	return keys
}

// sortItem is one element being sorted with its sort key.
type sortItem struct {
	elem  string
	score float64
	cmp   []byte // the BY value for ALPHA sorting; nil if missing
}

// sortElements returns the elements of a list, set or sorted set value.
// ok is false (WRONGTYPE) for other types.
func sortElements(v *keyspace.Value) (elems []string, ordered bool, ok bool) {
	switch v.Type() {
	case keyspace.TypeList:
		return v.List().Strings(), true, true
	case keyspace.TypeSet:
		return v.Set().Members(), false, true
	case keyspace.TypeZSet:
		return v.ZSet().Members(), true, true
	}
	return nil, false, false
}

func sortGeneric(c *Ctx, readonly bool) {
	var (
		desc, alpha, dontSort  bool
		limitStart, limitCount int64 = 0, -1
		sortBy                 []byte
		hasBy                  bool
		getOps                 [][]byte
		storeKey               string
		hasStore               bool
	)
	for j := 2; j < len(c.Args); j++ {
		left := len(c.Args) - j - 1
		switch {
		case c.ArgIs(j, "asc"):
			desc = false
		case c.ArgIs(j, "desc"):
			desc = true
		case c.ArgIs(j, "alpha"):
			alpha = true
		case c.ArgIs(j, "limit") && left >= 2:
			var ok bool
			if limitStart, ok = c.Int(j + 1); !ok {
				return
			}
			if limitCount, ok = c.Int(j + 2); !ok {
				return
			}
			j += 2
		case !readonly && c.ArgIs(j, "store") && left >= 1:
			storeKey, hasStore = c.Key(j+1), true
			j++
		case c.ArgIs(j, "by") && left >= 1:
			sortBy, hasBy = c.Args[j+1], true
			// A pattern without '*' names no keys: nothing to sort by.
			dontSort = bytes.IndexByte(sortBy, '*') < 0
			j++
		case c.ArgIs(j, "get") && left >= 1:
			getOps = append(getOps, c.Args[j+1])
			j++
		default:
			c.SyntaxError()
			return
		}
	}

	var elems []string
	ordered := true // a list or sorted set has an order of its own
	isSet := false
	if v := c.DB.Lookup(c.Key(1)); v != nil {
		var ok bool
		if elems, ordered, ok = sortElements(v); !ok {
			c.WrongType()
			return
		}
		isSet = v.Type() == keyspace.TypeSet
	}
	// A set has no stable order: when the result is stored, sort it so
	// replicas and the AOF get the same list.
	if dontSort && isSet && hasStore {
		dontSort, alpha, hasBy = false, true, false
	}

	n := int64(len(elems))
	start := max(limitStart, 0)
	end := n - 1
	if limitCount >= 0 {
		end = start + limitCount - 1
		if end < start-1 { // overflow
			end = n - 1
		}
	}
	if start >= n {
		start, end = n-1, n-2
	}
	if end >= n {
		end = n - 1
	}

	items := make([]sortItem, len(elems))
	for i, e := range elems {
		items[i].elem = e
	}
	switch {
	case dontSort && ordered:
		// Native order (reversed for DESC), LIMIT applied directly.
		if desc {
			slices.Reverse(items)
		}
	case !dontSort:
		if !sortScore(c, items, sortBy, hasBy, alpha) {
			c.Error("ERR One or more scores can't be converted into double")
			return
		}
		slices.SortStableFunc(items, func(a, b sortItem) int {
			cmp := sortCompare(&a, &b, alpha, hasBy)
			if desc {
				return -cmp
			}
			return cmp
		})
	}
	var out []sortItem
	if end >= start {
		out = items[start : end+1]
	}

	if !hasStore {
		outLen := len(out)
		if len(getOps) > 0 {
			outLen *= len(getOps)
		}
		c.W.Array(outLen)
		for i := range out {
			if len(getOps) == 0 {
				c.W.BulkString(out[i].elem)
				continue
			}
			for _, pat := range getOps {
				if v, found := sortLookup(c, pat, out[i].elem); found {
					c.W.BulkString(v)
				} else {
					c.W.Null()
				}
			}
		}
		return
	}

	l := listNew(c)
	for i := range out {
		if len(getOps) == 0 {
			l.PushTailString(out[i].elem)
			continue
		}
		for _, pat := range getOps {
			v, _ := sortLookup(c, pat, out[i].elem)
			l.PushTailString(v)
		}
	}
	if l.Len() > 0 {
		c.DB.Set(storeKey, keyspace.NewList(l), false)
		c.Notify('l', "sortstore", storeKey)
		c.Changed(int64(l.Len()))
	} else if c.DB.Delete(storeKey) {
		c.Notify('g', "del", storeKey)
		c.Changed(1)
	}
	c.W.Int(int64(l.Len()))
}

// sortScore fills the sort keys: numbers (strtod, as Redis) unless
// alpha, the BY values when sorting by a pattern. It reports false if a
// value does not convert to a number.
func sortScore(c *Ctx, items []sortItem, sortBy []byte, hasBy, alpha bool) bool {
	ok := true
	for i := range items {
		by := items[i].elem
		if hasBy {
			v, found := sortLookup(c, sortBy, items[i].elem)
			if !found {
				continue
			}
			by = v
		}
		if alpha {
			if hasBy {
				items[i].cmp = []byte(by)
			}
			continue
		}
		f, good := sortStrtod(by)
		if !good {
			ok = false
		}
		items[i].score = f
	}
	return ok
}

// sortCompare is Redis's sortCompare before the DESC inversion. Strings
// compare as bytes (strcoll in the C locale).
func sortCompare(a, b *sortItem, alpha, byPattern bool) int {
	if !alpha {
		switch {
		case a.score > b.score:
			return 1
		case a.score < b.score:
			return -1
		}
		return strings.Compare(a.elem, b.elem)
	}
	if byPattern {
		switch {
		case a.cmp == nil && b.cmp == nil:
			return 0
		case a.cmp == nil:
			return -1
		case b.cmp == nil:
			return 1
		}
		return bytes.Compare(a.cmp, b.cmp)
	}
	return strings.Compare(a.elem, b.elem)
}

// sortLookup resolves a BY/GET pattern for an element (Redis's
// lookupKeyByPattern): "#" is the element itself; otherwise the first
// '*' is replaced by the element and the result names a string key, or,
// with "->field" after the '*', a hash field.
func sortLookup(c *Ctx, pattern []byte, elem string) (string, bool) {
	if len(pattern) == 1 && pattern[0] == '#' {
		return elem, true
	}
	star := bytes.IndexByte(pattern, '*')
	if star < 0 {
		return "", false
	}
	keyEnd := len(pattern)
	var field []byte
	if f := bytes.Index(pattern[star+1:], []byte("->")); f >= 0 && star+1+f+2 < len(pattern) {
		keyEnd = star + 1 + f
		field = pattern[keyEnd+2:]
	}
	key := string(pattern[:star]) + elem + string(pattern[star+1:keyEnd])
	v := c.DB.Lookup(key)
	if v == nil {
		return "", false
	}
	if field != nil {
		if v.Type() != keyspace.TypeHash {
			return "", false
		}
		var buf [types.ListpackMaxIntLen]byte
		val, found := v.Hash().Get(field, buf[:0])
		if !found {
			return "", false
		}
		return string(val), true
	}
	if v.Type() != keyspace.TypeString {
		return "", false
	}
	return v.Str(), true
}

// sortStrtod converts like C's strtod as SORT checks it: leading white
// space skipped, the whole rest consumed, no NaN, no overflow or
// underflow. An empty string is 0, as strtod leaves it.
func sortStrtod(s string) (float64, bool) {
	if s == "" {
		return 0, true
	}
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	if t == "" || !hashIsStrtoldSyntax(t) {
		return 0, false
	}
	body := strings.ToLower(strings.TrimLeft(t, "+-"))
	if body == "inf" || body == "infinity" {
		if t[0] == '-' {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	}
	var f float64
	if strings.HasPrefix(body, "0x") {
		bf, _, err := new(big.Float).SetPrec(200).Parse(t, 0)
		if err != nil {
			return 0, false
		}
		var acc big.Accuracy
		f, acc = bf.Float64()
		if math.IsInf(f, 0) || (f == 0 && bf.Sign() != 0) || (acc != big.Exact && f != 0 && math.Abs(f) < 0x1p-1022) {
			return 0, false
		}
		return f, true
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return 0, false
	}
	// strtod sets ERANGE when a non-zero input underflows to zero or to
	// a subnormal.
	if f == 0 && strings.ContainsAny(strings.SplitN(body, "e", 2)[0], "123456789") {
		return 0, false
	}
	if f != 0 && math.Abs(f) < 0x1p-1022 {
		return 0, false
	}
	return f, true
}
