package types

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/vigilkv/vigil/node/dict"
)

// ZSet is a Redis sorted set. Small sets are a listpack of member, score,
// member, score... entries kept in (score, member) order (OBJECT ENCODING
// "listpack"); once a set has more than zset-max-listpack-entries members
// or is given a member longer than zset-max-listpack-value bytes it
// converts, for good, to a B+tree that counts the members under each node
// (for rank queries) plus a member -> score dict (OBJECT ENCODING
// "skiplist", the name of Redis's structure for the same job). The
// thresholds are parameters so the caller passes the configuration in
// force.
//
// Every query is expressed in ranks (0-based positions in score order):
// range queries first turn a score or lex interval into a rank interval,
// so each encoding needs only rank iteration and rank deletion.
//
// Members passed in are copied; []byte results alias the set (or a
// buffer for integers stored in a listpack) and are valid until the next
// modification.
type ZSet struct {
	lp   Listpack // listpack encoding, while tree is nil
	tree *zbtree  // the order of the "skiplist" encoding
	d    *dict.Dict[float64]
	mem  int // "skiplist": estimated bytes held by members and dict entries
}

const (
	zsetStructSize = 64
	// zsetDictEntry is a dict entry (key header, value pointer, chain).
	zsetDictEntry = 32
)

// NewZSet returns an empty listpack-encoded sorted set.
func NewZSet() *ZSet { return &ZSet{lp: *NewListpack()} }

// NewZSetFor returns an empty sorted set in the encoding that sizeHint
// members of up to maxMemberLen bytes need, as Redis's zsetTypeCreate
// chooses it for ZADD, the STORE commands and RDB loading.
func NewZSetFor(sizeHint, maxMemberLen, maxEntries, maxValue int) *ZSet {
	if sizeHint <= maxEntries && maxMemberLen <= maxValue {
		return NewZSet()
	}
	z := &ZSet{}
	z.initTree()
	return z
}

func (z *ZSet) initTree() {
	z.tree = newZbtree()
	z.d = dict.New[float64]()
}

// ErrBadZSetListpack reports a listpack that is not a valid sorted set
// image.
var ErrBadZSetListpack = errors.New("invalid sorted set listpack")

// ZSetFromListpack adopts a validated listpack of member/score pairs (RDB
// loading). Like Redis's deep check it refuses an odd number of entries,
// unparsable scores and duplicate members; it also refuses pairs out of
// order, which would break every range query.
func ZSetFromListpack(lp *Listpack) (*ZSet, error) {
	if lp.Len()%2 != 0 {
		return nil, ErrBadZSetListpack
	}
	seen := make(map[string]struct{}, lp.Len()/2)
	var buf [ListpackMaxIntLen]byte
	var prevM []byte
	prevS, first := 0.0, true
	for p := lp.First(); p >= 0; p = lp.Next(lp.Next(p)) {
		m := lp.GetBytes(p, buf[:0])
		if _, dup := seen[string(m)]; dup {
			return nil, ErrBadZSetListpack
		}
		seen[string(m)] = struct{}{}
		s, ok := lpScoreChecked(lp, lp.Next(p))
		if !ok {
			return nil, ErrBadZSetListpack
		}
		if !first && (s < prevS || (s == prevS && bytes.Compare(m, prevM) < 0)) {
			return nil, ErrBadZSetListpack
		}
		prevM, prevS, first = append(prevM[:0], m...), s, false
	}
	return &ZSet{lp: *lp}, nil
}

func (z *ZSet) isListpack() bool { return z.tree == nil }

// Encoding is what OBJECT ENCODING reports: Redis's names, though the
// large encoding is a B+tree (see zbtree), not a skiplist.
func (z *ZSet) Encoding() string {
	if z.isListpack() {
		return "listpack"
	}
	return "skiplist"
}

// Len is the number of members.
func (z *ZSet) Len() int {
	if z.isListpack() {
		return z.lp.Len() / 2
	}
	return z.tree.length
}

// MemoryUsage estimates the bytes held.
func (z *ZSet) MemoryUsage() int {
	if z.isListpack() {
		return zsetStructSize + allocClass(cap(z.lp.b))
	}
	return zsetStructSize + z.mem + z.d.Buckets()*8 + z.tree.memoryUsage()
}

// Listpack returns the listpack of a listpack-encoded set (for RDB and
// DUMP, which write it as it is), or nil.
func (z *ZSet) Listpack() *Listpack {
	if !z.isListpack() {
		return nil
	}
	return &z.lp
}

// AppendScore appends a score the way Redis 7.0 stores it in a listpack
// and writes it in RDB files and ZSCAN replies (d2string): integral
// values within +-2^62 in plain decimal (so -0 becomes 0), others with 17
// significant digits.
func AppendScore(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case math.IsNaN(f):
		return append(dst, "nan"...)
	case f >= -(1<<62) && f <= 1<<62 && f == math.Trunc(f):
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return strconv.AppendFloat(dst, f, 'g', 17, 64)
}

func lpScoreChecked(lp *Listpack, p int) (float64, bool) {
	s, v, isInt := lp.Get(p)
	if isInt {
		return float64(v), true
	}
	f, err := strconv.ParseFloat(bytesStr(s), 64)
	if err != nil || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

func lpScore(lp *Listpack, p int) float64 {
	f, _ := lpScoreChecked(lp, p)
	return f
}

// lpFind is the position of member's entry, or -1.
func (z *ZSet) lpFind(member []byte) int {
	if z.lp.Len() == 0 {
		return -1
	}
	return z.lp.Find(z.lp.First(), member, 1)
}

// lpInsert adds a member that is not present at its place in order.
func (z *ZSet) lpInsert(member []byte, score float64) {
	var sb [32]byte
	sc := AppendScore(sb[:0], score)
	var buf [ListpackMaxIntLen]byte
	for p := z.lp.First(); p >= 0; p = z.lp.Next(z.lp.Next(p)) {
		s := lpScore(&z.lp, z.lp.Next(p))
		if s > score || (s == score && bytes.Compare(z.lp.GetBytes(p, buf[:0]), member) > 0) {
			q := z.lp.InsertBefore(p, member)
			z.lp.InsertAfter(q, sc)
			return
		}
	}
	z.lp.Append(member)
	z.lp.Append(sc)
}

// convert moves a listpack-encoded set to the large encoding.
func (z *ZSet) convert() {
	if !z.isListpack() {
		return
	}
	lp := z.lp
	z.lp = Listpack{}
	z.initTree()
	for p := lp.First(); p >= 0; p = lp.Next(lp.Next(p)) {
		z.treeInsert(lp.GetString(p), lpScore(&lp, lp.Next(p)))
	}
}

// ConvertIfNeeded converts a listpack-encoded set that exceeds the
// thresholds (RDB loading with smaller limits than the writer had).
func (z *ZSet) ConvertIfNeeded(maxEntries, maxValue int) {
	if !z.isListpack() {
		return
	}
	if z.Len() > maxEntries {
		z.convert()
		return
	}
	for p := z.lp.First(); p >= 0; p = z.lp.Next(z.lp.Next(p)) {
		if s, _, isInt := z.lp.Get(p); !isInt && len(s) > maxValue {
			z.convert()
			return
		}
	}
}

// zsetEntryCost estimates a member's bytes outside the tree's nodes:
// its string and its dict entry.
func zsetEntryCost(member string) int {
	return allocClass(len(member)) + zsetDictEntry
}

// treeInsert adds a member that is not in the set; the tree and the dict
// share its string.
func (z *ZSet) treeInsert(member string, score float64) {
	z.tree.insert(score, member)
	z.d.Insert(member, score)
	z.mem += zsetEntryCost(member)
}

// Score returns member's score.
func (z *ZSet) Score(member []byte) (float64, bool) {
	score, _, ok := z.Find(member)
	return score, ok
}

// ZPos is where Find found a member, so that SetAt changes its score
// without looking it up again. It is valid until the set next changes.
type ZPos struct {
	lp  int      // listpack: the member's position
	ref *float64 // tree: the dict's value for the member
}

// Find returns member's score and place, or false if it is absent.
func (z *ZSet) Find(member []byte) (float64, ZPos, bool) {
	if z.isListpack() {
		p := z.lpFind(member)
		if p < 0 {
			return 0, ZPos{}, false
		}
		return lpScore(&z.lp, z.lp.Next(p)), ZPos{lp: p}, true
	}
	ref := z.d.Ref(bytesStr(member))
	if ref == nil {
		return 0, ZPos{}, false
	}
	return *ref, ZPos{ref: ref}, true
}

// SetAt gives the member Find found at pos a new score.
func (z *ZSet) SetAt(pos ZPos, member []byte, score float64) {
	if z.isListpack() {
		if lpScore(&z.lp, z.lp.Next(pos.lp)) == score {
			return
		}
		z.lp.DeleteRange(pos.lp, 2)
		z.lpInsert(member, score)
		return
	}
	if *pos.ref == score {
		return
	}
	z.tree.move(*pos.ref, bytesStr(member), score)
	*pos.ref = score
}

// Set gives member the score, adding it if absent, and reports whether
// it was added. It converts the set as the thresholds require.
func (z *ZSet) Set(member []byte, score float64, maxEntries, maxValue int) bool {
	if _, pos, ok := z.Find(member); ok {
		z.SetAt(pos, member, score)
		return false
	}
	if z.isListpack() {
		if z.Len()+1 > maxEntries || len(member) > maxValue || z.lp.Size()+len(member) > listpackSafetySize {
			z.convert()
		} else {
			z.lpInsert(member, score)
			return true
		}
	}
	z.treeInsert(string(member), score)
	return true
}

// Remove deletes member and reports whether it was present.
func (z *ZSet) Remove(member []byte) bool {
	if z.isListpack() {
		p := z.lpFind(member)
		if p < 0 {
			return false
		}
		z.lp.DeleteRange(p, 2)
		return true
	}
	score, ok := z.d.Delete(bytesStr(member))
	if !ok {
		return false
	}
	z.mem -= zsetEntryCost(bytesStr(member))
	z.tree.remove(score, bytesStr(member))
	return true
}

// Rank returns member's 0-based position in ascending score order and its
// score.
func (z *ZSet) Rank(member []byte) (int, float64, bool) {
	if z.isListpack() {
		var buf [ListpackMaxIntLen]byte
		rank := 0
		for p := z.lp.First(); p >= 0; p = z.lp.Next(z.lp.Next(p)) {
			if bytes.Equal(z.lp.GetBytes(p, buf[:0]), member) {
				return rank, lpScore(&z.lp, z.lp.Next(p)), true
			}
			rank++
		}
		return 0, 0, false
	}
	score, ok := z.d.Get(bytesStr(member))
	if !ok {
		return 0, 0, false
	}
	return z.tree.rank(score, bytesStr(member)), score, true
}

// Range calls fn for the members at ranks start..end (inclusive, within
// 0..Len()-1), in ascending order, or descending from end when reverse,
// until fn returns false.
func (z *ZSet) Range(start, end int, reverse bool, fn func(member []byte, score float64) bool) {
	if start > end || start < 0 || end >= z.Len() {
		return
	}
	if z.isListpack() {
		var buf [ListpackMaxIntLen]byte
		if !reverse {
			p := z.lp.Seek(2 * start)
			for i := start; i <= end; i++ {
				sp := z.lp.Next(p)
				if !fn(z.lp.GetBytes(p, buf[:0]), lpScore(&z.lp, sp)) {
					return
				}
				p = z.lp.Next(sp)
			}
			return
		}
		p := z.lp.Seek(2 * end)
		for i := end; i >= start; i-- {
			if !fn(z.lp.GetBytes(p, buf[:0]), lpScore(&z.lp, z.lp.Next(p))) {
				return
			}
			if i > start {
				p = z.lp.Prev(z.lp.Prev(p))
			}
		}
		return
	}
	var p zbtPath
	if !reverse {
		l, j := z.tree.at(start, &p)
		for i := start; i <= end; i++ {
			if j == l.n {
				l, j = l.next, 0
			}
			if !fn(strBytes(l.members[j]), l.scores[j]) {
				return
			}
			j++
		}
		return
	}
	l, j := z.tree.at(end, &p)
	for i := end; i >= start; i-- {
		if j < 0 {
			l = l.prev
			j = l.n - 1
		}
		if !fn(strBytes(l.members[j]), l.scores[j]) {
			return
		}
		j--
	}
}

// At returns the member at rank i (0 <= i < Len()).
func (z *ZSet) At(i int, buf []byte) (member []byte, score float64) {
	if z.isListpack() {
		p := z.lp.Seek(2 * i)
		return z.lp.GetBytes(p, buf), lpScore(&z.lp, z.lp.Next(p))
	}
	var p zbtPath
	l, j := z.tree.at(i, &p)
	return strBytes(l.members[j]), l.scores[j]
}

// ForEach calls fn with every member in ascending order until it returns
// false. The set must not be modified meanwhile.
func (z *ZSet) ForEach(fn func(member []byte, score float64) bool) {
	z.Range(0, z.Len()-1, false, fn)
}

// Members returns the members in ascending order (SORT).
func (z *ZSet) Members() []string {
	out := make([]string, 0, z.Len())
	z.ForEach(func(m []byte, _ float64) bool {
		out = append(out, string(m))
		return true
	})
	return out
}

// countWhile is how many members, from the lowest, satisfy below, which
// must hold for a prefix of the order and then never again.
func (z *ZSet) countWhile(below func(member []byte, score float64) bool) int {
	if z.isListpack() {
		var buf [ListpackMaxIntLen]byte
		n := 0
		for p := z.lp.First(); p >= 0; p = z.lp.Next(z.lp.Next(p)) {
			if !below(z.lp.GetBytes(p, buf[:0]), lpScore(&z.lp, z.lp.Next(p))) {
				break
			}
			n++
		}
		return n
	}
	return z.tree.countWhile(below)
}

// ScoreRange is a score interval, as ZRANGEBYSCORE's min and max parse.
type ScoreRange struct {
	Min, Max     float64
	MinEx, MaxEx bool
}

// Ranks returns the rank interval [first, end) of the members whose
// score lies in the interval.
func (r ScoreRange) Ranks(z *ZSet) (first, end int) {
	first = z.countWhile(func(_ []byte, s float64) bool { return s < r.Min || (r.MinEx && s == r.Min) })
	end = z.countWhile(func(_ []byte, s float64) bool { return s < r.Max || (!r.MaxEx && s == r.Max) })
	return first, max(first, end)
}

// LexBound is one end of a ZRANGEBYLEX interval: "-" (Inf -1), "+"
// (Inf 1), or a member, inclusive ("[m") or exclusive ("(m").
type LexBound struct {
	Value []byte
	Ex    bool
	Inf   int
}

// below reports whether member sorts before the bound, a member equal to
// it counting as before when equalIsBelow.
func (b LexBound) below(member []byte, equalIsBelow bool) bool {
	switch b.Inf {
	case -1:
		return false
	case 1:
		return true
	}
	c := bytes.Compare(member, b.Value)
	return c < 0 || (c == 0 && equalIsBelow)
}

// LexRange is a member interval, as ZRANGEBYLEX's min and max parse.
type LexRange struct{ Min, Max LexBound }

// Ranks returns the rank interval [first, end) of the members in the
// interval (which assumes, as Redis does, that all scores are equal).
func (r LexRange) Ranks(z *ZSet) (first, end int) {
	first = z.countWhile(func(m []byte, _ float64) bool { return r.Min.below(m, r.Min.Ex) })
	end = z.countWhile(func(m []byte, _ float64) bool { return r.Max.below(m, !r.Max.Ex) })
	return first, max(first, end)
}

// DeleteRanks removes the members at ranks [start, end) and returns how
// many went.
func (z *ZSet) DeleteRanks(start, end int) int {
	start = max(start, 0)
	end = min(end, z.Len())
	if start >= end {
		return 0
	}
	if z.isListpack() {
		z.lp.DeleteRange(z.lp.Seek(2*start), 2*(end-start))
		return end - start
	}
	z.tree.deleteRanks(start, end, func(_ float64, member string) {
		z.d.Delete(member)
		z.mem -= zsetEntryCost(member)
	})
	return end - start
}

// Scan advances a ZSCAN cursor, calling fn for each member visited, and
// returns the next cursor. A listpack-encoded set is returned whole with
// cursor 0, as Redis does.
func (z *ZSet) Scan(cursor uint64, fn func(member []byte, score float64)) uint64 {
	if z.isListpack() {
		z.ForEach(func(m []byte, s float64) bool { fn(m, s); return true })
		return 0
	}
	return z.d.Scan(cursor, func(k string, score *float64) { fn(strBytes(k), *score) })
}

// Random returns a random member (ZRANDMEMBER). The set must not be
// empty.
func (z *ZSet) Random(r *rand.Rand, buf []byte) ([]byte, float64) {
	if z.isListpack() {
		return z.At(r.IntN(z.Len()), buf)
	}
	m, score, _ := z.d.RandomKey(r)
	return strBytes(m), *score
}

// Clone returns an independent copy.
func (z *ZSet) Clone() *ZSet {
	if z.isListpack() {
		return &ZSet{lp: *z.lp.Clone()}
	}
	c := &ZSet{}
	c.initTree()
	for l := z.tree.first(); l != nil; l = l.next {
		for i := range l.n {
			c.treeInsert(l.members[i], l.scores[i])
		}
	}
	return c
}

// RehashSome lets the server's cron advance a large-encoded set's
// dict rehash (a no-op for listpacks).
func (z *ZSet) RehashSome(n int) bool {
	if z.d == nil {
		return false
	}
	return z.d.RehashSome(n)
}
