package dict

import (
	"strconv"
	"testing"
)

func TestPrefetchReadsWithoutChanging(t *testing.T) {
	d := New[int]()
	if d.PrefetchKeys([][]byte{[]byte("1"), []byte("2")}, nil) != 0 {
		t.Fatal("an empty dict read something")
	}
	for i := 0; i < 1000; i++ {
		d.Set(strconv.Itoa(i), i)
	}
	keys := make([][]byte, 0, PrefetchMax+8)
	for i := 0; i < PrefetchMax+8; i++ {
		keys = append(keys, []byte(strconv.Itoa(i)))
	}
	calls := 0
	d.PrefetchKeys(keys, func(v *int) uintptr { calls++; return uintptr(*v) })
	if calls == 0 || calls > PrefetchMax {
		t.Fatalf("value callback ran %d times for %d keys, want 1..%d", calls, len(keys), PrefetchMax)
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
