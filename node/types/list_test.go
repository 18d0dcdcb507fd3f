package types

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// checkList verifies a list against its model and its own invariants:
// node counts, node bounds, memory accounting and valid listpacks.
func checkList(t *testing.T, l *List, model []string) {
	t.Helper()
	if got := l.Strings(); !slices.Equal(got, model) {
		t.Fatalf("contents differ:\n got %q\nwant %q", got, model)
	}
	if l.Len() != len(model) {
		t.Fatalf("Len %d, model %d", l.Len(), len(model))
	}
	count, nodes, mem := 0, 0, 0
	var prev *qlNode
	for n := l.head; n != nil; n = n.next {
		if n.prev != prev {
			t.Fatal("broken prev link")
		}
		if n.lp.Len() == 0 {
			t.Fatal("empty node")
		}
		if err := ValidateListpack(n.lp.Bytes()); err != nil {
			t.Fatal(err)
		}
		count += n.lp.Len()
		nodes++
		mem += n.memory()
		prev = n
	}
	if prev != l.tail || count != l.count || nodes != l.nodes || mem != l.mem {
		t.Fatalf("bookkeeping: count %d/%d nodes %d/%d mem %d/%d", count, l.count, nodes, l.nodes, mem, l.mem)
	}
	// Reverse iteration from every start agrees with the model.
	var back []string
	it := l.Iter(-1, true)
	for s, ok := it.Next(); ok; s, ok = it.Next() {
		back = append(back, string(s))
	}
	slices.Reverse(back)
	if !slices.Equal(back, model) {
		t.Fatalf("reverse iteration differs")
	}
}

func TestListNodeBounds(t *testing.T) {
	for _, tc := range []struct {
		fill     int
		elem     string
		n        int
		maxNodes int
		minNodes int
	}{
		{-2, "x", 10000, 4, 4},                        // 10000 3-byte entries in 8KB nodes (as Redis)
		{-1, strings.Repeat("a", 100), 100, 4, 3},     // 4KB nodes
		{-2, strings.Repeat("b", 9000), 3, 3, 3},      // oversize elements: one per node
		{5, "y", 23, 5, 5},                            // count-bounded
		{0, "z", 4, 4, 4},                             // fill 0: one element per node
		{128, strings.Repeat("c", 1000), 20, 20, 3},   // count fill, byte safety limit
		{-100, strings.Repeat("d", 1000), 200, 4, 4},  // clamped to -5 (64KB)
		{1 << 20, strings.Repeat("e", 10), 100, 1, 1}, // clamped to 32768
	} {
		l := NewList(tc.fill)
		var model []string
		for i := 0; i < tc.n; i++ {
			l.PushTailString(tc.elem)
			model = append(model, tc.elem)
		}
		checkList(t, l, model)
		if l.Nodes() < tc.minNodes || l.Nodes() > tc.maxNodes {
			t.Errorf("fill %d, %d x %d bytes: %d nodes", tc.fill, tc.n, len(tc.elem), l.Nodes())
		}
		for n := l.head; n != nil; n = n.next {
			if overLimit(n, l.fill) {
				t.Errorf("fill %d: node over its limit (%d bytes, %d entries)", tc.fill, n.lp.Size(), n.lp.Len())
			}
		}
	}
}

// TestListModel runs random operation sequences against a slice model,
// with small node bounds so splits, node removal and boundaries are
// exercised constantly.
func TestListModel(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	gen := func() string {
		switch r.IntN(5) {
		case 0:
			return strconv.Itoa(r.IntN(20))
		case 1:
			return strings.Repeat("L", r.IntN(3000))
		default:
			return string(rune('a' + r.IntN(5)))
		}
	}
	for _, fill := range []int{-1, -2, 1, 3, 16} {
		for round := 0; round < 20; round++ {
			l := NewList(fill)
			var model []string
			for op := 0; op < 400; op++ {
				switch k := r.IntN(12); k {
				case 0, 1:
					s := gen()
					l.PushHeadString(s)
					model = slices.Insert(model, 0, s)
				case 2, 3:
					s := gen()
					l.PushTailString(s)
					model = append(model, s)
				case 4:
					s, ok := l.PopHead()
					if ok != (len(model) > 0) || (ok && s != model[0]) {
						t.Fatalf("PopHead %q %v", s, ok)
					}
					if ok {
						model = model[1:]
					}
				case 5:
					s, ok := l.PopTail()
					if ok != (len(model) > 0) || (ok && s != model[len(model)-1]) {
						t.Fatalf("PopTail %q %v", s, ok)
					}
					if ok {
						model = model[:len(model)-1]
					}
				case 6:
					if len(model) > 0 {
						i := r.IntN(2*len(model)) - len(model)
						s := gen()
						l.Set(i, []byte(s))
						if i < 0 {
							i += len(model)
						}
						model[i] = s
						got, _ := l.Index(i)
						if got != s {
							t.Fatalf("Index after Set %q", got)
						}
					}
				case 7:
					pivot, s, after := gen(), gen(), r.IntN(2) == 0
					got := l.Insert([]byte(pivot), []byte(s), after)
					i := slices.Index(model, pivot)
					if i < 0 {
						if got != -1 {
							t.Fatalf("Insert without pivot returned %d", got)
						}
						break
					}
					if after {
						i++
					}
					model = slices.Insert(model, i, s)
					if got != len(model) {
						t.Fatalf("Insert returned %d", got)
					}
				case 8:
					s, count := gen(), r.IntN(5)-2
					got := l.Remove([]byte(s), count)
					want := 0
					if count >= 0 {
						for i := 0; i < len(model); {
							if model[i] == s && (count == 0 || want < count) {
								model = slices.Delete(model, i, i+1)
								want++
								continue
							}
							i++
						}
					} else {
						for i := len(model) - 1; i >= 0 && want < -count; i-- {
							if model[i] == s {
								model = slices.Delete(model, i, i+1)
								want++
							}
						}
					}
					if got != want {
						t.Fatalf("Remove %q %d: %d, want %d", s, count, got, want)
					}
				case 9:
					if len(model) > 0 {
						start := r.IntN(len(model))
						stop := start + r.IntN(len(model)-start)
						if r.IntN(4) == 0 {
							stop = start - 1
						}
						l.Trim(start, stop)
						if stop < start {
							model = nil
						} else {
							model = slices.Clone(model[start : stop+1])
						}
					}
				case 10:
					if len(model) > 0 {
						start, n := r.IntN(len(model)), r.IntN(len(model)+1)
						l.DeleteRange(start, n)
						model = slices.Delete(model, start, min(start+n, len(model)))
					}
				case 11:
					if len(model) > 0 {
						i := r.IntN(len(model))
						it := l.Iter(i, r.IntN(2) == 0)
						if s, _ := it.Next(); string(s) != model[i] {
							t.Fatalf("Iter(%d) gave %q", i, s)
						}
					}
				}
				if len(model) == 0 {
					model = nil
				}
			}
			checkList(t, l, model)
			c := l.Clone()
			checkList(t, c, model)
		}
	}
}

func TestListFromListpacks(t *testing.T) {
	l := NewList(-2)
	for _, part := range [][]string{{"a", "1"}, {}, {"bb", "-5", "c"}} {
		lp := NewListpack()
		for _, s := range part {
			lp.AppendString(s)
		}
		l.AppendListpack(lp)
	}
	checkList(t, l, []string{"a", "1", "bb", "-5", "c"})
	if l.Nodes() != 2 {
		t.Fatalf("%d nodes", l.Nodes())
	}
	var images int
	l.ForEachNode(func(lp *Listpack) bool { images++; return ValidateListpack(lp.Bytes()) == nil })
	if images != 2 {
		t.Fatal("ForEachNode")
	}
}

func BenchmarkListPushHeadPopTail(b *testing.B) {
	l := NewList(-2)
	v := []byte("xxx")
	for i := 0; i < 1000; i++ {
		l.PushHead(v)
	}
	b.ReportAllocs()
	for b.Loop() {
		l.PushHead(v)
		l.PopTail()
	}
}
