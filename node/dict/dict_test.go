package dict

import (
	"strconv"
	"testing"
)

func TestPrefetchReadsWithoutChanging(t *testing.T) {
	d := New[int]()
	if d.Prefetch([]uint64{1, 2}, nil) != 0 {
		t.Fatal("an empty dict read something")
	}
	for i := 0; i < 1000; i++ {
		d.Set(strconv.Itoa(i), i)
	}
	hashes := make([]uint64, 0, PrefetchMax+8)
	for i := 0; i < PrefetchMax+8; i++ {
		hashes = append(hashes, d.hash(strconv.Itoa(i)))
	}
	calls := 0
	d.Prefetch(hashes, func(v *int) uintptr { calls++; return uintptr(*v) })
	if calls == 0 || calls > PrefetchMax {
		t.Fatalf("value callback ran %d times for %d hashes, want 1..%d", calls, len(hashes), PrefetchMax)
	}
	if d.Len() != 1000 {
		t.Fatalf("Len = %d after Prefetch", d.Len())
	}
	for i := 0; i < 1000; i++ {
		if v, ok := d.Get(strconv.Itoa(i)); !ok || v != i {
			t.Fatalf("Get(%d) = %d, %v after Prefetch", i, v, ok)
		}
	}
}
