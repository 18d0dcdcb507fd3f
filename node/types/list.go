package types

import "strconv"

// List is a Redis list. Redis 7.0 always encodes lists as a quicklist (a
// small list is a quicklist with one listpack node; the "listpack" list
// encoding came with 7.2), and so does this type: OBJECT ENCODING reports
// "quicklist". Node compression (list-compress-depth) is not implemented:
// nodes are always stored plain.
//
// Elements passed in are copied; []byte results alias the list's memory
// (or an iterator's buffer) and are valid until the next modification.
type List struct {
	head, tail *qlNode
	count      int
	nodes      int
	fill       int // list-max-listpack-size, clamped
	mem        int // bytes held by the nodes
}

// NewList returns an empty list whose nodes are bounded by fill
// (list-max-listpack-size: negative for a byte limit of 4KB..64KB,
// positive for an element count). Like Redis, the setting in force when
// a list is created applies for its whole life.
func NewList(fill int) *List { return &List{fill: ClampListFill(fill)} }

// Encoding is what OBJECT ENCODING reports.
func (l *List) Encoding() string { return "quicklist" }

// Len is the number of elements.
func (l *List) Len() int { return l.count }

// MemoryUsage estimates the bytes held.
func (l *List) MemoryUsage() int { return listStructSize + l.mem }

// Nodes is the number of quicklist nodes (DEBUG OBJECT ql_nodes).
func (l *List) Nodes() int { return l.nodes }

// Fill is the node bound the list was created with.
func (l *List) Fill() int { return l.fill }

// PushHead adds s at the head.
func (l *List) PushHead(s []byte) {
	l.count++
	if allowInsert(l.head, l.fill, len(s)) {
		l.nodePrepend(l.head, s)
		return
	}
	n := newNode()
	n.lp.Append(s)
	l.linkAfter(nil, n)
}

// PushTail adds s at the tail.
func (l *List) PushTail(s []byte) {
	l.count++
	if allowInsert(l.tail, l.fill, len(s)) {
		l.nodeAppend(l.tail, s)
		return
	}
	n := newNode()
	n.lp.Append(s)
	l.linkBefore(nil, n)
}

// PushHeadString and PushTailString are the string forms of the pushes.
func (l *List) PushHeadString(s string) { l.PushHead(strBytes(s)) }

// PushTailString adds s at the tail.
func (l *List) PushTailString(s string) { l.PushTail(strBytes(s)) }

// PopHead removes and returns the head element.
func (l *List) PopHead() (string, bool) {
	if l.count == 0 {
		return "", false
	}
	p := l.head.lp.First()
	s := l.head.lp.GetString(p)
	l.deleteAt(l.head, p)
	return s, true
}

// PopTail removes and returns the tail element.
func (l *List) PopTail() (string, bool) {
	if l.count == 0 {
		return "", false
	}
	p := l.tail.lp.Last()
	s := l.tail.lp.GetString(p)
	l.deleteAt(l.tail, p)
	return s, true
}

// normIndex turns a possibly negative index into 0..count-1, or -1.
func (l *List) normIndex(i int) int {
	if i < 0 {
		i += l.count
	}
	if i < 0 || i >= l.count {
		return -1
	}
	return i
}

// Index returns element i (negative counts from the tail).
func (l *List) Index(i int) (string, bool) {
	if i = l.normIndex(i); i < 0 {
		return "", false
	}
	n, p := l.locate(i)
	return n.lp.GetString(p), true
}

// Set replaces element i (negative counts from the tail); false if out of
// range.
func (l *List) Set(i int, s []byte) bool {
	if i = l.normIndex(i); i < 0 {
		return false
	}
	n, p := l.locate(i)
	old := n.memory()
	n.lp.Replace(p, s)
	l.mem += n.memory() - old
	if overLimit(n, l.fill) {
		// Give the grown element a node of its own so the neighbours
		// stay within bounds.
		if q := n.lp.Next(p); q >= 0 {
			l.split(n, q)
		}
		if p != n.lp.First() {
			l.split(n, p)
		}
	}
	return true
}

// Insert adds s before (or after) the first element equal to pivot and
// returns the new length, or -1 if pivot is absent.
func (l *List) Insert(pivot, s []byte, after bool) int {
	for n := l.head; n != nil; n = n.next {
		if p := n.lp.Find(n.lp.First(), pivot, 0); p >= 0 {
			l.insertNear(n, p, s, after)
			return l.count
		}
	}
	return -1
}

// Remove deletes elements equal to s: the first count from the head if
// count > 0, the last -count from the tail if count < 0, all if 0. It
// returns how many were removed.
func (l *List) Remove(s []byte, count int) int {
	removed := 0
	if count >= 0 {
		n := l.head
		p := -1
		if n != nil {
			p = n.lp.First()
		}
		for n != nil && (count == 0 || removed < count) {
			if q := n.lp.Find(p, s, 0); q >= 0 {
				n, p = l.deleteAt(n, q)
				removed++
				continue
			}
			n = n.next
			if n != nil {
				p = n.lp.First()
			}
		}
		return removed
	}
	count = -count
	for n := l.tail; n != nil && removed < count; {
		prev := n.prev
		for p := n.lp.Last(); p >= 0 && removed < count; {
			q := n.lp.Prev(p)
			if n.lp.Equal(p, s) {
				removed++
				if n.lp.Len() == 1 {
					l.deleteAt(n, p)
					break
				}
				l.deleteAt(n, p)
			}
			p = q
		}
		n = prev
	}
	return removed
}

// DeleteRange removes count elements starting at index start
// (0 <= start); whole nodes are dropped without being walked.
func (l *List) DeleteRange(start, count int) {
	if start < 0 || start >= l.count || count <= 0 {
		return
	}
	count = min(count, l.count-start)
	n, p := l.locate(start)
	for count > 0 && n != nil {
		next := n.next
		if p == n.lp.First() && count >= n.lp.Len() {
			count -= n.lp.Len()
			l.count -= n.lp.Len()
			l.unlink(n)
		} else {
			before := n.lp.Len()
			old := n.memory()
			n.lp.DeleteRange(p, count)
			l.mem += n.memory() - old
			gone := before - n.lp.Len()
			count -= gone
			l.count -= gone
		}
		n = next
		if n != nil {
			p = n.lp.First()
		}
	}
}

// Trim keeps only the elements from index start to stop inclusive
// (already clamped to the list by the caller: 0 <= start, stop < Len).
// An empty range empties the list.
func (l *List) Trim(start, stop int) {
	if start > stop || start >= l.count {
		l.Clear()
		return
	}
	l.DeleteRange(stop+1, l.count-stop-1)
	l.DeleteRange(0, start)
}

// Clear removes every element.
func (l *List) Clear() {
	l.head, l.tail = nil, nil
	l.count, l.nodes, l.mem = 0, 0, 0
}

// ListIter walks a list from an index towards the tail or the head.
type ListIter struct {
	l       *List
	n       *qlNode
	p       int
	reverse bool
	buf     [ListpackMaxIntLen]byte
}

// Iter returns an iterator starting at index start (negative counts from
// the tail), moving towards the head if reverse. Out of range: an
// iterator that yields nothing.
func (l *List) Iter(start int, reverse bool) ListIter {
	it := ListIter{l: l, reverse: reverse, p: -1}
	if start = l.normIndex(start); start >= 0 {
		it.n, it.p = l.locate(start)
	}
	return it
}

// Next returns the current element and advances. The bytes alias the
// list or the iterator and are valid until the next call or modification.
func (it *ListIter) Next() ([]byte, bool) {
	if it.n == nil {
		return nil, false
	}
	s := it.n.lp.GetBytes(it.p, it.buf[:0])
	if it.reverse {
		it.p = it.n.lp.Prev(it.p)
		if it.p < 0 {
			it.n = it.n.prev
			if it.n != nil {
				it.p = it.n.lp.Last()
			}
		}
	} else {
		it.p = it.n.lp.Next(it.p)
		if it.p < 0 {
			it.n = it.n.next
			if it.n != nil {
				it.p = it.n.lp.First()
			}
		}
	}
	return s, true
}

// Strings returns the elements in order (tests, SORT, debugging).
func (l *List) Strings() []string {
	out := make([]string, 0, l.count)
	it := l.Iter(0, false)
	for s, ok := it.Next(); ok; s, ok = it.Next() {
		out = append(out, string(s))
	}
	return out
}

// Clone returns an independent copy.
func (l *List) Clone() *List {
	c := &List{fill: l.fill}
	for n := l.head; n != nil; n = n.next {
		c.AppendListpack(n.lp.Clone())
	}
	return c
}

// ForEachNode passes each node's listpack, head to tail, to fn until it
// returns false (RDB and DUMP write lists as these listpacks). The
// listpacks must not be modified.
func (l *List) ForEachNode(fn func(lp *Listpack) bool) {
	for n := l.head; n != nil; n = n.next {
		if !fn(&n.lp) {
			return
		}
	}
}

// AppendListpack adds lp's elements at the tail as a node of its own (RDB
// loading: lp must be validated and is adopted). Empty listpacks are
// skipped, as Redis does.
func (l *List) AppendListpack(lp *Listpack) {
	if lp.Len() == 0 {
		return
	}
	n := &qlNode{lp: *lp}
	l.count += lp.Len()
	l.linkBefore(nil, n)
}

// String is a debugging form.
func (l *List) String() string {
	return "list(" + strconv.Itoa(l.count) + " elements, " + strconv.Itoa(l.nodes) + " nodes)"
}
