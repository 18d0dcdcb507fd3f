package node

import (
	"math"

	"github.com/vigilkv/vigil/node/keyspace"
	"github.com/vigilkv/vigil/node/types"
)

// setCommands: the set family.
func setCommands() []*Command {
	wf := []string{"write", "set", "fast"}
	ws := []string{"write", "set", "slow"}
	rf := []string{"read", "set", "fast"}
	rs := []string{"read", "set", "slow"}
	key1 := func(cmd *Command) *Command {
		cmd.FirstKey, cmd.LastKey, cmd.KeyStep, cmd.Group = 1, 1, 1, "set"
		return cmd
	}
	keysAll := func(cmd *Command) *Command {
		cmd.FirstKey, cmd.LastKey, cmd.KeyStep, cmd.Group = 1, -1, 1, "set"
		return cmd
	}
	op := func(name, since, summary string, kind setOpKind, store bool) *Command {
		cmd := keysAll(&Command{Name: name, Arity: -2, Flags: FlagReadonly, Categories: rs, Since: since, Summary: summary,
			Complexity: "O(N) where N is the total number of elements in all given sets.",
			Handler:    func(c *Ctx) { setOpGeneric(c, kind, store) }})
		if store {
			cmd.Arity, cmd.Flags, cmd.Categories = -3, FlagWrite|FlagDenyOOM, ws
		}
		return cmd
	}
	return []*Command{
		key1(&Command{Name: "sadd", Arity: -3, Flags: FlagWrite | FlagDenyOOM | FlagFast, Categories: wf, Since: "1.0.0",
			Summary: "Add one or more members to a set", Complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", Handler: cmdSAdd}),
		key1(&Command{Name: "srem", Arity: -3, Flags: FlagWrite | FlagFast, Categories: wf, Since: "1.0.0",
			Summary: "Remove one or more members from a set", Complexity: "O(N) where N is the number of members to be removed.", Handler: cmdSRem}),
		key1(&Command{Name: "smembers", Arity: 2, Flags: FlagReadonly, Categories: rs, Since: "1.0.0",
			Summary: "Get all the members in a set", Complexity: "O(N) where N is the set cardinality.", Handler: cmdSMembers}),
		key1(&Command{Name: "sismember", Arity: 3, Flags: FlagReadonly | FlagFast, Categories: rf, Since: "1.0.0",
			Summary: "Determine if a given value is a member of a set", Complexity: "O(1)", Handler: cmdSIsMember}),
		key1(&Command{Name: "smismember", Arity: -3, Flags: FlagReadonly | FlagFast, Categories: rf, Since: "6.2.0",
			Summary: "Returns the membership associated with the given elements for a set", Complexity: "O(N) where N is the number of elements being checked for membership", Handler: cmdSMIsMember}),
		key1(&Command{Name: "scard", Arity: 2, Flags: FlagReadonly | FlagFast, Categories: rf, Since: "1.0.0",
			Summary: "Get the number of members in a set", Complexity: "O(1)", Handler: cmdSCard}),
		key1(&Command{Name: "spop", Arity: -2, Flags: FlagWrite | FlagFast, Categories: wf, Since: "1.0.0",
			Summary: "Remove and return one or multiple random members from a set", Complexity: "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.", Handler: cmdSPop}),
		key1(&Command{Name: "srandmember", Arity: -2, Flags: FlagReadonly, Categories: rs, Since: "1.0.0",
			Summary: "Get one or multiple random members from a set", Complexity: "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.", Handler: cmdSRandMember}),
		{Name: "smove", Arity: 4, Flags: FlagWrite | FlagFast, FirstKey: 1, LastKey: 2, KeyStep: 1, Categories: wf, Group: "set", Since: "1.0.0",
			Summary: "Move a member from one set to another", Complexity: "O(1)", Handler: cmdSMove},
		op("sinter", "1.0.0", "Intersect multiple sets", setInter, false),
		op("sinterstore", "1.0.0", "Intersect multiple sets and store the resulting set in a key", setInter, true),
		op("sunion", "1.0.0", "Add multiple sets", setUnion, false),
		op("sunionstore", "1.0.0", "Add multiple sets and store the resulting set in a key", setUnion, true),
		op("sdiff", "1.0.0", "Subtract multiple sets", setDiff, false),
		op("sdiffstore", "1.0.0", "Subtract multiple sets and store the resulting set in a key", setDiff, true),
		{Name: "sintercard", Arity: -3, Flags: FlagReadonly, Categories: rs, Group: "set", Since: "7.0.0", Keys: numkeysKeys(1),
			Summary: "Intersect multiple sets and return the cardinality of the result", Complexity: "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", Handler: cmdSInterCard},
		key1(&Command{Name: "sscan", Arity: -3, Flags: FlagReadonly, Categories: rs, Since: "2.8.0",
			Summary: "Incrementally iterate Set elements", Complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..", Handler: cmdSScan}),
	}
}

// numkeysKeys locates the keys of "CMD numkeys key... [options]" with
// numkeys at argument i.
func numkeysKeys(i int) func(args [][]byte) []int {
	return func(args [][]byte) []int {
		if len(args) <= i {
			return nil
		}
		n, ok := ParseInt(args[i])
		if !ok || n <= 0 || int(n) > len(args)-i-1 {
			return nil
		}
		out := make([]int, n)
		for j := range out {
			out[j] = i + 1 + j
		}
		return out
	}
}

// setGet looks up a set; WRONGTYPE replies and returns ok=false.
func setGet(c *Ctx, key string, write bool) (*types.Set, bool) {
	v, ok := lookupType(c, key, write, keyspace.TypeSet)
	if v == nil {
		return nil, ok
	}
	return v.Set(), true
}

func cmdSAdd(c *Ctx) {
	key := c.Key(1)
	s, ok := setGet(c, key, true)
	if !ok {
		return
	}
	created := s == nil
	if created {
		s = types.NewSet()
	}
	added := s.AddMany(c.Args[2:], c.Srv.cfg.SetMaxIntsetEntries)
	if created {
		c.DB.Add(key, keyspace.NewSet(s))
	} else {
		c.DB.SignalModified(key)
	}
	if added > 0 {
		c.Notify('s', "sadd", key)
	}
	c.Changed(int64(added))
	c.W.Int(int64(added))
}

// setDeleteIfEmpty removes an emptied set key, notifying "del".
func setDeleteIfEmpty(c *Ctx, db *keyspace.DB, key string, s *types.Set) {
	if s.Len() == 0 {
		db.Delete(key)
		c.Srv.notifyKeyspaceEvent('g', "del", key, db.ID)
	} else {
		db.SignalModified(key)
	}
}

func cmdSRem(c *Ctx) {
	key := c.Key(1)
	s, ok := setGet(c, key, true)
	if !ok {
		return
	}
	if s == nil {
		c.W.Int(0)
		return
	}
	n := 0
	for i := 2; i < len(c.Args); i++ {
		if s.Remove(c.Args[i]) {
			n++
		}
	}
	if n > 0 {
		c.Notify('s', "srem", key)
		setDeleteIfEmpty(c, c.DB, key, s)
	}
	c.Changed(int64(n))
	c.W.Int(int64(n))
}

func writeSetReply(c *Ctx, members []string) {
	c.W.Set(len(members))
	for _, m := range members {
		c.W.BulkString(m)
	}
}

func cmdSMembers(c *Ctx) {
	s, ok := setGet(c, c.Key(1), false)
	if !ok {
		return
	}
	if s == nil {
		c.W.Set(0)
		return
	}
	writeSetReply(c, s.Members())
}

func cmdSIsMember(c *Ctx) {
	s, ok := setGet(c, c.Key(1), false)
	if !ok {
		return
	}
	if s != nil && s.Contains(c.Args[2]) {
		c.W.Int(1)
	} else {
		c.W.Int(0)
	}
}

func cmdSMIsMember(c *Ctx) {
	s, ok := setGet(c, c.Key(1), false)
	if !ok {
		return
	}
	c.W.Array(len(c.Args) - 2)
	for i := 2; i < len(c.Args); i++ {
		if s != nil && s.Contains(c.Args[i]) {
			c.W.Int(1)
		} else {
			c.W.Int(0)
		}
	}
}

func cmdSCard(c *Ctx) {
	s, ok := setGet(c, c.Key(1), false)
	if !ok {
		return
	}
	if s == nil {
		c.W.Int(0)
		return
	}
	c.W.Int(int64(s.Len()))
}

func cmdSPop(c *Ctx) {
	key := c.Key(1)
	if len(c.Args) > 3 {
		c.SyntaxError()
		return
	}
	withCount := len(c.Args) == 3
	count := int64(1)
	if withCount {
		n, ok := c.IntErr(2, ErrNotPositive)
		if !ok {
			return
		}
		if n < 0 {
			c.Error(ErrNotPositive)
			return
		}
		count = n
	}
	s, ok := setGet(c, key, true)
	if !ok {
		return
	}
	if s == nil {
		if withCount {
			c.W.Set(0)
		} else {
			c.W.Null()
		}
		return
	}
	if withCount && count == 0 {
		c.W.Set(0)
		return
	}
	if withCount && count >= int64(s.Len()) {
		// The whole set: reply with it and delete the key.
		writeSetReply(c, s.Members())
		c.DB.Delete(key)
		c.Notify('s', "spop", key)
		c.Notify('g', "del", key)
		c.Changed(1)
		c.PropagateStrings("DEL", key)
		return
	}
	var popped []string
	for i := int64(0); i < count; i++ {
		m := s.Random(c.Srv.ks.Rand)
		s.Remove([]byte(m))
		popped = append(popped, m)
	}
	if withCount {
		writeSetReply(c, popped)
	} else {
		c.W.BulkString(popped[0])
	}
	// The random choice is replaced by its effect.
	args := append([]string{"SREM", key}, popped...)
	c.PropagateStrings(args...)
	c.Notify('s', "spop", key)
	setDeleteIfEmpty(c, c.DB, key, s)
	c.Changed(int64(len(popped)))
}

func cmdSRandMember(c *Ctx) {
	if len(c.Args) > 3 {
		c.SyntaxError()
		return
	}
	s, ok := setGet(c, c.Key(1), false)
	if len(c.Args) == 2 {
		if !ok {
			return
		}
		if s == nil {
			c.W.Null()
			return
		}
		c.W.BulkString(s.Random(c.Srv.ks.Rand))
		return
	}
	if !ok {
		return
	}
	n, ok2 := c.Int(2)
	if !ok2 {
		return
	}
	if n == math.MinInt64 {
		c.Error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
		return
	}
	if s == nil || n == 0 {
		c.W.Array(0)
		return
	}
	r := c.Srv.ks.Rand
	if n < 0 {
		c.W.Array(int(-n))
		for i := int64(0); i < -n; i++ {
			c.W.BulkString(s.Random(r))
		}
		return
	}
	members := s.Members()
	if n >= int64(len(members)) {
		writeSetReply(c, members)
		return
	}
	// A partial Fisher-Yates shuffle picks n distinct members fairly.
	for i := 0; i < int(n); i++ {
		j := i + r.IntN(len(members)-i)
		members[i], members[j] = members[j], members[i]
	}
	writeSetReply(c, members[:n])
}

func cmdSMove(c *Ctx) {
	srcKey, dstKey := c.Key(1), c.Key(2)
	src, ok := setGet(c, srcKey, true)
	if !ok {
		return
	}
	dst, ok := setGet(c, dstKey, true)
	if !ok {
		return
	}
	m := c.Args[3]
	if src == nil || !src.Contains(m) {
		c.W.Int(0)
		return
	}
	if srcKey == dstKey {
		c.W.Int(1)
		return
	}
	src.Remove(m)
	c.Notify('s', "srem", srcKey)
	setDeleteIfEmpty(c, c.DB, srcKey, src)
	if dst == nil {
		dst = types.NewSet()
		dst.Add(m, c.Srv.cfg.SetMaxIntsetEntries)
		c.DB.Add(dstKey, keyspace.NewSet(dst))
		c.Notify('s', "sadd", dstKey)
	} else if dst.Add(m, c.Srv.cfg.SetMaxIntsetEntries) {
		c.DB.SignalModified(dstKey)
		c.Notify('s', "sadd", dstKey)
	}
	c.Changed(1)
	c.W.Int(1)
}

type setOpKind int

const (
	setInter setOpKind = iota
	setUnion
	setDiff
)

// setOperands looks up the sets named by args (nil for missing keys).
func setOperands(c *Ctx, keys [][]byte) ([]*types.Set, bool) {
	out := make([]*types.Set, len(keys))
	for i, k := range keys {
		s, ok := setGet(c, string(k), false)
		if !ok {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

// computeSetOp evaluates an intersection, union or difference.
func computeSetOp(sets []*types.Set, kind setOpKind, limit int) []string {
	switch kind {
	case setInter:
		smallest := -1
		for i, s := range sets {
			if s == nil {
				return nil
			}
			if smallest < 0 || s.Len() < sets[smallest].Len() {
				smallest = i
			}
		}
		var out []string
		sets[smallest].ForEach(func(m string) bool {
			for i, s := range sets {
				if i != smallest && !s.Contains([]byte(m)) {
					return true
				}
			}
			out = append(out, m)
			return limit == 0 || len(out) < limit
		})
		return out
	case setUnion:
		seen := map[string]struct{}{}
		var out []string
		for _, s := range sets {
			if s == nil {
				continue
			}
			s.ForEach(func(m string) bool {
				if _, ok := seen[m]; !ok {
					seen[m] = struct{}{}
					out = append(out, m)
				}
				return true
			})
		}
		return out
	}
	if sets[0] == nil {
		return nil
	}
	var out []string
	sets[0].ForEach(func(m string) bool {
		for _, s := range sets[1:] {
			if s != nil && s.Contains([]byte(m)) {
				return true
			}
		}
		out = append(out, m)
		return true
	})
	return out
}

var setStoreEvents = [...]string{setInter: "sinterstore", setUnion: "sunionstore", setDiff: "sdiffstore"}

func setOpGeneric(c *Ctx, kind setOpKind, store bool) {
	first := 1
	if store {
		first = 2
	}
	sets, ok := setOperands(c, c.Args[first:])
	if !ok {
		return
	}
	result := computeSetOp(sets, kind, 0)
	if !store {
		writeSetReply(c, result)
		return
	}
	dst := c.Key(1)
	existed := c.DB.LookupWrite(dst) != nil
	if len(result) == 0 {
		if existed {
			c.DB.Delete(dst)
			c.Notify('g', "del", dst)
			c.Changed(1)
		}
		c.W.Int(0)
		return
	}
	s := types.NewSet()
	for _, m := range result {
		s.Add([]byte(m), c.Srv.cfg.SetMaxIntsetEntries)
	}
	c.DB.Set(dst, keyspace.NewSet(s), false)
	c.Notify('s', setStoreEvents[kind], dst)
	c.Changed(1)
	c.W.Int(int64(len(result)))
}

func cmdSInterCard(c *Ctx) {
	n, ok := ParseInt(c.Args[1])
	if !ok || n <= 0 {
		c.Error("ERR numkeys should be greater than 0")
		return
	}
	if n > int64(len(c.Args)-2) {
		c.Error("ERR Number of keys can't be greater than number of args")
		return
	}
	limit := int64(0)
	rest := c.Args[2+n:]
	for i := 0; i < len(rest); i += 2 {
		if !c.ArgIs(2+int(n)+i, "limit") || i+1 >= len(rest) {
			c.SyntaxError()
			return
		}
		l, ok := c.IntErr(2+int(n)+i+1, "ERR LIMIT can't be negative")
		if !ok {
			return
		}
		if l < 0 {
			c.Error("ERR LIMIT can't be negative")
			return
		}
		limit = l
	}
	sets, ok := setOperands(c, c.Args[2:2+n])
	if !ok {
		return
	}
	c.W.Int(int64(len(computeSetOp(sets, setInter, int(limit)))))
}

func cmdSScan(c *Ctx) {
	scanCollection(c, setGet, func(s *types.Set, cursor uint64, keep func([]byte) bool, out *[][]byte) uint64 {
		return s.Scan(cursor, func(m string) {
			if b := []byte(m); keep(b) {
				*out = append(*out, b)
			}
		})
	})
}
