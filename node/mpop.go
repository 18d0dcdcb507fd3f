package node

// Argument parsing shared by LMPOP, BLMPOP, ZMPOP and BZMPOP:
// numkeys key [key ...] <where> [COUNT count].

// mpopKeys reads numkeys at numIdx and returns the index of the word
// after the keys (LEFT/RIGHT, MIN/MAX). numkeys is checked against the
// arguments there are before any index is computed from it: a huge one
// once overflowed the index and crashed the command.
func mpopKeys(c *Ctx, numIdx int) (whereIdx int, ok bool) {
	numkeys, ok := ParseInt(c.Args[numIdx])
	if !ok || numkeys <= 0 {
		c.Error("ERR numkeys should be greater than 0")
		return 0, false
	}
	if numkeys > int64(len(c.Args)-numIdx-2) {
		c.SyntaxError()
		return 0, false
	}
	return numIdx + int(numkeys) + 1, true
}

// mpopCount reads the optional COUNT after the where word (1 without).
func mpopCount(c *Ctx, whereIdx int) (count int64, ok bool) {
	count = -1
	for j := whereIdx + 1; j < len(c.Args); j++ {
		if count == -1 && c.ArgIs(j, "count") && j < len(c.Args)-1 {
			j++
			v, ok := ParseInt(c.Args[j])
			if !ok || v <= 0 {
				c.Error("ERR count should be greater than 0")
				return 0, false
			}
			count = v
			continue
		}
		c.SyntaxError()
		return 0, false
	}
	if count == -1 {
		count = 1
	}
	return count, true
}
