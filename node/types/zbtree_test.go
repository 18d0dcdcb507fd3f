package types

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// checkZbtree checks the tree's structure: every node's count and fill,
// the key bounds of each child, the leaf chain and the node tallies.
func checkZbtree(t *testing.T, step int, tr *zbtree) {
	t.Helper()
	type bound struct {
		s   float64
		m   string
		set bool
	}
	var leaves []*zbtLeaf
	inners := 0
	var walk func(node unsafe.Pointer, h int, lo, hi bound, root bool) int
	walk = func(node unsafe.Pointer, h int, lo, hi bound, root bool) int {
		if h == 0 {
			l := (*zbtLeaf)(node)
			leaves = append(leaves, l)
			if !root && l.n < zbtLeafMin {
				t.Fatalf("step %d: leaf holds %d pairs, under %d", step, l.n, zbtLeafMin)
			}
			for i := 0; i < l.n; i++ {
				if i > 0 && !zbtLess(l.scores[i-1], l.members[i-1], l.scores[i], l.members[i]) {
					t.Fatalf("step %d: leaf out of order at %d", step, i)
				}
				if lo.set && zbtLess(l.scores[i], l.members[i], lo.s, lo.m) {
					t.Fatalf("step %d: pair (%v %q) below its key (%v %q)", step, l.scores[i], l.members[i], lo.s, lo.m)
				}
				if hi.set && !zbtLess(l.scores[i], l.members[i], hi.s, hi.m) {
					t.Fatalf("step %d: pair (%v %q) not below the next key (%v %q)", step, l.scores[i], l.members[i], hi.s, hi.m)
				}
			}
			for i := l.n; i < zbtLeafCap; i++ {
				if l.members[i] != "" {
					t.Fatalf("step %d: leaf keeps a string past its end", step)
				}
			}
			return l.n
		}
		in := (*zbtInner)(node)
		inners++
		if in.n < 2 || (!root && in.n < zbtInnerMin) {
			t.Fatalf("step %d: inner node has %d children", step, in.n)
		}
		total := 0
		for i := 0; i < in.n; i++ {
			clo, chi := lo, hi
			if i > 0 {
				clo = bound{in.scores[i], in.members[i], true}
			}
			if i+1 < in.n {
				chi = bound{in.scores[i+1], in.members[i+1], true}
			}
			n := walk(in.kids[i], h-1, clo, chi, false)
			if n != in.counts[i] {
				t.Fatalf("step %d: child %d counted %d, holds %d", step, i, in.counts[i], n)
			}
			total += n
		}
		for i := in.n; i < zbtInnerCap; i++ {
			if in.kids[i] != nil || in.members[i] != "" {
				t.Fatalf("step %d: inner node keeps a pointer past its end", step)
			}
		}
		return total
	}
	if n := walk(tr.root, tr.height, bound{}, bound{}, true); n != tr.length {
		t.Fatalf("step %d: tree holds %d pairs, length says %d", step, n, tr.length)
	}
	if len(leaves) != tr.leaves || inners != tr.inners {
		t.Fatalf("step %d: %d leaves and %d inner nodes, tallied %d and %d", step, len(leaves), inners, tr.leaves, tr.inners)
	}
	if tr.first() != leaves[0] || leaves[0].prev != nil || leaves[len(leaves)-1].next != nil {
		t.Fatalf("step %d: leaf chain ends are wrong", step)
	}
	for i := 1; i < len(leaves); i++ {
		if leaves[i-1].next != leaves[i] || leaves[i].prev != leaves[i-1] {
			t.Fatalf("step %d: leaf chain broken at %d", step, i)
		}
	}
}

// TestZbtreeAgainstModel grows a large-encoded set to three inner levels
// and shrinks it to nothing through every kind of change, checking the
// tree's structure as it goes and its contents against a model.
func TestZbtreeAgainstModel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	z := NewZSetFor(1, 1, 0, 64)
	mdl := zsetModel{}
	const peak = 70000
	maxHeight := 0
	for step, growing := 0, true; growing || len(mdl) > 0; step++ {
		if len(mdl) >= peak {
			growing = false
		}
		m := fmt.Sprint("m", r.IntN(2*peak))
		s := float64(r.IntN(500)) // ties, so members break them
		op := r.IntN(97)          // growing: no runs of ranks
		if !growing {
			op = 40 + r.IntN(60)
		}
		switch {
		case op < 50: // add, or move when present
			mdl.set(t, step, z, m, s, 0)
		case op < 60: // a small score change, which mostly stays in its leaf
			if old, ok := mdl[m]; ok {
				mdl.set(t, step, z, m, old+float64(r.IntN(3)-1)/4, 0)
			}
		case op < 97:
			mdl.remove(t, step, z, m)
		default: // a run of ranks, up to a few leaves long
			if len(mdl) == 0 {
				continue
			}
			a := r.IntN(len(mdl))
			b := min(len(mdl), a+r.IntN(200))
			var gone []string // the order itself is checked against the model below
			if b > a {
				z.Range(a, b-1, false, func(m []byte, _ float64) bool { gone = append(gone, string(m)); return true })
			}
			if n := z.DeleteRanks(a, b); n != b-a || len(gone) != n {
				t.Fatalf("step %d: DeleteRanks(%d, %d) = %d, Range gave %d", step, a, b, n, len(gone))
			}
			for _, m := range gone {
				delete(mdl, m)
			}
		}
		maxHeight = max(maxHeight, z.tree.height)
		if step%2000 == 0 || len(mdl) < 100 {
			checkZbtree(t, step, z.tree)
			if z.Len() != len(mdl) {
				t.Fatalf("step %d: Len %d, model %d", step, z.Len(), len(mdl))
			}
		}
		if step%20000 == 0 || len(mdl) < 10 {
			checkZSet(t, step, z, mdl)
		}
	}
	if maxHeight < 3 {
		t.Fatalf("the tree reached height %d; the test means to reach 3", maxHeight)
	}
	if z.tree.height != 0 || z.tree.leaves != 1 || z.tree.inners != 0 {
		t.Fatalf("emptied tree has height %d, %d leaves, %d inner nodes", z.tree.height, z.tree.leaves, z.tree.inners)
	}
}

// TestZbtreeInOrderFill checks that inserts in ascending or descending
// order leave leaves about three quarters full, not half.
func TestZbtreeInOrderFill(t *testing.T) {
	const n = 20000
	for _, tc := range []struct {
		name  string
		score func(i int) float64
	}{
		{"ascending", func(i int) float64 { return float64(i) }},
		{"descending", func(i int) float64 { return float64(n - i) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newZbtree()
			for i := 0; i < n; i++ {
				tr.insert(tc.score(i), fmt.Sprint("m", i))
			}
			checkZbtree(t, n, tr)
			if most := n/(zbtLeafCap-zbtLeafMin) + 2; tr.leaves > most {
				t.Fatalf("%d pairs in %d leaves, want at most %d", n, tr.leaves, most)
			}
		})
	}
}
