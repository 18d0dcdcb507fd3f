package types

import (
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func hashContents(h *Hash) map[string]string {
	m := map[string]string{}
	h.ForEach(func(f, v []byte) bool { m[string(f)] = string(v); return true })
	return m
}

func TestHashConversion(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fields  int
		valLen  int
		wantEnc string
	}{
		{"small", 128, 64, "listpack"},
		{"too many fields", 129, 1, "hashtable"},
		{"value too long", 1, 65, "hashtable"},
	} {
		h := NewHash()
		for i := 0; i < tc.fields; i++ {
			h.SetString("f"+strconv.Itoa(i), strings.Repeat("v", tc.valLen), 128, 64)
		}
		if h.Encoding() != tc.wantEnc || h.Len() != tc.fields {
			t.Errorf("%s: %s with %d fields", tc.name, h.Encoding(), h.Len())
		}
	}
	// A long field converts too, and conversion never goes back.
	h := NewHash()
	h.SetString(strings.Repeat("f", 65), "v", 128, 64)
	h.Delete([]byte(strings.Repeat("f", 65)))
	h.SetString("a", "1", 128, 64)
	if h.Encoding() != "hashtable" {
		t.Fatal("converted back")
	}
	// PrepareSet converts before a multi-field write.
	h = NewHash()
	h.PrepareSet(64, []byte("a"), []byte(strings.Repeat("x", 100)))
	if h.Encoding() != "hashtable" {
		t.Fatal("PrepareSet did not convert")
	}
}

func TestHashFromListpack(t *testing.T) {
	lp := NewListpack()
	for _, s := range []string{"a", "1", "b", "x"} {
		lp.AppendString(s)
	}
	h, err := HashFromListpack(lp)
	if err != nil || h.Len() != 2 {
		t.Fatalf("%v %d", err, h.Len())
	}
	if v, _ := h.GetString("a"); v != "1" {
		t.Fatalf("a = %q", v)
	}
	lp.AppendString("a")
	if _, err := HashFromListpack(lp); err == nil {
		t.Fatal("odd entry count accepted")
	}
	lp.AppendString("2")
	if _, err := HashFromListpack(lp); err == nil {
		t.Fatal("duplicate field accepted")
	}
}

// TestHashModel checks both encodings against a map through random
// operations, with thresholds small enough to convert mid-run.
func TestHashModel(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for round := 0; round < 60; round++ {
		maxEntries, maxValue := 1+r.IntN(40), 1+r.IntN(30)
		h := NewHash()
		model := map[string]string{}
		gen := func() string {
			if r.IntN(3) == 0 {
				return strconv.Itoa(r.IntN(50) - 10)
			}
			return strings.Repeat(string(rune('a'+r.IntN(4))), 1+r.IntN(maxValue+2))
		}
		for op := 0; op < 300; op++ {
			f := "f" + strconv.Itoa(r.IntN(60))
			if r.IntN(5) == 0 {
				f = strconv.Itoa(r.IntN(60))
			}
			switch r.IntN(4) {
			case 0, 1:
				v := gen()
				_, existed := model[f]
				if isNew := h.SetString(f, v, maxEntries, maxValue); isNew == existed {
					t.Fatalf("Set(%q) new=%v", f, isNew)
				}
				model[f] = v
			case 2:
				_, existed := model[f]
				if h.Delete([]byte(f)) != existed {
					t.Fatalf("Delete(%q)", f)
				}
				delete(model, f)
			case 3:
				v, ok := h.GetString(f)
				if mv, mok := model[f]; ok != mok || v != mv || h.Exists([]byte(f)) != mok || h.StrLen([]byte(f)) != len(mv) {
					t.Fatalf("Get(%q) = %q %v, want %q %v", f, v, ok, mv, mok)
				}
			}
			if h.Len() != len(model) {
				t.Fatalf("Len %d, model %d", h.Len(), len(model))
			}
			if h.isListpack() && h.Len() > maxEntries {
				t.Fatalf("listpack with %d > %d fields", h.Len(), maxEntries)
			}
		}
		if got := hashContents(h); !maps.Equal(got, model) {
			t.Fatalf("contents differ")
		}
		if got := hashContents(h.Clone()); !maps.Equal(got, model) {
			t.Fatalf("clone differs")
		}
		if h.d != nil {
			want := 0
			for f, v := range model {
				want += hashEntryCost(f, v)
			}
			if want != h.mem {
				t.Fatalf("memory estimate %d, want %d", h.mem, want)
			}
		}
		// A full scan sees every field.
		seen := map[string]string{}
		for c := h.Scan(0, func(f, v []byte) { seen[string(f)] = string(v) }); c != 0; {
			c = h.Scan(c, func(f, v []byte) { seen[string(f)] = string(v) })
		}
		if !maps.Equal(seen, model) {
			t.Fatalf("scan missed fields")
		}
		if n := len(model); n > 0 {
			for _, count := range []int{1, n / 2, n - 1, n, n + 3} {
				var got []string
				h.RandomDistinct(r, count, func(f, v []byte) {
					if model[string(f)] != string(v) {
						t.Fatalf("random pair %q=%q", f, v)
					}
					got = append(got, string(f))
				})
				slices.Sort(got)
				if len(got) != min(count, n) || len(slices.Compact(got)) != len(got) {
					t.Fatalf("RandomDistinct(%d) of %d: %d picks", count, n, len(got))
				}
			}
			picks := 0
			h.RandomPairs(r, 7, func(f, v []byte) {
				if model[string(f)] != string(v) {
					t.Fatalf("random pair %q=%q", f, v)
				}
				picks++
			})
			if picks != 7 {
				t.Fatal("RandomPairs count")
			}
		}
	}
}

func BenchmarkHashSetSmall(b *testing.B) {
	fields := make([][]byte, 10)
	for i := range fields {
		fields[i] = []byte("field" + strconv.Itoa(i))
	}
	v := []byte("value")
	b.ReportAllocs()
	for b.Loop() {
		h := NewHash()
		for _, f := range fields {
			h.Set(f, v, 128, 64)
		}
	}
}
