package keyspace

import (
	"fmt"
	"runtime"
	"testing"
)

// TestMemoryPerKey keeps the per-key footprint of small strings honest:
// Redis 7 holds 1M keys of 16-byte values in about 105 bytes per key.
func TestMemoryPerKey(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a large dataset")
	}
	const n = 200000
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	ks := New(16, nil, nil)
	db := ks.DBs[0]
	for i := 0; i < n; i++ {
		db.Set(fmt.Sprintf("key:%012d", i), NewString(fmt.Sprintf("value:%010d", i)), false)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perKey := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("heap per key: %.1f bytes (estimate %.1f)", perKey, float64(db.Memory())/n)
	if perKey > 120 {
		t.Errorf("heap per key %.1f bytes, want <= 120", perKey)
	}
	runtime.KeepAlive(ks)
}
