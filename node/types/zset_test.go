package types

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// zsetModel is the reference: members with scores, sorted on demand.
type zsetModel map[string]float64

type zsetPair struct {
	m string
	s float64
}

func (mdl zsetModel) sorted() []zsetPair {
	out := make([]zsetPair, 0, len(mdl))
	for m, s := range mdl {
		out = append(out, zsetPair{m, s})
	}
	slices.SortFunc(out, func(a, b zsetPair) int {
		if a.s != b.s {
			if a.s < b.s {
				return -1
			}
			return 1
		}
		return strings.Compare(a.m, b.m)
	})
	return out
}

// set gives m the score s in z and in the model, checking that z adds
// the member exactly when the model did not have it.
func (mdl zsetModel) set(t *testing.T, step int, z *ZSet, m string, s float64, maxEntries int) {
	t.Helper()
	_, had := mdl[m]
	if added := z.Set([]byte(m), s, maxEntries, 64); added == had {
		t.Fatalf("step %d: Set(%q) added=%v, model had=%v", step, m, added, had)
	}
	mdl[m] = s
}

// remove takes m out of z and the model, checking that z had it exactly
// when the model did.
func (mdl zsetModel) remove(t *testing.T, step int, z *ZSet, m string) {
	t.Helper()
	_, had := mdl[m]
	if z.Remove([]byte(m)) != had {
		t.Fatalf("step %d: Remove(%q) mismatch", step, m)
	}
	delete(mdl, m)
}

func zsetContents(z *ZSet) []zsetPair {
	var out []zsetPair
	z.ForEach(func(m []byte, s float64) bool {
		out = append(out, zsetPair{string(m), s})
		return true
	})
	return out
}

func checkZSet(t *testing.T, step int, z *ZSet, mdl zsetModel) {
	t.Helper()
	want := mdl.sorted()
	got := zsetContents(z)
	if z.Len() != len(want) || !slices.Equal(got, want) {
		t.Fatalf("step %d (%s): got %v, want %v", step, z.Encoding(), got, want)
	}
	var rev []zsetPair
	z.Range(0, z.Len()-1, true, func(m []byte, s float64) bool {
		rev = append(rev, zsetPair{string(m), s})
		return true
	})
	slices.Reverse(rev)
	if !slices.Equal(rev, want) {
		t.Fatalf("step %d: reverse walk %v, want %v", step, rev, want)
	}
	for i, p := range want {
		r, s, ok := z.Rank([]byte(p.m))
		if !ok || r != i || s != p.s {
			t.Fatalf("step %d: rank(%q) = %d %v %v, want %d %v", step, p.m, r, s, ok, i, p.s)
		}
		var buf [ListpackMaxIntLen]byte
		if m, s := z.At(i, buf[:0]); string(m) != p.m || s != p.s {
			t.Fatalf("step %d: At(%d) = %q %v", step, i, m, s)
		}
	}
}

func TestZSetAgainstModel(t *testing.T) {
	for _, tc := range []struct {
		name       string
		maxEntries int
		members    int
	}{
		{"listpack", 1000, 40},
		{"converts", 16, 40},
		{"skiplist", 0, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(tc.maxEntries)))
			z := NewZSetFor(1, 1, tc.maxEntries, 64)
			mdl := zsetModel{}
			for step := 0; step < 3000; step++ {
				m := fmt.Sprint(r.IntN(tc.members))
				if r.IntN(5) == 0 {
					m = "m" + m
				}
				switch op := r.IntN(10); {
				case op < 5:
					s := float64(r.IntN(20)) / 2
					if r.IntN(20) == 0 {
						s = math.Inf(1 - 2*r.IntN(2))
					}
					mdl.set(t, step, z, m, s, tc.maxEntries)
				case op < 7:
					mdl.remove(t, step, z, m)
				case op < 8:
					lo, hi := float64(r.IntN(12)), float64(r.IntN(12))
					sr := ScoreRange{Min: lo, Max: hi, MinEx: r.IntN(2) == 0, MaxEx: r.IntN(2) == 0}
					first, end := sr.Ranks(z)
					want := 0
					for _, s := range mdl {
						if (s > lo || (!sr.MinEx && s == lo)) && (s < hi || (!sr.MaxEx && s == hi)) {
							want++
						}
					}
					if end-first != want {
						t.Fatalf("step %d: count in %+v = %d, want %d", step, sr, end-first, want)
					}
					if r.IntN(3) == 0 {
						if n := z.DeleteRanks(first, end); n != want {
							t.Fatalf("step %d: deleted %d, want %d", step, n, want)
						}
						for k, s := range mdl {
							if (s > lo || (!sr.MinEx && s == lo)) && (s < hi || (!sr.MaxEx && s == hi)) {
								delete(mdl, k)
							}
						}
					}
				default:
					if z.Len() == 0 {
						continue
					}
					a := r.IntN(z.Len())
					b := a + r.IntN(z.Len()-a)
					sorted := mdl.sorted()
					if n := z.DeleteRanks(a, b+1); n != b-a+1 {
						t.Fatalf("step %d: DeleteRanks(%d,%d) = %d", step, a, b+1, n)
					}
					for _, p := range sorted[a : b+1] {
						delete(mdl, p.m)
					}
				}
				checkZSet(t, step, z, mdl)
			}
			if tc.maxEntries == 16 && z.Encoding() != "skiplist" {
				t.Fatalf("expected conversion, still %s", z.Encoding())
			}
			c := z.Clone()
			checkZSet(t, -1, c, mdl)
		})
	}
}

func TestZSetLexRange(t *testing.T) {
	for _, enc := range []int{128, 0} {
		z := NewZSetFor(1, 1, enc, 64)
		for _, m := range []string{"a", "b", "c", "d", "e"} {
			z.Set([]byte(m), 0, enc, 64)
		}
		for _, tc := range []struct {
			r          LexRange
			first, end int
		}{
			{LexRange{LexBound{Inf: -1}, LexBound{Inf: 1}}, 0, 5},
			{LexRange{LexBound{Value: []byte("b")}, LexBound{Value: []byte("d")}}, 1, 4},
			{LexRange{LexBound{Value: []byte("b"), Ex: true}, LexBound{Value: []byte("d"), Ex: true}}, 2, 3},
			{LexRange{LexBound{Inf: 1}, LexBound{Inf: 1}}, 5, 5},
			{LexRange{LexBound{Inf: -1}, LexBound{Inf: -1}}, 0, 0},
			{LexRange{LexBound{Value: []byte("d")}, LexBound{Value: []byte("b")}}, 3, 3},
		} {
			f, e := tc.r.Ranks(z)
			if f != tc.first || e != tc.end {
				t.Errorf("%s %+v: got [%d,%d), want [%d,%d)", z.Encoding(), tc.r, f, e, tc.first, tc.end)
			}
		}
	}
}

func TestAppendScore(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{1, "1"}, {-3, "-3"}, {1.5, "1.5"}, {0.1, "0.10000000000000001"},
		{math.Inf(1), "inf"}, {math.Inf(-1), "-inf"}, {math.Copysign(0, -1), "0"}, {123456789012345678, "123456789012345680"},
		{1e20, "1e+20"}, {4503599627370496, "4503599627370496"},
	} {
		if got := string(AppendScore(nil, tc.f)); got != tc.want {
			t.Errorf("AppendScore(%v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}

func TestIntsetAgainstModel(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	s := NewSet()
	model := map[int64]bool{}
	widths := []int64{100, 1 << 20, 1 << 40}
	for step := 0; step < 4000; step++ {
		bound := widths[min(step/1000, 2)]
		v := r.Int64N(2*bound) - bound
		m := []byte(fmt.Sprint(v))
		if r.IntN(3) == 0 {
			if s.Remove(m) != model[v] {
				t.Fatalf("step %d: Remove(%d) mismatch", step, v)
			}
			delete(model, v)
		} else {
			if s.Add(m, 1<<20) == model[v] {
				t.Fatalf("step %d: Add(%d) mismatch", step, v)
			}
			model[v] = true
		}
		if s.Len() != len(model) || s.Encoding() != "intset" {
			t.Fatalf("step %d: len %d (%s), model %d", step, s.Len(), s.Encoding(), len(model))
		}
	}
	b, _ := s.IntsetBytes()
	if !validIntset(b) {
		t.Fatal("intset bytes invalid")
	}
	c, err := SetFromIntset(b)
	if err != nil || c.Len() != s.Len() {
		t.Fatalf("round trip: %v", err)
	}
	prev := int64(math.MinInt64)
	first := true
	c.ForEach(func(m string) bool {
		var v int64
		fmt.Sscan(m, &v)
		if !model[v] || (!first && v <= prev) {
			t.Fatalf("member %s out of order or unknown", m)
		}
		prev, first = v, false
		return true
	})
}

func TestSetAddManyMatchesAdd(t *testing.T) {
	for _, tc := range [][]string{
		{"3", "1", "2", "3"},
		{"-70000", "5", "1099511627776"},
		{"1", "x", "2"},
		{"01", "1"},
	} {
		a, b := NewSet(), NewSet()
		args := make([][]byte, len(tc))
		for i, m := range tc {
			args[i] = []byte(m)
		}
		n := a.AddMany(args, 512)
		want := 0
		for _, m := range args {
			if b.Add(m, 512) {
				want++
			}
		}
		am, bm := a.Members(), b.Members()
		slices.Sort(am)
		slices.Sort(bm)
		if n != want || !slices.Equal(am, bm) || a.Encoding() != b.Encoding() {
			t.Errorf("%q: AddMany %d %v %s, Add %d %v %s", tc, n, a.Members(), a.Encoding(), want, b.Members(), b.Encoding())
		}
	}
}
