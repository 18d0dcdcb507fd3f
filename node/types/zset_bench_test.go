package types

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkZSetUpdate is redis-benchmark's ZADD: random scores for random
// members of a 100,000-member set in its large encoding.
func BenchmarkZSetUpdate(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	z := NewZSetFor(1, 1, 0, 64)
	members := make([][]byte, 100000)
	for i := range members {
		members[i] = []byte(fmt.Sprint("element:", i))
		z.Set(members[i], float64(r.IntN(100000)), 128, 64)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		z.Set(members[r.IntN(len(members))], float64(r.IntN(100000)), 128, 64)
	}
}

// BenchmarkZSetCountWhile is the descent a ZCOUNT or ZRANGEBYSCORE
// bound takes in a 100,000-member set.
func BenchmarkZSetCountWhile(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	tr := newZbtree()
	for i := 0; i < 100000; i++ {
		tr.insert(float64(r.IntN(100000)), fmt.Sprint("element:", i))
	}
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		s := float64(r.IntN(100000))
		n += tr.countWhile(func(_ []byte, f float64) bool { return f < s })
	}
	_ = n
}
