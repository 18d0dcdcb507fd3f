package types

// Quicklist mechanics: a doubly linked list of listpack nodes, each kept
// within list-max-listpack-size by the same rule Redis 7.0 uses, so node
// boundaries (and so RDB images) come out alike.

const (
	// qlSizeSafetyLimit bounds a node's bytes when the fill is a count.
	qlSizeSafetyLimit = 8192
	// qlSizeEstimateOverhead is Redis's guess at an entry's encoding and
	// backlen overhead when deciding whether an element fits a node.
	qlSizeEstimateOverhead = 8
	qlFillMax              = 1 << 15
	qlFillMin              = -5
	// qlNodeStructSize is a node's own allocation (links + listpack header).
	qlNodeStructSize = 48
	// listStructSize is the List header.
	listStructSize = 48
)

// qlOptimizationLevel is the byte limit of a node for fill -1 ... -5.
var qlOptimizationLevel = [...]int{4096, 8192, 16384, 32768, 65536}

type qlNode struct {
	prev, next *qlNode
	lp         Listpack
}

// ClampListFill brings a list-max-listpack-size value into the range
// Redis's quicklist accepts (-5 .. 32768).
func ClampListFill(fill int) int {
	return max(qlFillMin, min(fill, qlFillMax))
}

// allowInsert reports whether an element of sz bytes may join node n.
func allowInsert(n *qlNode, fill, sz int) bool {
	if n == nil {
		return false
	}
	newSz := n.lp.Size() + sz + qlSizeEstimateOverhead
	if fill < 0 && newSz <= qlOptimizationLevel[-fill-1] {
		return true
	}
	if newSz > qlSizeSafetyLimit {
		return false
	}
	return n.lp.Len() < fill
}

// overLimit reports whether a node has outgrown its bounds (after an
// in-place replacement) and holds more than one element, so it should be
// split.
func overLimit(n *qlNode, fill int) bool {
	if n.lp.Len() <= 1 {
		return false
	}
	sz := n.lp.Size()
	if fill < 0 {
		return sz > qlOptimizationLevel[-fill-1]
	}
	return sz > qlSizeSafetyLimit || n.lp.Len() > fill
}

func (n *qlNode) memory() int { return qlNodeStructSize + allocClass(cap(n.lp.b)) }

func newNode() *qlNode {
	n := &qlNode{}
	n.lp = *NewListpack()
	return n
}

// linkAfter inserts n after at (at nil: as the new head).
func (l *List) linkAfter(at, n *qlNode) {
	if at == nil {
		n.next = l.head
		if l.head != nil {
			l.head.prev = n
		}
		l.head = n
		if l.tail == nil {
			l.tail = n
		}
	} else {
		n.prev = at
		n.next = at.next
		if at.next != nil {
			at.next.prev = n
		} else {
			l.tail = n
		}
		at.next = n
	}
	l.nodes++
	l.mem += n.memory()
}

// linkBefore inserts n before at (at nil: as the new tail).
func (l *List) linkBefore(at, n *qlNode) {
	if at == nil {
		l.linkAfter(l.tail, n)
		return
	}
	l.linkAfter(at.prev, n)
}

// unlink removes node n.
func (l *List) unlink(n *qlNode) {
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		l.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else {
		l.tail = n.prev
	}
	n.prev, n.next = nil, nil
	l.nodes--
	l.mem -= n.memory()
}

// split moves the entries of n from position p on into a new node linked
// right after n, and returns it.
func (l *List) split(n *qlNode, p int) *qlNode {
	old := n.memory()
	right := &qlNode{lp: *n.lp.SplitAt(p)}
	l.mem += n.memory() - old
	l.linkAfter(n, right)
	return right
}

// locate finds the node and position of element i (0 <= i < count),
// walking from the nearer end.
func (l *List) locate(i int) (*qlNode, int) {
	if i < l.count/2 {
		for n := l.head; n != nil; n = n.next {
			if i < n.lp.Len() {
				return n, n.lp.Seek(i)
			}
			i -= n.lp.Len()
		}
	} else {
		back := l.count - 1 - i
		for n := l.tail; n != nil; n = n.prev {
			if back < n.lp.Len() {
				return n, n.lp.Seek(-1 - back)
			}
			back -= n.lp.Len()
		}
	}
	return nil, -1
}

// insertNear adds s next to the entry at p of node n (after it when
// after is set), splitting full nodes the way Redis's _quicklistInsert
// does.
func (l *List) insertNear(n *qlNode, p int, s []byte, after bool) {
	sz := len(s)
	l.count++
	if allowInsert(n, l.fill, sz) {
		old := n.memory()
		if after {
			n.lp.InsertAfter(p, s)
		} else {
			n.lp.InsertBefore(p, s)
		}
		l.mem += n.memory() - old
		return
	}
	atTail := after && n.lp.Next(p) < 0
	atHead := !after && p == n.lp.First()
	switch {
	case atTail && allowInsert(n.next, l.fill, sz):
		l.nodePrepend(n.next, s)
	case atHead && allowInsert(n.prev, l.fill, sz):
		l.nodeAppend(n.prev, s)
	case atTail:
		nn := newNode()
		nn.lp.Append(s)
		l.linkAfter(n, nn)
	case atHead:
		nn := newNode()
		nn.lp.Append(s)
		l.linkBefore(n, nn)
	default:
		// Split so that the insertion point becomes a node boundary.
		at := p
		if after {
			at = n.lp.Next(p)
		}
		right := l.split(n, at)
		switch {
		case allowInsert(n, l.fill, sz):
			l.nodeAppend(n, s)
		case allowInsert(right, l.fill, sz):
			l.nodePrepend(right, s)
		default:
			nn := newNode()
			nn.lp.Append(s)
			l.linkAfter(n, nn)
		}
	}
}

func (l *List) nodeAppend(n *qlNode, s []byte) {
	old := n.memory()
	n.lp.Append(s)
	l.mem += n.memory() - old
}

func (l *List) nodePrepend(n *qlNode, s []byte) {
	old := n.memory()
	n.lp.Prepend(s)
	l.mem += n.memory() - old
}

// deleteAt removes the entry at p of node n, dropping the node if it
// empties. It returns the node and position of the following element
// (nil, -1 at the end of the list).
func (l *List) deleteAt(n *qlNode, p int) (*qlNode, int) {
	l.count--
	if n.lp.Len() == 1 {
		next := n.next
		l.unlink(n)
		if next == nil {
			return nil, -1
		}
		return next, next.lp.First()
	}
	old := n.memory()
	q := n.lp.Delete(p)
	l.mem += n.memory() - old
	if q >= 0 {
		return n, q
	}
	if n.next == nil {
		return nil, -1
	}
	return n.next, n.next.lp.First()
}
