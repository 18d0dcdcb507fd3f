package node

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigilkv/vigil/node/keyspace"
	"github.com/vigilkv/vigil/node/types"
)

// zsetCommands: the sorted set family.
func zsetCommands() []*Command {
	wf := []string{"write", "sortedset", "fast"}
	ws := []string{"write", "sortedset", "slow"}
	rf := []string{"read", "sortedset", "fast"}
	rs := []string{"read", "sortedset", "slow"}
	blk := []string{"write", "sortedset", "fast", "blocking"}
	key1 := func(cmd *Command) *Command {
		cmd.FirstKey, cmd.LastKey, cmd.KeyStep, cmd.Group = 1, 1, 1, "sorted_set"
		return cmd
	}
	numkeys := func(cmd *Command, at int) *Command {
		cmd.Keys, cmd.Group = numkeysKeys(at), "sorted_set"
		return cmd
	}
	storeNumkeys := func(cmd *Command) *Command {
		keys := numkeysKeys(2)
		cmd.Keys = func(args [][]byte) []int { return append([]int{1}, keys(args)...) }
		cmd.Group = "sorted_set"
		return cmd
	}
	const logN = "O(log(N)) where N is the number of elements in the sorted set."
	const rangeCx = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned."
	const removeCx = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation."
	return []*Command{
		key1(&Command{Name: "zadd", Arity: -4, Flags: FlagWrite | FlagDenyOOM | FlagFast, Categories: wf, Since: "1.2.0",
			Summary: "Add one or more members to a sorted set, or update its score if it already exists", Complexity: "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
			Handler: func(c *Ctx) { zaddGeneric(c, false) }}),
		key1(&Command{Name: "zincrby", Arity: 4, Flags: FlagWrite | FlagDenyOOM | FlagFast, Categories: wf, Since: "1.2.0",
			Summary: "Increment the score of a member in a sorted set", Complexity: logN, Handler: func(c *Ctx) { zaddGeneric(c, true) }}),
		key1(&Command{Name: "zrem", Arity: -3, Flags: FlagWrite | FlagFast, Categories: wf, Since: "1.2.0",
			Summary: "Remove one or more members from a sorted set", Complexity: "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.", Handler: cmdZRem}),
		key1(&Command{Name: "zscore", Arity: 3, Flags: FlagReadonly | FlagFast, Categories: rf, Since: "1.2.0",
			Summary: "Get the score associated with the given member in a sorted set", Complexity: "O(1)", Handler: cmdZScore}),
		key1(&Command{Name: "zmscore", Arity: -3, Flags: FlagReadonly | FlagFast, Categories: rf, Since: "6.2.0",
			Summary: "Get the score associated with the given members in a sorted set", Complexity: "O(N) where N is the number of members being requested.", Handler: cmdZMScore}),
		key1(&Command{Name: "zcard", Arity: 2, Flags: FlagReadonly | FlagFast, Categories: rf, Since: "1.2.0",
			Summary: "Get the number of members in a sorted set", Complexity: "O(1)", Handler: cmdZCard}),
		key1(&Command{Name: "zcount", Arity: 4, Flags: FlagReadonly | FlagFast, Categories: rf, Since: "2.0.0",
			Summary: "Count the members in a sorted set with scores within the given values", Complexity: logN, Handler: func(c *Ctx) { zcountGeneric(c, false) }}),
		key1(&Command{Name: "zlexcount", Arity: 4, Flags: FlagReadonly | FlagFast, Categories: rf, Since: "2.8.9",
			Summary: "Count the number of members in a sorted set between a given lexicographical range", Complexity: logN, Handler: func(c *Ctx) { zcountGeneric(c, true) }}),
		key1(&Command{Name: "zrange", Arity: -4, Flags: FlagReadonly, Categories: rs, Since: "1.2.0",
			Summary: "Return a range of members in a sorted set", Complexity: rangeCx, Handler: func(c *Ctx) { zrangeGeneric(c, zrangeAuto, dirAuto, false) }}),
		{Name: "zrangestore", Arity: -5, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 2, KeyStep: 1, Categories: ws, Group: "sorted_set", Since: "6.2.0",
			Summary: "Store a range of members from sorted set into another key", Complexity: rangeCx, Handler: func(c *Ctx) { zrangeGeneric(c, zrangeAuto, dirAuto, true) }},
		key1(&Command{Name: "zrangebyscore", Arity: -4, Flags: FlagReadonly, Categories: rs, Since: "1.0.5",
			Summary: "Return a range of members in a sorted set, by score", Complexity: rangeCx, Handler: func(c *Ctx) { zrangeGeneric(c, zrangeScore, dirForward, false) }}),
		key1(&Command{Name: "zrevrangebyscore", Arity: -4, Flags: FlagReadonly, Categories: rs, Since: "2.2.0",
			Summary: "Return a range of members in a sorted set, by score, with scores ordered from high to low", Complexity: rangeCx, Handler: func(c *Ctx) { zrangeGeneric(c, zrangeScore, dirReverse, false) }}),
		key1(&Command{Name: "zrangebylex", Arity: -4, Flags: FlagReadonly, Categories: rs, Since: "2.8.9",
			Summary: "Return a range of members in a sorted set, by lexicographical range", Complexity: rangeCx, Handler: func(c *Ctx) { zrangeGeneric(c, zrangeLex, dirForward, false) }}),
		key1(&Command{Name: "zrevrangebylex", Arity: -4, Flags: FlagReadonly, Categories: rs, Since: "2.8.9",
			Summary: "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", Complexity: rangeCx, Handler: func(c *Ctx) { zrangeGeneric(c, zrangeLex, dirReverse, false) }}),
		key1(&Command{Name: "zrevrange", Arity: -4, Flags: FlagReadonly, Categories: rs, Since: "1.2.0",
			Summary: "Return a range of members in a sorted set, by index, with scores ordered from high to low", Complexity: rangeCx, Handler: func(c *Ctx) { zrangeGeneric(c, zrangeRank, dirReverse, false) }}),
		key1(&Command{Name: "zrank", Arity: -3, Flags: FlagReadonly | FlagFast, Categories: rf, Since: "2.0.0",
			Summary: "Determine the index of a member in a sorted set", Complexity: logN, Handler: func(c *Ctx) { zrankGeneric(c, false) }}),
		key1(&Command{Name: "zrevrank", Arity: -3, Flags: FlagReadonly | FlagFast, Categories: rf, Since: "2.0.0",
			Summary: "Determine the index of a member in a sorted set, with scores ordered from high to low", Complexity: logN, Handler: func(c *Ctx) { zrankGeneric(c, true) }}),
		key1(&Command{Name: "zremrangebyrank", Arity: 4, Flags: FlagWrite, Categories: ws, Since: "2.0.0",
			Summary: "Remove all members in a sorted set within the given indexes", Complexity: removeCx, Handler: func(c *Ctx) { zremrangeGeneric(c, zrangeRank) }}),
		key1(&Command{Name: "zremrangebyscore", Arity: 4, Flags: FlagWrite, Categories: ws, Since: "1.2.0",
			Summary: "Remove all members in a sorted set within the given scores", Complexity: removeCx, Handler: func(c *Ctx) { zremrangeGeneric(c, zrangeScore) }}),
		key1(&Command{Name: "zremrangebylex", Arity: 4, Flags: FlagWrite, Categories: ws, Since: "2.8.9",
			Summary: "Remove all members in a sorted set between the given lexicographical range", Complexity: removeCx, Handler: func(c *Ctx) { zremrangeGeneric(c, zrangeLex) }}),
		key1(&Command{Name: "zpopmin", Arity: -2, Flags: FlagWrite | FlagFast, Categories: wf, Since: "5.0.0",
			Summary: "Remove and return members with the lowest scores in a sorted set", Complexity: "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", Handler: func(c *Ctx) { zpopCommand(c, false) }}),
		key1(&Command{Name: "zpopmax", Arity: -2, Flags: FlagWrite | FlagFast, Categories: wf, Since: "5.0.0",
			Summary: "Remove and return members with the highest scores in a sorted set", Complexity: "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", Handler: func(c *Ctx) { zpopCommand(c, true) }}),
		numkeys(&Command{Name: "zmpop", Arity: -4, Flags: FlagWrite, Categories: ws, Since: "7.0.0",
			Summary: "Remove and return members with scores in a sorted set", Complexity: "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
			Handler: func(c *Ctx) { zmpopGeneric(c, 1, false) }}, 1),
		{Name: "bzpopmin", Arity: -3, Flags: FlagWrite | FlagNoScript | FlagFast | FlagBlocking, FirstKey: 1, LastKey: -2, KeyStep: 1, Categories: blk, Group: "sorted_set", Since: "5.0.0",
			Summary: "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", Complexity: "O(log(N)) with N being the number of elements in the sorted set.", Handler: func(c *Ctx) { bzpopCommand(c, false) }},
		{Name: "bzpopmax", Arity: -3, Flags: FlagWrite | FlagNoScript | FlagFast | FlagBlocking, FirstKey: 1, LastKey: -2, KeyStep: 1, Categories: blk, Group: "sorted_set", Since: "5.0.0",
			Summary: "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", Complexity: "O(log(N)) with N being the number of elements in the sorted set.", Handler: func(c *Ctx) { bzpopCommand(c, true) }},
		numkeys(&Command{Name: "bzmpop", Arity: -5, Flags: FlagWrite | FlagBlocking, Categories: []string{"write", "sortedset", "slow", "blocking"}, Since: "7.0.0",
			Summary: "Remove and return members with scores in a sorted set or block until one is available", Complexity: "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
			Handler: func(c *Ctx) { zmpopGeneric(c, 2, true) }}, 2),
		numkeys(&Command{Name: "zunion", Arity: -3, Flags: FlagReadonly, Categories: rs, Since: "6.2.0",
			Summary: "Add multiple sorted sets", Complexity: "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
			Handler: func(c *Ctx) { zsetOpGeneric(c, zsetUnion, false, false) }}, 1),
		numkeys(&Command{Name: "zinter", Arity: -3, Flags: FlagReadonly, Categories: rs, Since: "6.2.0",
			Summary: "Intersect multiple sorted sets", Complexity: "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
			Handler: func(c *Ctx) { zsetOpGeneric(c, zsetInter, false, false) }}, 1),
		numkeys(&Command{Name: "zdiff", Arity: -3, Flags: FlagReadonly, Categories: rs, Since: "6.2.0",
			Summary: "Subtract multiple sorted sets", Complexity: "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
			Handler: func(c *Ctx) { zsetOpGeneric(c, zsetDiff, false, false) }}, 1),
		storeNumkeys(&Command{Name: "zunionstore", Arity: -4, Flags: FlagWrite | FlagDenyOOM, Categories: ws, Since: "2.0.0",
			Summary: "Add multiple sorted sets and store the resulting sorted set in a new key", Complexity: "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
			Handler: func(c *Ctx) { zsetOpGeneric(c, zsetUnion, true, false) }}),
		storeNumkeys(&Command{Name: "zinterstore", Arity: -4, Flags: FlagWrite | FlagDenyOOM, Categories: ws, Since: "2.0.0",
			Summary: "Intersect multiple sorted sets and store the resulting sorted set in a new key", Complexity: "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
			Handler: func(c *Ctx) { zsetOpGeneric(c, zsetInter, true, false) }}),
		storeNumkeys(&Command{Name: "zdiffstore", Arity: -4, Flags: FlagWrite | FlagDenyOOM, Categories: ws, Since: "6.2.0",
			Summary: "Subtract multiple sorted sets and store the resulting sorted set in a new key", Complexity: "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
			Handler: func(c *Ctx) { zsetOpGeneric(c, zsetDiff, true, false) }}),
		numkeys(&Command{Name: "zintercard", Arity: -3, Flags: FlagReadonly, Categories: rs, Since: "7.0.0",
			Summary: "Intersect multiple sorted sets and return the cardinality of the result", Complexity: "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.",
			Handler: func(c *Ctx) { zsetOpGeneric(c, zsetInter, false, true) }}, 1),
		key1(&Command{Name: "zrandmember", Arity: -2, Flags: FlagReadonly, Categories: rs, Since: "6.2.0",
			Summary: "Get one or multiple random elements from a sorted set", Complexity: "O(N) where N is the number of elements returned", Handler: cmdZRandMember}),
		key1(&Command{Name: "zscan", Arity: -3, Flags: FlagReadonly, Categories: rs, Since: "2.8.0",
			Summary: "Incrementally iterate sorted sets elements and associated scores", Complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..", Handler: cmdZScan}),
	}
}

const (
	errZMinMaxFloat = "ERR min or max is not a float"
	errZMinMaxLex   = "ERR min or max not valid string range item"
)

// zsetGet looks up a sorted set; WRONGTYPE replies and returns ok=false.
func zsetGet(c *Ctx, key string, write bool) (*types.ZSet, bool) {
	v, ok := lookupType(c, key, write, keyspace.TypeZSet)
	if v == nil {
		return nil, ok
	}
	return v.ZSet(), true
}

// zsetDeleteIfEmpty removes an emptied key, notifying "del", or signals
// the modification.
func zsetDeleteIfEmpty(c *Ctx, key string, z *types.ZSet) {
	if z.Len() == 0 {
		c.DB.Delete(key)
		c.Notify('g', "del", key)
	} else {
		c.DB.SignalModified(key)
	}
}

func (c *Ctx) zsetLimits() (int, int) {
	return c.Srv.cfg.ZSetMaxListpackEntries, c.Srv.cfg.ZSetMaxListpackValue
}

// zsetWithScoresHeader starts a reply of n members, with scores when
// asked: flat pairs in RESP2, a [member, score] array each in RESP3.
func zsetWithScoresHeader(c *Ctx, n int, withScores bool) {
	if withScores && c.W.Proto < 3 {
		c.W.Array(2 * n)
	} else {
		c.W.Array(n)
	}
}

func zsetWriteElem(c *Ctx, m []byte, s float64, withScores bool) {
	if !withScores {
		c.W.Bulk(m)
		return
	}
	if c.W.Proto >= 3 {
		c.W.Array(2)
	}
	c.W.Bulk(m)
	c.W.Double(s)
}

// zaddGeneric is ZADD and ZINCRBY (incr).
func zaddGeneric(c *Ctx, incr bool) {
	var nx, xx, gt, lt, ch bool
	i := 2
	for ; i < len(c.Args); i++ {
		switch {
		case c.ArgIs(i, "nx"):
			nx = true
		case c.ArgIs(i, "xx"):
			xx = true
		case c.ArgIs(i, "gt"):
			gt = true
		case c.ArgIs(i, "lt"):
			lt = true
		case c.ArgIs(i, "ch"):
			ch = true
		case c.ArgIs(i, "incr"):
			incr = true
		default:
			goto parsed
		}
	}
parsed:
	elems := len(c.Args) - i
	if elems%2 != 0 || elems == 0 {
		c.SyntaxError()
		return
	}
	elems /= 2
	switch {
	case nx && xx:
		c.Error("ERR XX and NX options at the same time are not compatible")
		return
	case (gt && nx) || (lt && nx) || (gt && lt):
		c.Error("ERR GT, LT, and/or NX options at the same time are not compatible")
		return
	case incr && elems > 1:
		c.Error("ERR INCR option supports a single increment-element pair")
		return
	}
	scores := make([]float64, elems)
	for j := range scores {
		f, ok := ParseFloat(c.Args[i+2*j])
		if !ok {
			c.Error(ErrNotFloat)
			return
		}
		scores[j] = f
	}
	key := c.Key(1)
	z, ok := zsetGet(c, key, true)
	if !ok {
		return
	}
	maxEntries, maxValue := c.zsetLimits()
	var added, updated, processed int
	var score float64
	if z == nil && !xx {
		// As redis 7.0: the first member decides whether a new set starts
		// as a skiplist.
		z = types.NewZSetFor(1, len(c.Args[i+1]), maxEntries, maxValue)
		c.DB.Add(key, keyspace.NewZSet(z))
	}
	for j := 0; z != nil && j < elems; j++ {
		member := c.Args[i+2*j+1]
		score = scores[j]
		cur, pos, exists := z.Find(member)
		switch {
		case exists:
			if nx {
				continue
			}
			if incr {
				score += cur
				if math.IsNaN(score) {
					c.Error("ERR resulting score is not a number (NaN)")
					zaddNotify(c, key, incr, added+updated)
					return
				}
			}
			if (lt && score >= cur) || (gt && score <= cur) {
				continue
			}
			processed++
			if score != cur {
				z.SetAt(pos, member, score)
				updated++
			}
		case !xx:
			z.Set(member, score, maxEntries, maxValue)
			added++
			processed++
		}
	}
	if incr {
		if processed > 0 {
			c.W.Double(score)
		} else {
			c.W.Null()
		}
	} else if ch {
		c.W.Int(int64(added + updated))
	} else {
		c.W.Int(int64(added))
	}
	zaddNotify(c, key, incr, added+updated)
}

func zaddNotify(c *Ctx, key string, incr bool, changes int) {
	if changes == 0 {
		return
	}
	c.DB.SignalModified(key)
	if incr {
		c.Notify('z', "zincr", key)
	} else {
		c.Notify('z', "zadd", key)
	}
	c.Changed(int64(changes))
}

func cmdZRem(c *Ctx) {
	key := c.Key(1)
	z, ok := zsetGet(c, key, true)
	if !ok {
		return
	}
	n := 0
	for i := 2; z != nil && i < len(c.Args); i++ {
		if z.Remove(c.Args[i]) {
			n++
			if z.Len() == 0 {
				break
			}
		}
	}
	if n > 0 {
		c.Notify('z', "zrem", key)
		zsetDeleteIfEmpty(c, key, z)
		c.Changed(int64(n))
	}
	c.W.Int(int64(n))
}

func cmdZScore(c *Ctx) {
	z, ok := zsetGet(c, c.Key(1), false)
	if !ok {
		return
	}
	if z == nil {
		c.W.Null()
		return
	}
	s, found := z.Score(c.Args[2])
	if !found {
		c.W.Null()
		return
	}
	c.W.Double(s)
}

func cmdZMScore(c *Ctx) {
	z, ok := zsetGet(c, c.Key(1), false)
	if !ok {
		return
	}
	c.W.Array(len(c.Args) - 2)
	for i := 2; i < len(c.Args); i++ {
		if z == nil {
			c.W.Null()
			continue
		}
		if s, found := z.Score(c.Args[i]); found {
			c.W.Double(s)
		} else {
			c.W.Null()
		}
	}
}

func cmdZCard(c *Ctx) {
	z, ok := zsetGet(c, c.Key(1), false)
	if !ok {
		return
	}
	if z == nil {
		c.W.Int(0)
		return
	}
	c.W.Int(int64(z.Len()))
}

// parseScoreBound parses a ZRANGEBYSCORE bound: "(" makes it exclusive;
// like Redis's strtod-based parser, an empty number is 0.
func parseScoreBound(b []byte) (f float64, ex, ok bool) {
	if len(b) > 0 && b[0] == '(' {
		ex, b = true, b[1:]
	}
	if len(b) == 0 {
		return 0, ex, true
	}
	f, ok = ParseFloat(b)
	return f, ex, ok
}

func parseScoreRange(minArg, maxArg []byte) (types.ScoreRange, bool) {
	var r types.ScoreRange
	var ok1, ok2 bool
	r.Min, r.MinEx, ok1 = parseScoreBound(minArg)
	r.Max, r.MaxEx, ok2 = parseScoreBound(maxArg)
	return r, ok1 && ok2
}

func parseLexBound(b []byte) (types.LexBound, bool) {
	if len(b) == 0 {
		return types.LexBound{}, false
	}
	switch b[0] {
	case '+', '-':
		if len(b) != 1 {
			return types.LexBound{}, false
		}
		if b[0] == '+' {
			return types.LexBound{Inf: 1}, true
		}
		return types.LexBound{Inf: -1}, true
	case '(':
		return types.LexBound{Value: b[1:], Ex: true}, true
	case '[':
		return types.LexBound{Value: b[1:]}, true
	}
	return types.LexBound{}, false
}

func parseLexRange(minArg, maxArg []byte) (types.LexRange, bool) {
	lo, ok1 := parseLexBound(minArg)
	hi, ok2 := parseLexBound(maxArg)
	return types.LexRange{Min: lo, Max: hi}, ok1 && ok2
}

// zsetParseRange parses min and max as a score or lex interval and
// returns the rank interval [first, end) it selects in z (nil: empty).
type zsetRanker func(z *types.ZSet) (int, int)

func zsetParseRange(c *Ctx, kind zrangeKind, minArg, maxArg []byte) (zsetRanker, bool) {
	if kind == zrangeLex {
		r, ok := parseLexRange(minArg, maxArg)
		if !ok {
			c.Error(errZMinMaxLex)
			return nil, false
		}
		return r.Ranks, true
	}
	r, ok := parseScoreRange(minArg, maxArg)
	if !ok {
		c.Error(errZMinMaxFloat)
		return nil, false
	}
	return r.Ranks, true
}

func zcountGeneric(c *Ctx, lex bool) {
	kind := zrangeScore
	if lex {
		kind = zrangeLex
	}
	ranks, ok := zsetParseRange(c, kind, c.Args[2], c.Args[3])
	if !ok {
		return
	}
	z, ok := zsetGet(c, c.Key(1), false)
	if !ok {
		return
	}
	if z == nil {
		c.W.Int(0)
		return
	}
	first, end := ranks(z)
	c.W.Int(int64(end - first))
}

type zrangeKind int

const (
	zrangeAuto zrangeKind = iota
	zrangeRank
	zrangeScore
	zrangeLex
)

type zrangeDir int

const (
	dirAuto zrangeDir = iota
	dirForward
	dirReverse
)

// rankRange sanitizes start/stop indexes (negative from the end) into
// the inclusive ascending interval they select, or ok=false if empty.
func rankRange(start, end int64, n int) (int, int, bool) {
	if start < 0 {
		start += int64(n)
	}
	if end < 0 {
		end += int64(n)
	}
	if start < 0 {
		start = 0
	}
	if start > end || start >= int64(n) {
		return 0, 0, false
	}
	if end >= int64(n) {
		end = int64(n) - 1
	}
	return int(start), int(end), true
}

// zrangeGeneric is ZRANGE, ZRANGESTORE and the legacy range commands,
// which preset the range kind and direction.
func zrangeGeneric(c *Ctx, kind zrangeKind, dir zrangeDir, store bool) {
	src := 1
	if store {
		src = 2
	}
	minIdx, maxIdx := src+1, src+2
	withScores := false
	offset, limit := int64(0), int64(-1)
	for j := src + 3; j < len(c.Args); j++ {
		left := len(c.Args) - j - 1
		switch {
		case !store && c.ArgIs(j, "withscores"):
			withScores = true
		case c.ArgIs(j, "limit") && left >= 2:
			var ok bool
			if offset, ok = c.Int(j + 1); !ok {
				return
			}
			if limit, ok = c.Int(j + 2); !ok {
				return
			}
			j += 2
		case dir == dirAuto && c.ArgIs(j, "rev"):
			dir = dirReverse
		case kind == zrangeAuto && c.ArgIs(j, "bylex"):
			kind = zrangeLex
		case kind == zrangeAuto && c.ArgIs(j, "byscore"):
			kind = zrangeScore
		default:
			c.SyntaxError()
			return
		}
	}
	if dir == dirAuto {
		dir = dirForward
	}
	if kind == zrangeAuto {
		kind = zrangeRank
	}
	if limit != -1 && kind == zrangeRank {
		c.Error("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
		return
	}
	if withScores && kind == zrangeLex {
		c.Error("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
		return
	}
	reverse := dir == dirReverse
	if reverse && kind != zrangeRank {
		minIdx, maxIdx = maxIdx, minIdx
	}
	var start, stop int64
	var ranks zsetRanker
	if kind == zrangeRank {
		var ok bool
		if start, ok = c.Int(minIdx); !ok {
			return
		}
		if stop, ok = c.Int(maxIdx); !ok {
			return
		}
	} else {
		var ok bool
		if ranks, ok = zsetParseRange(c, kind, c.Args[minIdx], c.Args[maxIdx]); !ok {
			return
		}
	}
	z, ok := zsetGet(c, c.Key(src), store)
	if !ok {
		return
	}
	// lo..hi (inclusive, ascending ranks) is what to emit, walking down
	// from hi when reverse.
	lo, hi, nonEmpty := 0, -1, false
	if z != nil {
		if kind == zrangeRank {
			var a, b int
			if a, b, nonEmpty = rankRange(start, stop, z.Len()); nonEmpty {
				lo, hi = a, b
				if reverse {
					lo, hi = z.Len()-1-b, z.Len()-1-a
				}
			}
		} else {
			first, end := ranks(z)
			n := int64(end - first)
			if offset >= 0 && offset < n {
				take := n - offset
				if limit >= 0 {
					take = min(take, limit)
				}
				if take > 0 {
					nonEmpty = true
					if reverse {
						hi = end - 1 - int(offset)
						lo = hi - int(take) + 1
					} else {
						lo = first + int(offset)
						hi = lo + int(take) - 1
					}
				}
			}
		}
	}
	count := 0
	if nonEmpty {
		count = hi - lo + 1
	}
	if store {
		zrangeStore(c, z, lo, hi, count, reverse)
		return
	}
	zsetWithScoresHeader(c, count, withScores)
	if count > 0 {
		z.Range(lo, hi, reverse, func(m []byte, s float64) bool {
			zsetWriteElem(c, m, s, withScores)
			return true
		})
	}
}

// zsetStoreResult replaces dst with the result (or deletes it when the
// result is empty), notifying event, and replies with its size.
func zsetStoreResult(c *Ctx, dst string, result *types.ZSet, event string) {
	if result == nil || result.Len() == 0 {
		if c.DB.LookupWrite(dst) != nil {
			c.DB.Delete(dst)
			c.Notify('g', "del", dst)
			c.Changed(1)
		}
		c.W.Int(0)
		return
	}
	c.DB.Set(dst, keyspace.NewZSet(result), false)
	c.Notify('z', event, dst)
	c.Changed(1)
	c.W.Int(int64(result.Len()))
}

func zrangeStore(c *Ctx, z *types.ZSet, lo, hi, count int, reverse bool) {
	var out *types.ZSet
	if count > 0 {
		// Built the way redis 7.0 builds it: a listpack first, converted
		// when it outgrows the limits, so the first entries' scores pass
		// through their text form (-0 becomes 0) exactly as there.
		maxEntries, maxValue := c.zsetLimits()
		out = types.NewZSet()
		z.Range(lo, hi, reverse, func(m []byte, s float64) bool {
			out.Set(m, s, maxEntries, maxValue)
			return true
		})
	}
	zsetStoreResult(c, c.Key(1), out, "zrangestore")
}

func zrankGeneric(c *Ctx, reverse bool) {
	withScore := false
	if len(c.Args) > 4 {
		c.WrongArity()
		return
	}
	if len(c.Args) == 4 {
		if !c.ArgIs(3, "withscore") {
			c.SyntaxError()
			return
		}
		withScore = true
	}
	z, ok := zsetGet(c, c.Key(1), false)
	if !ok {
		return
	}
	var rank int
	var score float64
	found := false
	if z != nil {
		rank, score, found = z.Rank(c.Args[2])
	}
	if !found {
		if withScore {
			c.W.NullArray()
		} else {
			c.W.Null()
		}
		return
	}
	if reverse {
		rank = z.Len() - 1 - rank
	}
	if withScore {
		c.W.Array(2)
		c.W.Int(int64(rank))
		c.W.Double(score)
		return
	}
	c.W.Int(int64(rank))
}

func zremrangeGeneric(c *Ctx, kind zrangeKind) {
	var start, stop int64
	var ranks zsetRanker
	if kind == zrangeRank {
		var ok bool
		if start, ok = c.Int(2); !ok {
			return
		}
		if stop, ok = c.Int(3); !ok {
			return
		}
	} else {
		var ok bool
		if ranks, ok = zsetParseRange(c, kind, c.Args[2], c.Args[3]); !ok {
			return
		}
	}
	key := c.Key(1)
	z, ok := zsetGet(c, key, true)
	if !ok {
		return
	}
	if z == nil {
		c.W.Int(0)
		return
	}
	var first, end int
	if kind == zrangeRank {
		a, b, nonEmpty := rankRange(start, stop, z.Len())
		if nonEmpty {
			first, end = a, b+1
		}
	} else {
		first, end = ranks(z)
	}
	n := z.DeleteRanks(first, end)
	if n > 0 {
		event := map[zrangeKind]string{zrangeRank: "zremrangebyrank", zrangeScore: "zremrangebyscore", zrangeLex: "zremrangebylex"}[kind]
		c.Notify('z', event, key)
		zsetDeleteIfEmpty(c, key, z)
		c.Changed(int64(n))
	}
	c.W.Int(int64(n))
}

// zsetPop removes up to count members from the low (or, max, the high)
// end of z at key, notifying, and returns them.
func zsetPop(c *Ctx, key string, z *types.ZSet, count int, max bool) (members []string, scores []float64) {
	n := min(count, z.Len())
	lo, hi := 0, n-1
	if max {
		lo, hi = z.Len()-n, z.Len()-1
	}
	z.Range(lo, hi, max, func(m []byte, s float64) bool {
		members = append(members, string(m))
		scores = append(scores, s)
		return true
	})
	z.DeleteRanks(lo, hi+1)
	if max {
		c.Notify('z', "zpopmax", key)
	} else {
		c.Notify('z', "zpopmin", key)
	}
	zsetDeleteIfEmpty(c, key, z)
	c.Changed(int64(n))
	return members, scores
}

func zpopName(max bool) string {
	if max {
		return "ZPOPMAX"
	}
	return "ZPOPMIN"
}

func zpopCommand(c *Ctx, max bool) {
	if len(c.Args) > 3 {
		c.SyntaxError()
		return
	}
	count, hasCount := int64(1), len(c.Args) == 3
	if hasCount {
		var ok bool
		if count, ok = c.IntErr(2, ErrNotPositive); !ok {
			return
		}
		if count < 0 {
			c.Error(ErrNotPositive)
			return
		}
	}
	key := c.Key(1)
	z, ok := zsetGet(c, key, true)
	if !ok {
		return
	}
	if z == nil || count == 0 {
		c.W.Array(0)
		return
	}
	members, scores := zsetPop(c, key, z, int(min(count, math.MaxInt32)), max)
	nested := hasCount && c.W.Proto >= 3
	if nested {
		c.W.Array(len(members))
	} else {
		c.W.Array(2 * len(members))
	}
	for i, m := range members {
		if nested {
			c.W.Array(2)
		}
		c.W.BulkString(m)
		c.W.Double(scores[i])
	}
}

func bzpopCommand(c *Ctx, max bool) {
	timeout, ok := c.ParseTimeout(len(c.Args) - 1)
	if !ok {
		return
	}
	keys := make([]string, 0, len(c.Args)-2)
	for i := 1; i < len(c.Args)-1; i++ {
		key := c.Key(i)
		keys = append(keys, key)
		z, ok := zsetGet(c, key, true)
		if !ok {
			return
		}
		if z == nil || z.Len() == 0 {
			continue
		}
		members, scores := zsetPop(c, key, z, 1, max)
		c.W.Array(3)
		c.W.Bulk(c.Args[i])
		c.W.BulkString(members[0])
		c.W.Double(scores[0])
		c.PropagateStrings(zpopName(max), key)
		return
	}
	c.Block(keys, timeout, nil)
}

// zmpopGeneric is ZMPOP (numkeys at 1) and BZMPOP (timeout at 1, numkeys
// at 2).
func zmpopGeneric(c *Ctx, numIdx int, blocking bool) {
	var timeout time.Duration
	if blocking {
		var ok bool
		if timeout, ok = c.ParseTimeout(1); !ok {
			return
		}
	}
	whereIdx, ok := mpopKeys(c, numIdx)
	if !ok {
		return
	}
	var max bool
	switch {
	case c.ArgIs(whereIdx, "min"):
	case c.ArgIs(whereIdx, "max"):
		max = true
	default:
		c.SyntaxError()
		return
	}
	count, ok := mpopCount(c, whereIdx)
	if !ok {
		return
	}
	first := numIdx + 1
	for i := first; i < int(whereIdx); i++ {
		key := c.Key(i)
		z, ok := zsetGet(c, key, true)
		if !ok {
			return
		}
		if z == nil || z.Len() == 0 {
			continue
		}
		members, scores := zsetPop(c, key, z, int(min(count, math.MaxInt32)), max)
		c.W.Array(2)
		c.W.Bulk(c.Args[i])
		c.W.Array(len(members))
		for j, m := range members {
			c.W.Array(2)
			c.W.BulkString(m)
			c.W.Double(scores[j])
		}
		c.PropagateStrings(zpopName(max), key, strconv.Itoa(len(members)))
		return
	}
	if !blocking {
		c.W.NullArray()
		return
	}
	wait := make([]string, 0, int(whereIdx)-first)
	for i := first; i < int(whereIdx); i++ {
		wait = append(wait, c.Key(i))
	}
	c.Block(wait, timeout, nil)
}

type zsetOpKind int

const (
	zsetUnion zsetOpKind = iota
	zsetInter
	zsetDiff
)

type zsetAggregate int

const (
	aggSum zsetAggregate = iota
	aggMin
	aggMax
)

// zsetOperand is one input of ZUNION/ZINTER/ZDIFF: a sorted set, or a
// plain set whose members all score 1.
type zsetOperand struct {
	z      *types.ZSet
	s      *types.Set
	weight float64
}

func (o *zsetOperand) len() int {
	switch {
	case o.z != nil:
		return o.z.Len()
	case o.s != nil:
		return o.s.Len()
	}
	return 0
}

func (o *zsetOperand) score(m []byte) (float64, bool) {
	switch {
	case o.z != nil:
		return o.z.Score(m)
	case o.s != nil:
		return 1, o.s.Contains(m)
	}
	return 0, false
}

func (o *zsetOperand) forEach(fn func(m []byte, s float64)) {
	switch {
	case o.z != nil:
		o.z.ForEach(func(m []byte, s float64) bool { fn(m, s); return true })
	case o.s != nil:
		o.s.ForEach(func(m string) bool { fn([]byte(m), 1); return true })
	}
}

func zsetAggregateScores(agg zsetAggregate, acc, v float64) float64 {
	// Plain comparisons, not min/max: those order -0 below 0, Redis
	// keeps the accumulated value on ties.
	switch agg {
	case aggMin:
		if v < acc {
			return v
		}
		return acc
	case aggMax:
		if v > acc {
			return v
		}
		return acc
	}
	acc += v
	if math.IsNaN(acc) { // inf + -inf
		return 0
	}
	return acc
}

func weighted(s, w float64) float64 {
	v := s * w
	if math.IsNaN(v) { // 0 * inf
		return 0
	}
	return v
}

// zsetOpGeneric is ZUNION, ZINTER, ZDIFF, their STORE forms and
// ZINTERCARD (cardinalityOnly).
func zsetOpGeneric(c *Ctx, kind zsetOpKind, store, cardinalityOnly bool) {
	numIdx := 1
	if store {
		numIdx = 2
	}
	setnum, ok := c.Int(numIdx)
	if !ok {
		return
	}
	if setnum < 1 {
		c.Error("ERR at least 1 input key is needed for '" + c.Cmd.Name + "' command")
		return
	}
	if setnum > int64(len(c.Args)-numIdx-1) {
		c.SyntaxError()
		return
	}
	ops := make([]zsetOperand, setnum)
	j := numIdx + 1
	for i := range ops {
		var v *keyspace.Value
		if store {
			v = c.DB.LookupWrite(c.Key(j))
		} else {
			v = c.DB.Lookup(c.Key(j))
		}
		if v != nil {
			switch v.Type() {
			case keyspace.TypeZSet:
				ops[i].z = v.ZSet()
			case keyspace.TypeSet:
				ops[i].s = v.Set()
			default:
				c.WrongType()
				return
			}
		}
		ops[i].weight = 1
		j++
	}
	agg, withScores, limit := aggSum, false, int64(0)
	for j < len(c.Args) {
		left := len(c.Args) - j
		switch {
		case kind != zsetDiff && !cardinalityOnly && left >= int(setnum)+1 && c.ArgIs(j, "weights"):
			j++
			for i := range ops {
				w, ok := ParseFloat(c.Args[j])
				if !ok {
					c.Error("ERR weight value is not a float")
					return
				}
				ops[i].weight = w
				j++
			}
		case kind != zsetDiff && !cardinalityOnly && left >= 2 && c.ArgIs(j, "aggregate"):
			switch {
			case c.ArgIs(j+1, "sum"):
				agg = aggSum
			case c.ArgIs(j+1, "min"):
				agg = aggMin
			case c.ArgIs(j+1, "max"):
				agg = aggMax
			default:
				c.SyntaxError()
				return
			}
			j += 2
		case !store && !cardinalityOnly && c.ArgIs(j, "withscores"):
			withScores = true
			j++
		case cardinalityOnly && left >= 2 && c.ArgIs(j, "limit"):
			l, ok := c.IntErr(j+1, "ERR LIMIT can't be negative")
			if !ok {
				return
			}
			if l < 0 {
				c.Error("ERR LIMIT can't be negative")
				return
			}
			limit = l
			j += 2
		default:
			c.SyntaxError()
			return
		}
	}
	members, scores := computeZSetOp(ops, kind, agg, int(limit))
	if cardinalityOnly {
		c.W.Int(int64(len(members)))
		return
	}
	maxEntries, maxValue := c.zsetLimits()
	if !store {
		// A reply-only result stays a skiplist, which keeps scores exact
		// (a listpack would turn -0 into 0), as in Redis.
		maxEntries = -1
	}
	maxLen := 0
	for _, m := range members {
		maxLen = max(maxLen, len(m))
	}
	result := types.NewZSetFor(len(members), maxLen, maxEntries, maxValue)
	for i, m := range members {
		result.Set([]byte(m), scores[i], maxEntries, maxValue)
	}
	if store {
		event := [...]string{zsetUnion: "zunionstore", zsetInter: "zinterstore", zsetDiff: "zdiffstore"}[kind]
		zsetStoreResult(c, c.Key(1), result, event)
		return
	}
	zsetWithScoresHeader(c, result.Len(), withScores)
	result.ForEach(func(m []byte, s float64) bool {
		zsetWriteElem(c, m, s, withScores)
		return true
	})
}

// computeZSetOp evaluates the operation, returning members and their
// scores in no particular order. A limit > 0 stops an intersection early
// (ZINTERCARD).
func computeZSetOp(ops []zsetOperand, kind zsetOpKind, agg zsetAggregate, limit int) ([]string, []float64) {
	var members []string
	var scores []float64
	// Like Redis, intersections and unions visit the inputs from the
	// smallest; the order decides ties between -0 and 0 and the rounding
	// of sums.
	order := make([]int, len(ops))
	for i := range order {
		order[i] = i
	}
	if kind != zsetDiff {
		slices.SortStableFunc(order, func(a, b int) int { return ops[a].len() - ops[b].len() })
	}
	switch kind {
	case zsetInter:
		// Walk the smallest input, probing the others.
		if ops[order[0]].len() == 0 {
			return nil, nil
		}
		first := &ops[order[0]]
		done := false
		first.forEach(func(m []byte, s float64) {
			if done {
				return
			}
			acc := weighted(s, first.weight)
			for _, i := range order[1:] {
				v, ok := ops[i].score(m)
				if !ok {
					return
				}
				acc = zsetAggregateScores(agg, acc, weighted(v, ops[i].weight))
			}
			members = append(members, string(m))
			scores = append(scores, acc)
			done = limit > 0 && len(members) >= limit
		})
	case zsetUnion:
		index := map[string]int{}
		for _, i := range order {
			op := &ops[i]
			op.forEach(func(m []byte, s float64) {
				v := weighted(s, op.weight)
				if k, ok := index[string(m)]; ok {
					scores[k] = zsetAggregateScores(agg, scores[k], v)
					return
				}
				index[string(m)] = len(members)
				members = append(members, string(m))
				scores = append(scores, v)
			})
		}
	case zsetDiff:
		ops[0].forEach(func(m []byte, s float64) {
			for i := 1; i < len(ops); i++ {
				if _, ok := ops[i].score(m); ok {
					return
				}
			}
			members = append(members, string(m))
			scores = append(scores, s)
		})
	}
	return members, scores
}

func cmdZRandMember(c *Ctx) {
	if len(c.Args) == 2 {
		z, ok := zsetGet(c, c.Key(1), false)
		if !ok {
			return
		}
		if z == nil {
			c.W.Null()
			return
		}
		var buf [24]byte
		m, _ := z.Random(c.Srv.ks.Rand, buf[:0])
		c.W.Bulk(m)
		return
	}
	n, ok := c.Int(2)
	if !ok {
		return
	}
	if n == math.MinInt64 {
		c.Error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
		return
	}
	withScores := false
	if len(c.Args) > 4 || (len(c.Args) == 4 && !c.ArgIs(3, "withscores")) {
		c.SyntaxError()
		return
	}
	if len(c.Args) == 4 {
		withScores = true
		if n < -math.MaxInt64/2 || n > math.MaxInt64/2 {
			c.Error("ERR value is out of range")
			return
		}
	}
	z, ok := zsetGet(c, c.Key(1), false)
	if !ok {
		return
	}
	if z == nil || n == 0 {
		c.W.Array(0)
		return
	}
	r := c.Srv.ks.Rand
	var buf [24]byte
	if n < 0 {
		zsetWithScoresHeader(c, int(-n), withScores)
		for i := int64(0); i < -n; i++ {
			m, s := z.Random(r, buf[:0])
			zsetWriteElem(c, m, s, withScores)
		}
		return
	}
	size := z.Len()
	if n >= int64(size) {
		// The whole set, highest first, as redis 7.0 replies.
		zsetWithScoresHeader(c, size, withScores)
		z.Range(0, size-1, true, func(m []byte, s float64) bool {
			zsetWriteElem(c, m, s, withScores)
			return true
		})
		return
	}
	// A partial Fisher-Yates shuffle of the ranks picks n distinct members.
	idx := make([]int, size)
	for i := range idx {
		idx[i] = i
	}
	for i := 0; i < int(n); i++ {
		j := i + r.IntN(size-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	zsetWithScoresHeader(c, int(n), withScores)
	for _, i := range idx[:n] {
		m, s := z.At(i, buf[:0])
		zsetWriteElem(c, m, s, withScores)
	}
}

func cmdZScan(c *Ctx) {
	scanCollection(c, zsetGet, func(z *types.ZSet, cursor uint64, keep func([]byte) bool, out *[][]byte) uint64 {
		return z.Scan(cursor, func(m []byte, s float64) {
			if keep(m) {
				*out = append(*out, append([]byte(nil), m...), types.AppendScore(nil, s))
			}
		})
	})
}

// zsetIsBlockingGroup reports whether a blocked command of group waits
// for keys of type t (a list waiter is not served by a new sorted set).
func zsetIsBlockingGroup(group string, t keyspace.Type) bool {
	switch strings.ToLower(group) {
	case "list":
		return t == keyspace.TypeList
	case "sorted_set":
		return t == keyspace.TypeZSet
	}
	return true
}
