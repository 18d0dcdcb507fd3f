package node

import (
	"math"
	"strconv"

	"github.com/vigilkv/vigil/internal/glob"
	"github.com/vigilkv/vigil/node/keyspace"
)

// scanArgs are the parsed arguments shared by SCAN, HSCAN, SSCAN and
// ZSCAN.
type scanArgs struct {
	cursor  uint64
	count   int
	pattern []byte // nil matches everything
	typ     string // SCAN's TYPE filter, "" for none
	// visited counts the elements the call has looked at (keep): as in
	// Redis, COUNT bounds those, not the ones returned after filtering.
	visited int
}

// parseScanCursor parses a cursor as Redis does, with C's strtoul: an
// optional sign and decimal digits, nothing before or after them, no
// overflow; a negative cursor wraps around and "" is 0.
func parseScanCursor(b []byte) (uint64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		if b = b[1:]; len(b) == 0 {
			return 0, false
		}
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	if neg {
		v = -v
	}
	return v, true
}

// parseScan parses "cursor [MATCH pattern] [COUNT n] [TYPE t]" starting at
// argument i (TYPE only when allowTyp), replying on errors.
func parseScan(c *Ctx, i int, allowTyp bool) (scanArgs, bool) {
	cursor, ok := scanCursor(c, i)
	if !ok {
		return scanArgs{}, false
	}
	return parseScanOptions(c, cursor, i+1, allowTyp)
}

// scanCursor parses the cursor at argument i, replying if it is not one.
func scanCursor(c *Ctx, i int) (uint64, bool) {
	cursor, ok := parseScanCursor(c.Args[i])
	if !ok {
		c.Error("ERR invalid cursor")
	}
	return cursor, ok
}

// parseScanOptions parses the options from argument i on, replying on
// errors.
func parseScanOptions(c *Ctx, cursor uint64, i int, allowTyp bool) (scanArgs, bool) {
	a := scanArgs{cursor: cursor, count: 10}
	for j := i; j < len(c.Args); j += 2 {
		if j+1 >= len(c.Args) {
			c.SyntaxError()
			return a, false
		}
		switch {
		case c.ArgIs(j, "count"):
			n, ok := c.Int(j + 1)
			if !ok {
				return a, false
			}
			if n < 1 {
				c.SyntaxError()
				return a, false
			}
			a.count = int(min(n, 1<<30))
		case c.ArgIs(j, "match"):
			p := c.Args[j+1]
			if len(p) == 1 && p[0] == '*' {
				a.pattern = nil // matches everything: skip the work
			} else {
				a.pattern = append([]byte(nil), p...)
			}
		case allowTyp && c.ArgIs(j, "type"):
			a.typ = lowerASCII(c.Str(j + 1))
		default:
			c.SyntaxError()
			return a, false
		}
	}
	return a, true
}

// scanCollection is HSCAN, SSCAN and ZSCAN of the value get finds at the
// key, checked in Redis's order: the cursor, then the key (a missing one
// is an empty scan whatever the options say), then the options. step
// scans v from a cursor, returning the next one; for each element it
// calls keep with what MATCH applies to and, if that says so, appends the
// element's reply entries to out.
func scanCollection[T any](c *Ctx, get func(*Ctx, string, bool) (*T, bool), step func(v *T, cursor uint64, keep func(m []byte) bool, out *[][]byte) uint64) {
	cursor, ok := scanCursor(c, 2)
	if !ok {
		return
	}
	v, ok := get(c, c.Key(1), false)
	if !ok || v == nil {
		if ok {
			writeScanReply(c, 0, nil)
		}
		return
	}
	a, ok := parseScanOptions(c, cursor, 3, false)
	if !ok {
		return
	}
	var out [][]byte
	cursor = a.iterate(func(cursor uint64) uint64 { return step(v, cursor, a.keep, &out) })
	writeScanReply(c, cursor, out)
}

// keep counts an element visited and reports whether MATCH lets it
// through.
func (a *scanArgs) keep(s []byte) bool {
	a.visited++
	return a.pattern == nil || glob.Match(a.pattern, s, false)
}

// iterate runs step (one SCAN call over a table: it passes what it
// visits to keep and returns the next cursor) from a's cursor until the
// scan ends, COUNT elements were visited or 10×COUNT steps were taken,
// Redis's bounds for one call, and returns the cursor to resume from.
func (a *scanArgs) iterate(step func(cursor uint64) uint64) uint64 {
	cursor := a.cursor
	for maxIter := a.count * 10; ; {
		cursor = step(cursor)
		maxIter--
		if cursor == 0 || maxIter <= 0 || a.visited >= a.count {
			return cursor
		}
	}
}

// writeScanReply writes [cursor, [elements...]].
func writeScanReply(c *Ctx, cursor uint64, elems [][]byte) {
	c.W.Array(2)
	c.W.BulkString(strconv.FormatUint(cursor, 10))
	c.W.Array(len(elems))
	for _, e := range elems {
		c.W.Bulk(e)
	}
}

func cmdScan(c *Ctx) {
	a, ok := parseScan(c, 1, true)
	if !ok {
		return
	}
	var keys [][]byte
	cursor := a.iterate(func(cursor uint64) uint64 {
		return c.DB.Scan(cursor, func(key string, v *keyspace.Value) {
			if a.keep([]byte(key)) && (a.typ == "" || v.Type().String() == a.typ) {
				keys = append(keys, []byte(key))
			}
		})
	})
	writeScanReply(c, cursor, keys)
}
