package types

// Set is a Redis set value. (Placeholder until the collections land.)
type Set struct{ n int }

// Encoding is what OBJECT ENCODING reports.
func (x *Set) Encoding() string { return "listpack" }

// Len is the number of elements.
func (x *Set) Len() int { return x.n }

// MemoryUsage estimates the bytes held.
func (x *Set) MemoryUsage() int { return 64 }
