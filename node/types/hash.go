package types

import (
	"errors"
	"math/rand/v2"
	"slices"
	"unsafe"

	"github.com/vigilkv/vigil/node/dict"
)

// Hash is a Redis hash. Small hashes are a listpack of field, value,
// field, value... entries (OBJECT ENCODING "listpack"); once a hash has
// more than hash-max-listpack-entries fields or is given a field or value
// longer than hash-max-listpack-value bytes it converts, for good, to a
// dict ("hashtable"). The thresholds are parameters so the caller passes
// the configuration in force.
//
// Fields and values passed in are copied. []byte results alias the hash
// (or the caller's buffer for integers stored in a listpack) and are valid
// until the next modification.
type Hash struct {
	lp  Listpack           // listpack encoding, while d is nil
	d   *dict.Dict[string] // hashtable encoding, or nil
	mem int                // hashtable: estimated bytes held by entries
}

const (
	// hashStructSize is the Hash itself (the listpack header included).
	hashStructSize = 48
	// hashEntryOverhead is a dict entry (key and value string headers and
	// the chain link, rounded to its size class) plus its bucket slot.
	hashEntryOverhead = 48 + 8
	// listpackSafetySize is Redis's LISTPACK_MAX_SAFETY_SIZE: a hash whose
	// listpack would grow past it converts to a hashtable.
	listpackSafetySize = 1 << 30
)

// NewHash returns an empty listpack-encoded hash.
func NewHash() *Hash { return &Hash{lp: *NewListpack()} }

// ErrBadHashListpack reports a listpack that is not a valid hash image.
var ErrBadHashListpack = errors.New("invalid hash listpack")

// HashFromListpack adopts a validated listpack of field/value pairs (RDB
// loading). Like Redis's deep check, it refuses an odd number of entries
// and duplicate fields.
func HashFromListpack(lp *Listpack) (*Hash, error) {
	if lp.Len()%2 != 0 {
		return nil, ErrBadHashListpack
	}
	seen := make(map[string]struct{}, lp.Len()/2)
	var buf [ListpackMaxIntLen]byte
	for p := lp.First(); p >= 0; p = lp.Next(lp.Next(p)) {
		f := string(lp.GetBytes(p, buf[:0]))
		if _, dup := seen[f]; dup {
			return nil, ErrBadHashListpack
		}
		seen[f] = struct{}{}
	}
	return &Hash{lp: *lp}, nil
}

// isListpack reports whether the hash is listpack-encoded.
func (h *Hash) isListpack() bool { return h.d == nil }

// Encoding is what OBJECT ENCODING reports.
func (h *Hash) Encoding() string {
	if h.isListpack() {
		return "listpack"
	}
	return "hashtable"
}

// Len is the number of fields.
func (h *Hash) Len() int {
	if h.isListpack() {
		return h.lp.Len() / 2
	}
	return h.d.Len()
}

// MemoryUsage estimates the bytes held.
func (h *Hash) MemoryUsage() int {
	if h.isListpack() {
		return hashStructSize + allocClass(cap(h.lp.b))
	}
	return hashStructSize + 64 + h.mem
}

// Listpack returns the listpack of a listpack-encoded hash (for RDB and
// DUMP, which write it as it is), or nil.
func (h *Hash) Listpack() *Listpack {
	if !h.isListpack() {
		return nil
	}
	return &h.lp
}

func hashEntryCost(field, value string) int {
	return hashEntryOverhead + allocClass(len(field)) + allocClass(len(value))
}

// Prefetch reads ahead what looking these fields up will read (see
// dict.PrefetchKeys); a listpack is one block and needs none.
func (h *Hash) Prefetch(fields [][]byte) uintptr {
	if h.d == nil {
		return 0
	}
	return h.d.PrefetchKeys(fields, nil)
}

func bytesStr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// convert moves a listpack-encoded hash to a hashtable.
func (h *Hash) convert() {
	if !h.isListpack() {
		return
	}
	d := dict.New[string]()
	var buf [ListpackMaxIntLen]byte
	for p := h.lp.First(); p >= 0; {
		f := h.lp.GetString(p)
		p = h.lp.Next(p)
		v := string(h.lp.GetBytes(p, buf[:0]))
		p = h.lp.Next(p)
		d.Insert(f, v)
		h.mem += hashEntryCost(f, v)
	}
	h.d = d
	h.lp = Listpack{}
}

// ConvertIfNeeded converts a listpack-encoded hash that exceeds the
// thresholds (RDB loading with smaller limits than the writer had).
func (h *Hash) ConvertIfNeeded(maxEntries, maxValue int) {
	if !h.isListpack() {
		return
	}
	if h.Len() > maxEntries {
		h.convert()
		return
	}
	for p := h.lp.First(); p >= 0; p = h.lp.Next(p) {
		if s, _, isInt := h.lp.Get(p); !isInt && len(s) > maxValue {
			h.convert()
			return
		}
	}
}

// PrepareSet converts a listpack-encoded hash if any of the given fields
// or values is longer than maxValue, or if they could push the listpack
// past its safety size. Commands setting several fields call it once
// with all of them first, as Redis's hashTypeTryConversion does.
func (h *Hash) PrepareSet(maxValue int, args ...[]byte) {
	if !h.isListpack() {
		return
	}
	sum := 0
	for _, a := range args {
		if len(a) > maxValue {
			h.convert()
			return
		}
		sum += len(a)
	}
	if h.lp.Size()+sum > listpackSafetySize {
		h.convert()
		return
	}
	if h.lp.Len() == 0 && sum < 1<<16 {
		// A new hash: size it for all the pairs at once.
		need := 0
		for _, a := range args {
			need += ListpackEntrySize(a)
		}
		h.lp.Reserve(need)
	}
}

// lpFindField returns the position of field's entry in the listpack, or -1.
func (h *Hash) lpFindField(field []byte) int {
	if h.lp.Len() == 0 {
		return -1
	}
	return h.lp.Find(h.lp.First(), field, 1)
}

// Set stores field = value and reports whether the field is new. It
// converts the hash as the thresholds require (maxEntries fields,
// maxValue bytes per field or value).
func (h *Hash) Set(field, value []byte, maxEntries, maxValue int) bool {
	h.PrepareSet(maxValue, field, value)
	if h.isListpack() {
		if p := h.lpFindField(field); p >= 0 {
			h.lp.Replace(h.lp.Next(p), value)
			return false
		}
		h.lp.Append(field)
		h.lp.Append(value)
		if h.Len() > maxEntries {
			h.convert()
		}
		return true
	}
	if old := h.d.Ref(bytesStr(field)); old != nil {
		h.mem += allocClass(len(value)) - allocClass(len(*old))
		*old = string(value)
		return false
	}
	f, v := string(field), string(value)
	h.d.Insert(f, v)
	h.mem += hashEntryCost(f, v)
	return true
}

// SetString is Set for string arguments.
func (h *Hash) SetString(field, value string, maxEntries, maxValue int) bool {
	return h.Set(strBytes(field), strBytes(value), maxEntries, maxValue)
}

// Get returns field's value: aliasing the hash, or formatted into buf for
// integers stored in a listpack.
func (h *Hash) Get(field []byte, buf []byte) ([]byte, bool) {
	if h.isListpack() {
		p := h.lpFindField(field)
		if p < 0 {
			return nil, false
		}
		return h.lp.GetBytes(h.lp.Next(p), buf), true
	}
	v, ok := h.d.Get(bytesStr(field))
	if !ok {
		return nil, false
	}
	return strBytes(v), true
}

// GetString returns a copy of field's value.
func (h *Hash) GetString(field string) (string, bool) {
	var buf [ListpackMaxIntLen]byte
	v, ok := h.Get(strBytes(field), buf[:0])
	if !ok {
		return "", false
	}
	return string(v), true
}

// Exists reports whether field is present.
func (h *Hash) Exists(field []byte) bool {
	if h.isListpack() {
		return h.lpFindField(field) >= 0
	}
	return h.d.Ref(bytesStr(field)) != nil
}

// StrLen is the length of field's value (0 if absent).
func (h *Hash) StrLen(field []byte) int {
	var buf [ListpackMaxIntLen]byte
	v, _ := h.Get(field, buf[:0])
	return len(v)
}

// Delete removes field and reports whether it was present.
func (h *Hash) Delete(field []byte) bool {
	if h.isListpack() {
		p := h.lpFindField(field)
		if p < 0 {
			return false
		}
		h.lp.DeleteRange(p, 2)
		return true
	}
	v, ok := h.d.Delete(bytesStr(field))
	if ok {
		h.mem -= hashEntryCost(bytesStr(field), v)
	}
	return ok
}

// ForEach calls fn with every field and value until it returns false. The
// hash must not be modified meanwhile.
func (h *Hash) ForEach(fn func(field, value []byte) bool) {
	if h.isListpack() {
		var fb, vb [ListpackMaxIntLen]byte
		for p := h.lp.First(); p >= 0; {
			f := h.lp.GetBytes(p, fb[:0])
			p = h.lp.Next(p)
			v := h.lp.GetBytes(p, vb[:0])
			p = h.lp.Next(p)
			if !fn(f, v) {
				return
			}
		}
		return
	}
	h.d.ForEach(func(k string, v *string) bool { return fn(strBytes(k), strBytes(*v)) })
}

// Scan advances an HSCAN cursor, calling fn for each field visited, and
// returns the next cursor. A listpack-encoded hash is returned whole with
// cursor 0, as Redis does.
func (h *Hash) Scan(cursor uint64, fn func(field, value []byte)) uint64 {
	if h.isListpack() {
		h.ForEach(func(f, v []byte) bool { fn(f, v); return true })
		return 0
	}
	return h.d.Scan(cursor, func(k string, v *string) { fn(strBytes(k), strBytes(*v)) })
}

// Random returns a random field and its value (HRANDFIELD without count).
// The hash must not be empty.
func (h *Hash) Random(r *rand.Rand, fb, vb []byte) (field, value []byte) {
	if h.isListpack() {
		p := h.lp.Seek(2 * r.IntN(h.Len()))
		return h.lp.GetBytes(p, fb), h.lp.GetBytes(h.lp.Next(p), vb)
	}
	k, v, _ := h.d.RandomKey(r)
	return strBytes(k), strBytes(*v)
}

// RandomPairs calls fn count times with random fields (and values),
// possibly repeating (HRANDFIELD with a negative count).
func (h *Hash) RandomPairs(r *rand.Rand, count int, fn func(field, value []byte)) {
	var fb, vb [ListpackMaxIntLen]byte
	if h.isListpack() {
		// Index the pairs once instead of seeking for every pick.
		pos := make([]int32, 0, h.Len())
		for p := h.lp.First(); p >= 0; p = h.lp.Next(h.lp.Next(p)) {
			pos = append(pos, int32(p))
		}
		for ; count > 0; count-- {
			p := int(pos[r.IntN(len(pos))])
			fn(h.lp.GetBytes(p, fb[:0]), h.lp.GetBytes(h.lp.Next(p), vb[:0]))
		}
		return
	}
	for ; count > 0; count-- {
		f, v := h.Random(r, fb[:0], vb[:0])
		fn(f, v)
	}
}

// RandomDistinct calls fn for count distinct random fields (count must
// be less than Len; HRANDFIELD with a positive count). The picks come in
// random order.
func (h *Hash) RandomDistinct(r *rand.Rand, count int, fn func(field, value []byte)) {
	n := h.Len()
	if count >= n {
		h.ForEach(func(f, v []byte) bool { fn(f, v); return true })
		return
	}
	if h.isListpack() {
		// Choose count of the n pair indexes (a partial Fisher-Yates) and
		// emit them in listpack order, as Redis's lpRandomPairsUnique does.
		idx := make([]int32, n)
		for i := range idx {
			idx[i] = int32(i)
		}
		for i := 0; i < count; i++ {
			j := i + r.IntN(n-i)
			idx[i], idx[j] = idx[j], idx[i]
		}
		slices.Sort(idx[:count])
		pos := make([]int32, 0, n)
		for p := h.lp.First(); p >= 0; p = h.lp.Next(h.lp.Next(p)) {
			pos = append(pos, int32(p))
		}
		var fb, vb [ListpackMaxIntLen]byte
		for _, i := range idx[:count] {
			p := int(pos[i])
			fn(h.lp.GetBytes(p, fb[:0]), h.lp.GetBytes(h.lp.Next(p), vb[:0]))
		}
		return
	}
	if count*3 > n {
		// Many of the fields: pick which to drop instead (Redis's case 3).
		keys := make([]string, 0, n)
		h.d.ForEach(func(k string, _ *string) bool { keys = append(keys, k); return true })
		for len(keys) > count {
			i := r.IntN(len(keys))
			keys[i] = keys[len(keys)-1]
			keys = keys[:len(keys)-1]
		}
		for _, k := range keys {
			v, _ := h.d.Get(k)
			fn(strBytes(k), strBytes(v))
		}
		return
	}
	seen := make(map[string]struct{}, count)
	for len(seen) < count {
		k, v, _ := h.d.RandomKey(r)
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		fn(strBytes(k), strBytes(*v))
	}
}

// Clone returns an independent copy.
func (h *Hash) Clone() *Hash {
	if h.isListpack() {
		return &Hash{lp: *h.lp.Clone()}
	}
	c := &Hash{d: dict.New[string](), mem: h.mem}
	h.d.ForEach(func(k string, v *string) bool { c.d.Insert(k, *v); return true })
	return c
}

// RehashSome lets the server's cron advance a hashtable-encoded hash's
// incremental rehash (a no-op for listpacks).
func (h *Hash) RehashSome(n int) bool {
	if h.d == nil {
		return false
	}
	return h.d.RehashSome(n)
}
