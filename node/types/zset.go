package types

// ZSet is a Redis zset value. (Placeholder until the collections land.)
type ZSet struct{ n int }

// Encoding is what OBJECT ENCODING reports.
func (x *ZSet) Encoding() string { return "listpack" }

// Len is the number of elements.
func (x *ZSet) Len() int { return x.n }

// MemoryUsage estimates the bytes held.
func (x *ZSet) MemoryUsage() int { return 64 }
