package node

import (
	"math"
	"strconv"
	"time"

	"github.com/vigilkv/vigil/node/keyspace"
	"github.com/vigilkv/vigil/node/types"
)

// listCommands: the list family.
func listCommands() []*Command {
	const (
		pushComplexity = "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."
		mpopComplexity = "O(N+M) where N is the number of provided keys and M is the number of elements returned."
	)
	rw := []string{"write", "list", "slow"}
	rwFast := []string{"write", "list", "fast"}
	ro := []string{"read", "list", "slow"}
	blk := []string{"write", "list", "slow", "blocking"}
	return []*Command{
		{Name: "lpush", Arity: -3, Flags: FlagWrite | FlagDenyOOM | FlagFast, FirstKey: 1, LastKey: 1, KeyStep: 1,
			Categories: rwFast, Group: "list", Since: "1.0.0", Summary: "Prepend one or multiple elements to a list",
			Complexity: pushComplexity, Handler: func(c *Ctx) { listPush(c, true, false) }},
		{Name: "rpush", Arity: -3, Flags: FlagWrite | FlagDenyOOM | FlagFast, FirstKey: 1, LastKey: 1, KeyStep: 1,
			Categories: rwFast, Group: "list", Since: "1.0.0", Summary: "Append one or multiple elements to a list",
			Complexity: pushComplexity, Handler: func(c *Ctx) { listPush(c, false, false) }},
		{Name: "lpushx", Arity: -3, Flags: FlagWrite | FlagDenyOOM | FlagFast, FirstKey: 1, LastKey: 1, KeyStep: 1,
			Categories: rwFast, Group: "list", Since: "2.2.0", Summary: "Prepend an element to a list, only if the list exists",
			Complexity: pushComplexity, Handler: func(c *Ctx) { listPush(c, true, true) }},
		{Name: "rpushx", Arity: -3, Flags: FlagWrite | FlagDenyOOM | FlagFast, FirstKey: 1, LastKey: 1, KeyStep: 1,
			Categories: rwFast, Group: "list", Since: "2.2.0", Summary: "Append an element to a list, only if the list exists",
			Complexity: pushComplexity, Handler: func(c *Ctx) { listPush(c, false, true) }},
		{Name: "lpop", Arity: -2, Flags: FlagWrite | FlagFast, FirstKey: 1, LastKey: 1, KeyStep: 1,
			Categories: rwFast, Group: "list", Since: "1.0.0", Summary: "Remove and get the first elements in a list",
			Complexity: "O(N) where N is the number of elements returned", Handler: func(c *Ctx) { listPop(c, true) }},
		{Name: "rpop", Arity: -2, Flags: FlagWrite | FlagFast, FirstKey: 1, LastKey: 1, KeyStep: 1,
			Categories: rwFast, Group: "list", Since: "1.0.0", Summary: "Remove and get the last elements in a list",
			Complexity: "O(N) where N is the number of elements returned", Handler: func(c *Ctx) { listPop(c, false) }},
		{Name: "llen", Arity: 2, Flags: FlagReadonly | FlagFast, FirstKey: 1, LastKey: 1, KeyStep: 1,
			Categories: []string{"read", "list", "fast"}, Group: "list", Since: "1.0.0", Summary: "Get the length of a list",
			Complexity: "O(1)", Handler: cmdLLen},
		{Name: "lrange", Arity: 4, Flags: FlagReadonly, FirstKey: 1, LastKey: 1, KeyStep: 1,
			Categories: ro, Group: "list", Since: "1.0.0", Summary: "Get a range of elements from a list",
			Complexity: "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.",
			Handler:    cmdLRange},
		{Name: "lindex", Arity: 3, Flags: FlagReadonly, FirstKey: 1, LastKey: 1, KeyStep: 1,
			Categories: ro, Group: "list", Since: "1.0.0", Summary: "Get an element from a list by its index",
			Complexity: "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).",
			Handler:    cmdLIndex},
		{Name: "lset", Arity: 4, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 1, KeyStep: 1,
			Categories: rw, Group: "list", Since: "1.0.0", Summary: "Set the value of an element in a list by its index",
			Complexity: "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).",
			Handler:    cmdLSet},
		{Name: "lrem", Arity: 4, Flags: FlagWrite, FirstKey: 1, LastKey: 1, KeyStep: 1,
			Categories: rw, Group: "list", Since: "1.0.0", Summary: "Remove elements from a list",
			Complexity: "O(N+M) where N is the length of the list and M is the number of elements removed.", Handler: cmdLRem},
		{Name: "ltrim", Arity: 4, Flags: FlagWrite, FirstKey: 1, LastKey: 1, KeyStep: 1,
			Categories: rw, Group: "list", Since: "1.0.0", Summary: "Trim a list to the specified range",
			Complexity: "O(N) where N is the number of elements to be removed by the operation.", Handler: cmdLTrim},
		{Name: "linsert", Arity: 5, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 1, KeyStep: 1,
			Categories: rw, Group: "list", Since: "2.2.0", Summary: "Insert an element before or after another element in a list",
			Complexity: "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).",
			Handler:    cmdLInsert},
		{Name: "lpos", Arity: -3, Flags: FlagReadonly, FirstKey: 1, LastKey: 1, KeyStep: 1,
			Categories: ro, Group: "list", Since: "6.0.6", Summary: "Return the index of matching elements on a list",
			Complexity: "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.",
			Handler:    cmdLPos},
		{Name: "lmove", Arity: 5, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 2, KeyStep: 1,
			Categories: rw, Group: "list", Since: "6.2.0", Summary: "Pop an element from a list, push it to another list and return it",
			Complexity: "O(1)", Handler: cmdLMove},
		{Name: "rpoplpush", Arity: 3, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 2, KeyStep: 1,
			Categories: rw, Group: "list", Since: "1.2.0", Summary: "Remove the last element in a list, prepend it to another list and return it",
			Complexity: "O(1)", Handler: cmdRPopLPush},
		{Name: "lmpop", Arity: -4, Flags: FlagWrite, Keys: listMPopKeys(1),
			Categories: rw, Group: "list", Since: "7.0.0", Summary: "Pop elements from a list",
			Complexity: mpopComplexity, Handler: func(c *Ctx) { listMPop(c, 1, false) }},
		{Name: "blpop", Arity: -3, Flags: FlagWrite | FlagNoScript | FlagBlocking, FirstKey: 1, LastKey: -2, KeyStep: 1,
			Categories: blk, Group: "list", Since: "2.0.0", Summary: "Remove and get the first element in a list, or block until one is available",
			Complexity: "O(N) where N is the number of provided keys.", Handler: func(c *Ctx) { listBPop(c, true) }},
		{Name: "brpop", Arity: -3, Flags: FlagWrite | FlagNoScript | FlagBlocking, FirstKey: 1, LastKey: -2, KeyStep: 1,
			Categories: blk, Group: "list", Since: "2.0.0", Summary: "Remove and get the last element in a list, or block until one is available",
			Complexity: "O(N) where N is the number of provided keys.", Handler: func(c *Ctx) { listBPop(c, false) }},
		{Name: "blmove", Arity: 6, Flags: FlagWrite | FlagDenyOOM | FlagNoScript | FlagBlocking, FirstKey: 1, LastKey: 2, KeyStep: 1,
			Categories: blk, Group: "list", Since: "6.2.0", Summary: "Pop an element from a list, push it to another list and return it; or block until one is available",
			Complexity: "O(1)", Handler: cmdBLMove},
		{Name: "brpoplpush", Arity: 4, Flags: FlagWrite | FlagDenyOOM | FlagNoScript | FlagBlocking, FirstKey: 1, LastKey: 2, KeyStep: 1,
			Categories: blk, Group: "list", Since: "2.2.0", Summary: "Pop an element from a list, push it to another list and return it; or block until one is available",
			Complexity: "O(1)", Handler: cmdBRPopLPush},
		{Name: "blmpop", Arity: -5, Flags: FlagWrite | FlagBlocking, Keys: listMPopKeys(2),
			Categories: blk, Group: "list", Since: "7.0.0", Summary: "Pop elements from a list, or block until one is available",
			Complexity: mpopComplexity, Handler: func(c *Ctx) { listMPop(c, 2, true) }},
	}
}

// listMPopKeys locates the keys of LMPOP/BLMPOP: numkeys at index idx,
// the keys after it.
func listMPopKeys(idx int) func(args [][]byte) []int {
	return func(args [][]byte) []int {
		if idx >= len(args) {
			return nil
		}
		n, ok := ParseInt(args[idx])
		if !ok || n <= 0 || n > int64(len(args)-idx-1) {
			return nil
		}
		out := make([]int, n)
		for i := range out {
			out[i] = idx + 1 + i
		}
		return out
	}
}

// listGet looks key up for reading (write=false) or writing. A key of
// another type replies WRONGTYPE and returns ok=false; a missing key
// returns nil, true.
func listGet(c *Ctx, key string, write bool) (*types.List, bool) {
	v, ok := lookupType(c, key, write, keyspace.TypeList)
	if v == nil {
		return nil, ok
	}
	return v.List(), true
}

// listGetSource looks up a key a blocking pop may serve from. When a
// blocked client is retried, a key that meanwhile became another type is
// passed over instead of failing the client: Redis 7.0 serves a blocked
// client from the key that became ready and never looks at the others.
func listGetSource(c *Ctx, key string) (*types.List, bool) {
	if c.Reprocessing {
		if v := c.DB.LookupWrite(key); v != nil && v.Type() != keyspace.TypeList {
			return nil, true
		}
	}
	return listGet(c, key, true)
}

// listNew creates a list with the configured node bound.
func listNew(c *Ctx) *types.List { return types.NewList(c.Srv.cfg.ListMaxListpackSize) }

// listPopNotify finishes a pop from key: the keyspace event, and the
// deletion of the key if the list emptied.
func listPopNotify(c *Ctx, key string, l *types.List, head bool) {
	if head {
		c.Notify('l', "lpop", key)
	} else {
		c.Notify('l', "rpop", key)
	}
	if l.Len() == 0 {
		c.DB.Delete(key)
		c.Notify('g', "del", key)
	} else {
		c.DB.SignalModified(key)
	}
}

func listPush(c *Ctx, head, onlyIfExists bool) {
	key := c.Key(1)
	l, ok := listGet(c, key, true)
	if !ok {
		return
	}
	created := false
	if l == nil {
		if onlyIfExists {
			c.W.Int(0)
			return
		}
		l = listNew(c)
		created = true
	}
	for _, e := range c.Args[2:] {
		if head {
			l.PushHead(e)
		} else {
			l.PushTail(e)
		}
	}
	if created {
		// Set, not Add: see hashStore.
		c.DB.Set(key, keyspace.NewList(l), false)
	} else {
		c.DB.SignalModified(key)
	}
	c.W.Int(int64(l.Len()))
	if head {
		c.Notify('l', "lpush", key)
	} else {
		c.Notify('l', "rpush", key)
	}
	c.Changed(int64(len(c.Args) - 2))
}

func listPop(c *Ctx, head bool) {
	if len(c.Args) > 3 {
		c.WrongArity()
		return
	}
	hasCount := len(c.Args) == 3
	var count int64
	if hasCount {
		var ok bool
		if count, ok = ParseInt(c.Args[2]); !ok || count < 0 {
			c.Error(ErrNotPositive)
			return
		}
	}
	key := c.Key(1)
	l, ok := listGet(c, key, true)
	if !ok {
		return
	}
	if l == nil {
		if hasCount {
			c.W.NullArray()
		} else {
			c.W.Null()
		}
		return
	}
	if !hasCount {
		listReplyPopOne(c, l, head)
		listPopNotify(c, key, l, head)
		c.Changed(1)
		return
	}
	if count == 0 {
		c.W.Array(0)
		return
	}
	n := int(min(count, int64(l.Len())))
	listReplyPopped(c, l, n, head)
	listPopNotify(c, key, l, head)
	c.Changed(int64(n))
}

// listReplyPopOne pops one element and replies it as a bulk string,
// straight from the list's memory.
func listReplyPopOne(c *Ctx, l *types.List, head bool) {
	if head {
		it := l.Iter(0, false)
		s, _ := it.Next()
		c.W.Bulk(s)
		l.DeleteRange(0, 1)
		return
	}
	it := l.Iter(-1, true)
	s, _ := it.Next()
	c.W.Bulk(s)
	l.DeleteRange(l.Len()-1, 1)
}

// listReplyPopped pops n elements from one end and replies them as an
// array.
func listReplyPopped(c *Ctx, l *types.List, n int, head bool) {
	c.W.Array(n)
	start := 0
	if !head {
		start = -1
	}
	it := l.Iter(start, !head)
	for i := 0; i < n; i++ {
		s, _ := it.Next()
		c.W.Bulk(s)
	}
	if head {
		l.DeleteRange(0, n)
	} else {
		l.DeleteRange(l.Len()-n, n)
	}
}

func cmdLLen(c *Ctx) {
	l, ok := listGet(c, c.Key(1), false)
	if !ok {
		return
	}
	if l == nil {
		c.W.Int(0)
		return
	}
	c.W.Int(int64(l.Len()))
}

// listRange normalizes Redis start/stop indexes against a list of n
// elements. ok is false for an empty range.
func listRange(start, stop int64, n int) (int, int, bool) {
	ln := int64(n)
	if start < 0 {
		start += ln
	}
	if stop < 0 {
		stop += ln
	}
	if start < 0 {
		start = 0
	}
	if start > stop || start >= ln {
		return 0, 0, false
	}
	if stop >= ln {
		stop = ln - 1
	}
	return int(start), int(stop), true
}

func cmdLRange(c *Ctx) {
	start, ok := c.Int(2)
	if !ok {
		return
	}
	stop, ok := c.Int(3)
	if !ok {
		return
	}
	l, ok := listGet(c, c.Key(1), false)
	if !ok {
		return
	}
	if l == nil {
		c.W.Array(0)
		return
	}
	from, to, ok := listRange(start, stop, l.Len())
	if !ok {
		c.W.Array(0)
		return
	}
	c.W.Array(to - from + 1)
	it := l.Iter(from, false)
	for i := from; i <= to; i++ {
		s, _ := it.Next()
		c.W.Bulk(s)
	}
}

func cmdLIndex(c *Ctx) {
	l, ok := listGet(c, c.Key(1), false)
	if !ok {
		return
	}
	if l == nil {
		c.W.Null()
		return
	}
	idx, ok := c.Int(2)
	if !ok {
		return
	}
	it := l.Iter(int(idx), false)
	s, found := it.Next()
	if !found {
		c.W.Null()
		return
	}
	c.W.Bulk(s)
}

func cmdLSet(c *Ctx) {
	key := c.Key(1)
	l, ok := listGet(c, key, true)
	if !ok {
		return
	}
	if l == nil {
		c.Error(ErrNoSuchKey)
		return
	}
	idx, ok := c.Int(2)
	if !ok {
		return
	}
	if !l.Set(int(idx), c.Args[3]) {
		c.Error(ErrIndexRange)
		return
	}
	c.DB.SignalModified(key)
	c.W.OK()
	c.Notify('l', "lset", key)
	c.Changed(1)
}

func cmdLRem(c *Ctx) {
	count, ok := c.Int(2)
	if !ok {
		return
	}
	key := c.Key(1)
	l, ok := listGet(c, key, true)
	if !ok {
		return
	}
	if l == nil {
		c.W.Int(0)
		return
	}
	if count < math.MinInt+1 {
		count = math.MinInt + 1
	}
	removed := l.Remove(c.Args[3], int(count))
	if removed > 0 {
		c.Notify('l', "lrem", key)
		if l.Len() == 0 {
			c.DB.Delete(key)
			c.Notify('g', "del", key)
		} else {
			c.DB.SignalModified(key)
		}
		c.Changed(int64(removed))
	}
	c.W.Int(int64(removed))
}

func cmdLTrim(c *Ctx) {
	start, ok := c.Int(2)
	if !ok {
		return
	}
	stop, ok := c.Int(3)
	if !ok {
		return
	}
	key := c.Key(1)
	l, ok := listGet(c, key, true)
	if !ok {
		return
	}
	if l == nil {
		c.W.OK()
		return
	}
	n := l.Len()
	from, to, nonEmpty := listRange(start, stop, n)
	removed := n
	if nonEmpty {
		removed = n - (to - from + 1)
		l.Trim(from, to)
	} else {
		l.Clear()
	}
	c.Notify('l', "ltrim", key)
	if l.Len() == 0 {
		c.DB.Delete(key)
		c.Notify('g', "del", key)
	} else {
		c.DB.SignalModified(key)
	}
	c.Changed(int64(removed))
	c.W.OK()
}

func cmdLInsert(c *Ctx) {
	var after bool
	switch {
	case c.ArgIs(2, "after"):
		after = true
	case c.ArgIs(2, "before"):
	default:
		c.SyntaxError()
		return
	}
	key := c.Key(1)
	l, ok := listGet(c, key, true)
	if !ok {
		return
	}
	if l == nil {
		c.W.Int(0)
		return
	}
	n := l.Insert(c.Args[3], c.Args[4], after)
	if n < 0 {
		c.W.Int(-1)
		return
	}
	c.DB.SignalModified(key)
	c.Notify('l', "linsert", key)
	c.Changed(1)
	c.W.Int(int64(n))
}

func cmdLPos(c *Ctx) {
	rank, count, maxlen := int64(1), int64(-1), int64(0)
	for j := 3; j < len(c.Args); j++ {
		more := j < len(c.Args)-1
		switch {
		case c.ArgIs(j, "rank") && more:
			j++
			v, ok := c.Int(j)
			if !ok {
				return
			}
			if v == 0 {
				c.Error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
				return
			}
			rank = v
		case c.ArgIs(j, "count") && more:
			j++
			v, ok := ParseInt(c.Args[j])
			if !ok || v < 0 {
				c.Error("ERR COUNT can't be negative")
				return
			}
			count = v
		case c.ArgIs(j, "maxlen") && more:
			j++
			v, ok := ParseInt(c.Args[j])
			if !ok || v < 0 {
				c.Error("ERR MAXLEN can't be negative")
				return
			}
			maxlen = v
		default:
			c.SyntaxError()
			return
		}
	}
	l, ok := listGet(c, c.Key(1), false)
	if !ok {
		return
	}
	if l == nil {
		if count != -1 {
			c.W.Array(0)
		} else {
			c.W.Null()
		}
		return
	}
	reverse := rank < 0
	// The rank-th match is wanted first: skip |rank|-1 matches. Redis
	// negates the rank in a long, so math.MinInt64 stays negative there and
	// acts as -1; do the same.
	skip := uint64(rank) - 1
	if reverse {
		skip = uint64(-(rank + 1))
		if rank == math.MinInt64 {
			skip = 0
		}
	}
	start := 0
	if reverse {
		start = -1
	}
	want := count
	if want == -1 {
		want = 1
	}
	var found []int
	it := l.Iter(start, reverse)
	n := l.Len()
	for i := 0; i < n; i++ {
		if maxlen != 0 && int64(i) >= maxlen {
			break
		}
		s, _ := it.Next()
		if string(s) != string(c.Args[2]) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		idx := i
		if reverse {
			idx = n - 1 - i
		}
		found = append(found, idx)
		if want != 0 && int64(len(found)) >= want {
			break
		}
	}
	if count == -1 {
		if len(found) == 0 {
			c.W.Null()
		} else {
			c.W.Int(int64(found[0]))
		}
		return
	}
	c.W.Array(len(found))
	for _, idx := range found {
		c.W.Int(int64(idx))
	}
}

// listWhere parses LEFT/RIGHT (true for LEFT), replying a syntax error.
func listWhere(c *Ctx, i int) (bool, bool) {
	switch {
	case c.ArgIs(i, "left"):
		return true, true
	case c.ArgIs(i, "right"):
		return false, true
	}
	c.SyntaxError()
	return false, false
}

// listMove pops from src (head if fromHead) and pushes to dst, replying
// the element; it returns false if it replied an error or null without
// moving anything. Propagation is the caller's choice.
func listMove(c *Ctx, src, dst string, fromHead, toHead bool) bool {
	sl, ok := listGet(c, src, true)
	if !ok {
		return false
	}
	if sl == nil || sl.Len() == 0 {
		c.W.Null()
		return false
	}
	dl, ok := listGet(c, dst, true)
	if !ok {
		return false
	}
	var s string
	if fromHead {
		s, _ = sl.PopHead()
	} else {
		s, _ = sl.PopTail()
	}
	created := false
	if dl == nil {
		dl = listNew(c)
		created = true
	}
	if toHead {
		dl.PushHeadString(s)
	} else {
		dl.PushTailString(s)
	}
	// The source may be the destination: only now is its length final.
	if created {
		c.DB.Set(dst, keyspace.NewList(dl), false)
	} else {
		c.DB.SignalModified(dst)
	}
	if toHead {
		c.Notify('l', "lpush", dst)
	} else {
		c.Notify('l', "rpush", dst)
	}
	c.W.BulkString(s)
	listPopNotify(c, src, sl, fromHead)
	c.Changed(1)
	return true
}

func cmdLMove(c *Ctx) {
	from, ok := listWhere(c, 3)
	if !ok {
		return
	}
	to, ok := listWhere(c, 4)
	if !ok {
		return
	}
	listMove(c, c.Key(1), c.Key(2), from, to)
}

func cmdRPopLPush(c *Ctx) { listMove(c, c.Key(1), c.Key(2), false, true) }

// listBlockMove is BLMOVE/BRPOPLPUSH: move now if the source has data,
// else block on it. A served move propagates as LMOVE/RPOPLPUSH.
func listBlockMove(c *Ctx, from, to bool, timeoutArg int) {
	timeout, ok := c.ParseTimeout(timeoutArg)
	if !ok {
		return
	}
	src, dst := c.Key(1), c.Key(2)
	sl, ok := listGet(c, src, true)
	if !ok {
		return
	}
	if sl == nil {
		// Redis 7.0 answers a timed-out BLMOVE with a null array, but one
		// that cannot block (inside MULTI) with a null bulk.
		if c.InMulti || c.Client.Flags&ClientMulti != 0 {
			c.W.Null()
			return
		}
		c.Block([]string{src}, timeout, nil)
		return
	}
	if !listMove(c, src, dst, from, to) {
		return
	}
	if c.Cmd.Name == "brpoplpush" {
		c.Propagate([]byte("RPOPLPUSH"), c.Args[1], c.Args[2])
	} else {
		c.Propagate([]byte("LMOVE"), c.Args[1], c.Args[2], c.Args[3], c.Args[4])
	}
}

func cmdBLMove(c *Ctx) {
	from, ok := listWhere(c, 3)
	if !ok {
		return
	}
	to, ok := listWhere(c, 4)
	if !ok {
		return
	}
	listBlockMove(c, from, to, 5)
}

func cmdBRPopLPush(c *Ctx) { listBlockMove(c, false, true, 3) }

// listBPop is BLPOP/BRPOP.
func listBPop(c *Ctx, head bool) {
	timeout, ok := c.ParseTimeout(len(c.Args) - 1)
	if !ok {
		return
	}
	keys := c.Args[1 : len(c.Args)-1]
	for i := range keys {
		key := c.Key(1 + i)
		l, ok := listGetSource(c, key)
		if !ok {
			return
		}
		if l == nil || l.Len() == 0 {
			continue
		}
		var s string
		if head {
			s, _ = l.PopHead()
		} else {
			s, _ = l.PopTail()
		}
		c.W.Array(2)
		c.W.Bulk(keys[i])
		c.W.BulkString(s)
		listPopNotify(c, key, l, head)
		c.Changed(1)
		if head {
			c.Propagate([]byte("LPOP"), keys[i])
		} else {
			c.Propagate([]byte("RPOP"), keys[i])
		}
		return
	}
	wait := make([]string, len(keys))
	for i := range keys {
		wait[i] = c.Key(1 + i)
	}
	c.Block(wait, timeout, nil)
}

// listMPop is LMPOP (numkeys at index 1) and BLMPOP (timeout at 1,
// numkeys at 2).
func listMPop(c *Ctx, numIdx int, blocking bool) {
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
	head, ok := listWhere(c, whereIdx)
	if !ok {
		return
	}
	count, ok := mpopCount(c, whereIdx)
	if !ok {
		return
	}
	first := numIdx + 1
	for i := first; i < int(whereIdx); i++ {
		key := c.Key(i)
		l, ok := listGetSource(c, key)
		if !ok {
			return
		}
		if l == nil || l.Len() == 0 {
			continue
		}
		n := int(min(count, int64(l.Len())))
		c.W.Array(2)
		c.W.Bulk(c.Args[i])
		listReplyPopped(c, l, n, head)
		listPopNotify(c, key, l, head)
		c.Changed(int64(n))
		cmd := "RPOP"
		if head {
			cmd = "LPOP"
		}
		c.Propagate([]byte(cmd), c.Args[i], []byte(strconv.Itoa(n)))
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
