package node

import (
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
}

// parseScanCursor parses a cursor as Redis does: an unsigned decimal.
func parseScanCursor(b []byte) (uint64, bool) {
	if len(b) == 0 || b[0] < '0' || b[0] > '9' {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b), 10, 64)
	return v, err == nil
}

// parseScan parses "cursor [MATCH pattern] [COUNT n] [TYPE t]" starting at
// argument i (TYPE only when allowTyp), replying on errors.
func parseScan(c *Ctx, i int, allowTyp bool) (scanArgs, bool) {
	a := scanArgs{count: 10}
	cur, ok := parseScanCursor(c.Args[i])
	if !ok {
		c.Error("ERR invalid cursor")
		return a, false
	}
	a.cursor = cur
	for j := i + 1; j < len(c.Args); j += 2 {
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

// matches applies the MATCH filter.
func (a *scanArgs) matches(s []byte) bool {
	return a.pattern == nil || glob.Match(a.pattern, s, false)
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
	cursor := a.cursor
	maxIter := a.count * 10
	// As in Redis, COUNT bounds the keys visited, not the keys returned
	// after filtering.
	visited := 0
	for {
		cursor = c.DB.Scan(cursor, func(key string, v *keyspace.Value) {
			visited++
			if a.typ != "" && v.Type().String() != a.typ {
				return
			}
			if !a.matches([]byte(key)) {
				return
			}
			keys = append(keys, []byte(key))
		})
		maxIter--
		if cursor == 0 || maxIter <= 0 || visited >= a.count {
			break
		}
	}
	writeScanReply(c, cursor, keys)
}
