package types

import (
	"sort"
	"unsafe"
)

// zbtree keeps a large sorted set's members in order: a B+tree of
// (score, member) pairs whose inner nodes count the pairs under each
// child, so that finding a pair, its rank, the pair at a rank or the end
// of a score or lex interval each take one descent from the root.
//
// Redis keeps this order in a skiplist with spans. Each pair there is a
// node of its own, and a search follows some twenty pointers through
// nodes scattered over the heap, most of them cache misses once the set
// outgrows the cache. Here a leaf holds up to 63 pairs side by side, so a
// descent through 100,000 members reads three or four nodes, and a pair
// costs 24 bytes of a shared leaf instead of a 48-byte node.
type zbtree struct {
	root   unsafe.Pointer // *zbtLeaf at height 0, else *zbtInner
	height int            // inner levels above the leaves
	length int
	leaves int // nodes, for the memory estimate
	inners int
}

const (
	// zbtLeafCap makes a leaf 1,536 bytes, one of Go's size classes.
	zbtLeafCap  = 63
	zbtInnerCap = 32
	// A node other than the root holds at least a quarter of its room
	// after a removal; below that it merges with or borrows from a
	// sibling.
	zbtLeafMin  = zbtLeafCap / 4
	zbtInnerMin = zbtInnerCap / 4
	// zbtMaxHeight bounds a descent: with every inner node but the root
	// holding zbtInnerMin children, more levels would take more pairs
	// than memory holds.
	zbtMaxHeight = 24

	zbtLeafSize  = int(unsafe.Sizeof(zbtLeaf{}))
	zbtInnerSize = int(unsafe.Sizeof(zbtInner{}))
)

// zbtLeaf holds pairs in order; the scores are apart from the members so
// that a binary search reads eight of them per cache line.
type zbtLeaf struct {
	n          int
	prev, next *zbtLeaf
	scores     [zbtLeafCap]float64
	members    [zbtLeafCap]string
}

// zbtInner routes a descent: child i (i >= 1) holds only pairs at or
// above key i and below key i+1. Keys are not updated when the pair they
// came from goes, which keeps that true.
type zbtInner struct {
	n       int // children
	counts  [zbtInnerCap]int
	scores  [zbtInnerCap]float64 // keys; index 0 is unused
	members [zbtInnerCap]string
	kids    [zbtInnerCap]unsafe.Pointer // *zbtInner above height 1, else *zbtLeaf
}

// zbtPath records a descent, so that counts can be adjusted and nodes
// split or merged on the way back up.
type zbtPath struct {
	n     int
	steps [zbtMaxHeight]struct {
		in *zbtInner
		i  int // the child taken
	}
}

func (p *zbtPath) push(in *zbtInner, i int) {
	p.steps[p.n].in, p.steps[p.n].i = in, i
	p.n++
}

// add adjusts the counts along the path by d.
func (p *zbtPath) add(d int) {
	for k := 0; k < p.n; k++ {
		p.steps[k].in.counts[p.steps[k].i] += d
	}
}

// zbtLess reports whether (s1, m1) sorts before (s2, m2).
func zbtLess(s1 float64, m1 string, s2 float64, m2 string) bool {
	return s1 < s2 || (s1 == s2 && m1 < m2)
}

func newZbtree() *zbtree {
	return &zbtree{root: unsafe.Pointer(new(zbtLeaf)), leaves: 1}
}

// memoryUsage is the bytes its nodes hold.
func (t *zbtree) memoryUsage() int {
	return t.leaves*allocClass(zbtLeafSize) + t.inners*allocClass(zbtInnerSize)
}

// search is the index of the first pair not before (s, m).
func (l *zbtLeaf) search(s float64, m string) int {
	lo, hi := 0, l.n
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if zbtLess(l.scores[h], l.members[h], s, m) {
			lo = h + 1
		} else {
			hi = h
		}
	}
	return lo
}

func (l *zbtLeaf) insertAt(i int, s float64, m string) {
	copy(l.scores[i+1:l.n+1], l.scores[i:l.n])
	copy(l.members[i+1:l.n+1], l.members[i:l.n])
	l.scores[i], l.members[i] = s, m
	l.n++
}

func (l *zbtLeaf) deleteAt(i, k int) {
	copy(l.scores[i:], l.scores[i+k:l.n])
	copy(l.members[i:], l.members[i+k:l.n])
	clear(l.members[l.n-k : l.n]) // let the collector have the strings
	l.n -= k
}

// child is the child whose range holds (s, m).
func (in *zbtInner) child(s float64, m string) int {
	lo, hi := 1, in.n
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if zbtLess(s, m, in.scores[h], in.members[h]) {
			hi = h
		} else {
			lo = h + 1
		}
	}
	return lo - 1
}

func (in *zbtInner) insertKid(i int, kid unsafe.Pointer, s float64, m string, count int) {
	copy(in.kids[i+1:in.n+1], in.kids[i:in.n])
	copy(in.counts[i+1:in.n+1], in.counts[i:in.n])
	copy(in.scores[i+1:in.n+1], in.scores[i:in.n])
	copy(in.members[i+1:in.n+1], in.members[i:in.n])
	in.kids[i], in.counts[i], in.scores[i], in.members[i] = kid, count, s, m
	in.n++
}

func (in *zbtInner) deleteKid(i int) {
	copy(in.kids[i:], in.kids[i+1:in.n])
	copy(in.counts[i:], in.counts[i+1:in.n])
	copy(in.scores[i:], in.scores[i+1:in.n])
	copy(in.members[i:], in.members[i+1:in.n])
	in.n--
	in.kids[in.n], in.members[in.n] = nil, ""
}

func (in *zbtInner) sum() int {
	n := 0
	for _, c := range in.counts[:in.n] {
		n += c
	}
	return n
}

// find descends to the leaf whose range holds (s, m).
func (t *zbtree) find(s float64, m string, p *zbtPath) *zbtLeaf {
	p.n = 0
	node := t.root
	for h := t.height; h > 0; h-- {
		in := (*zbtInner)(node)
		i := in.child(s, m)
		p.push(in, i)
		node = in.kids[i]
	}
	return (*zbtLeaf)(node)
}

// at descends to the pair at a 0-based rank (0 <= rank < length).
func (t *zbtree) at(rank int, p *zbtPath) (*zbtLeaf, int) {
	p.n = 0
	node := t.root
	for h := t.height; h > 0; h-- {
		in := (*zbtInner)(node)
		i := 0
		for rank >= in.counts[i] {
			rank -= in.counts[i]
			i++
		}
		p.push(in, i)
		node = in.kids[i]
	}
	return (*zbtLeaf)(node), rank
}

// insert adds a pair that is not in the tree.
func (t *zbtree) insert(s float64, m string) {
	var p zbtPath
	l := t.find(s, m, &p)
	i := l.search(s, m)
	p.add(1)
	t.length++
	if l.n < zbtLeafCap {
		l.insertAt(i, s, m)
		return
	}
	r := new(zbtLeaf)
	t.leaves++
	// An even split suits inserts in random places. Inserts in order
	// (scores that are timestamps; an RDB file, which Redis writes from
	// the highest member down) would leave every leaf behind them half
	// empty, so a split at either end of the set leaves the side that
	// will not grow three quarters full.
	h := l.n / 2
	switch {
	case i == l.n && l.next == nil:
		h = l.n - zbtLeafMin
	case i == 0 && l.prev == nil:
		h = zbtLeafMin
	}
	r.n = copy(r.scores[:], l.scores[h:l.n])
	copy(r.members[:], l.members[h:l.n])
	clear(l.members[h:l.n])
	l.n = h
	r.prev, r.next = l, l.next
	if l.next != nil {
		l.next.prev = r
	}
	l.next = r
	if i <= h {
		l.insertAt(i, s, m)
	} else {
		r.insertAt(i-h, s, m)
	}
	t.addKid(&p, unsafe.Pointer(r), r.scores[0], r.members[0], l.n, r.n)
}

// addKid puts right, split off the node at the end of the path with
// left pairs left in it, after that node in its parent, splitting
// parents that are full and growing a new root when the old one splits.
func (t *zbtree) addKid(p *zbtPath, right unsafe.Pointer, s float64, m string, left, rightN int) {
	for lvl := p.n - 1; lvl >= 0; lvl-- {
		in, i := p.steps[lvl].in, p.steps[lvl].i
		in.counts[i] = left
		if in.n < zbtInnerCap {
			in.insertKid(i+1, right, s, m, rightN)
			return
		}
		r := new(zbtInner)
		t.inners++
		h := in.n / 2
		sepS, sepM := in.scores[h], in.members[h]
		r.n = copy(r.kids[:], in.kids[h:in.n])
		copy(r.counts[:], in.counts[h:in.n])
		copy(r.scores[1:], in.scores[h+1:in.n])
		copy(r.members[1:], in.members[h+1:in.n])
		clear(in.kids[h:in.n])
		clear(in.members[h:in.n])
		in.n = h
		if i+1 <= h {
			in.insertKid(i+1, right, s, m, rightN)
		} else {
			r.insertKid(i+1-h, right, s, m, rightN)
		}
		right, s, m, left, rightN = unsafe.Pointer(r), sepS, sepM, in.sum(), r.sum()
	}
	root := &zbtInner{n: 2}
	root.kids[0], root.kids[1] = t.root, right
	root.counts[0], root.counts[1] = left, rightN
	root.scores[1], root.members[1] = s, m
	t.root = unsafe.Pointer(root)
	t.height++
	t.inners++
}

// remove takes out a pair that is in the tree.
func (t *zbtree) remove(s float64, m string) {
	var p zbtPath
	l := t.find(s, m, &p)
	t.removeAt(&p, l, l.search(s, m), 1)
}

// removeAt takes k pairs from index i of leaf l, which p leads to.
func (t *zbtree) removeAt(p *zbtPath, l *zbtLeaf, i, k int) {
	l.deleteAt(i, k)
	p.add(-k)
	t.length -= k
	t.rebalance(p)
}

// rebalance restores the minimum fill along a path whose leaf lost
// pairs, from the leaf up.
func (t *zbtree) rebalance(p *zbtPath) {
	for lvl := p.n - 1; lvl >= 0; lvl-- {
		in, i := p.steps[lvl].in, p.steps[lvl].i
		a := min(i, in.n-2) // the node and a sibling: a and a+1
		var merged bool
		if lvl == p.n-1 {
			if (*zbtLeaf)(in.kids[i]).n >= zbtLeafMin {
				return
			}
			merged = t.joinLeaves(in, a)
		} else {
			if (*zbtInner)(in.kids[i]).n >= zbtInnerMin {
				return
			}
			merged = t.joinInners(in, a)
		}
		if !merged {
			return
		}
	}
	for t.height > 0 && (*zbtInner)(t.root).n == 1 {
		t.root = (*zbtInner)(t.root).kids[0]
		t.height--
		t.inners--
	}
}

// joinLeaves merges leaves a and a+1 of in when their pairs fit in one,
// else shares the pairs evenly between them. It reports a merge.
func (t *zbtree) joinLeaves(in *zbtInner, a int) bool {
	l, r := (*zbtLeaf)(in.kids[a]), (*zbtLeaf)(in.kids[a+1])
	total := l.n + r.n
	if total <= zbtLeafCap {
		copy(l.scores[l.n:], r.scores[:r.n])
		copy(l.members[l.n:], r.members[:r.n])
		l.n = total
		l.next = r.next
		if r.next != nil {
			r.next.prev = l
		}
		in.counts[a] = total
		in.deleteKid(a + 1)
		t.leaves--
		return true
	}
	if want := total / 2; l.n < want {
		k := want - l.n
		copy(l.scores[l.n:], r.scores[:k])
		copy(l.members[l.n:], r.members[:k])
		l.n = want
		r.deleteAt(0, k)
	} else {
		k := l.n - want
		copy(r.scores[k:], r.scores[:r.n])
		copy(r.members[k:], r.members[:r.n])
		copy(r.scores[:k], l.scores[want:l.n])
		copy(r.members[:k], l.members[want:l.n])
		r.n += k
		clear(l.members[want:l.n])
		l.n = want
	}
	in.counts[a], in.counts[a+1] = l.n, r.n
	in.scores[a+1], in.members[a+1] = r.scores[0], r.members[0]
	return false
}

// joinInners is joinLeaves for inner nodes: the parent's key between
// them becomes the key of the right node's first child when they merge,
// and keys rotate through the parent when they share.
func (t *zbtree) joinInners(in *zbtInner, a int) bool {
	l, r := (*zbtInner)(in.kids[a]), (*zbtInner)(in.kids[a+1])
	total := l.n + r.n
	// All children in order, with the key of each (but the first).
	var kids [2 * zbtInnerCap]unsafe.Pointer
	var counts [2 * zbtInnerCap]int
	var scores [2 * zbtInnerCap]float64
	var members [2 * zbtInnerCap]string
	copy(kids[:], l.kids[:l.n])
	copy(kids[l.n:], r.kids[:r.n])
	copy(counts[:], l.counts[:l.n])
	copy(counts[l.n:], r.counts[:r.n])
	copy(scores[:], l.scores[:l.n])
	copy(scores[l.n:], r.scores[:r.n])
	copy(members[:], l.members[:l.n])
	copy(members[l.n:], r.members[:r.n])
	scores[l.n], members[l.n] = in.scores[a+1], in.members[a+1]
	h := total
	if total > zbtInnerCap {
		h = total / 2
	}
	fill := func(dst *zbtInner, from, to int) {
		clear(dst.kids[:dst.n])
		clear(dst.members[:dst.n])
		dst.n = copy(dst.kids[:], kids[from:to])
		copy(dst.counts[:], counts[from:to])
		copy(dst.scores[:], scores[from:to])
		copy(dst.members[:], members[from:to])
		dst.members[0] = ""
	}
	fill(l, 0, h)
	if h == total {
		in.counts[a] += in.counts[a+1]
		in.deleteKid(a + 1)
		t.inners--
		return true
	}
	fill(r, h, total)
	in.counts[a], in.counts[a+1] = l.sum(), r.sum()
	in.scores[a+1], in.members[a+1] = scores[h], members[h]
	return false
}

// move gives the pair (old, m) the score s. When the pair stays within
// its leaf it moves there, with no counts to change.
func (t *zbtree) move(old float64, m string, s float64) {
	var p zbtPath
	l := t.find(old, m, &p)
	i := l.search(old, m)
	stored := l.members[i]
	lo, hi := 0, l.n-1
	if i == lo {
		lo++
	}
	if i == hi {
		hi--
	}
	if lo <= hi && zbtLess(l.scores[lo], l.members[lo], s, m) && zbtLess(s, m, l.scores[hi], l.members[hi]) {
		l.deleteAt(i, 1)
		l.insertAt(l.search(s, m), s, stored)
		return
	}
	t.removeAt(&p, l, i, 1)
	t.insert(s, stored)
}

// rank is the 0-based rank of a pair that is in the tree: the pairs
// under the children left of the path, and those before it in its leaf.
func (t *zbtree) rank(s float64, m string) int {
	var p zbtPath
	rank := t.find(s, m, &p).search(s, m)
	for _, st := range p.steps[:p.n] {
		for _, c := range st.in.counts[:st.i] {
			rank += c
		}
	}
	return rank
}

// countWhile is how many pairs, from the lowest, satisfy below, which
// holds for a prefix of the order and then never again.
func (t *zbtree) countWhile(below func(member []byte, score float64) bool) int {
	node := t.root
	n := 0
	for h := t.height; h > 0; h-- {
		in := (*zbtInner)(node)
		// The child holding the end: the one before the first key not below.
		i := sort.Search(in.n-1, func(k int) bool { return !below(strBytes(in.members[k+1]), in.scores[k+1]) })
		for _, c := range in.counts[:i] {
			n += c
		}
		node = in.kids[i]
	}
	l := (*zbtLeaf)(node)
	return n + sort.Search(l.n, func(k int) bool { return !below(strBytes(l.members[k]), l.scores[k]) })
}

// deleteRanks removes the pairs at 0-based ranks [start, end), calling
// gone for each.
func (t *zbtree) deleteRanks(start, end int, gone func(score float64, member string)) {
	for left := end - start; left > 0; {
		var p zbtPath
		l, i := t.at(start, &p)
		k := min(l.n-i, left)
		for j := i; j < i+k; j++ {
			gone(l.scores[j], l.members[j])
		}
		t.removeAt(&p, l, i, k)
		left -= k
	}
}

// first is the leaf with the lowest pairs.
func (t *zbtree) first() *zbtLeaf {
	node := t.root
	for h := t.height; h > 0; h-- {
		node = (*zbtInner)(node).kids[0]
	}
	return (*zbtLeaf)(node)
}
