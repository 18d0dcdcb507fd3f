package rdb

import (
	"errors"
	"math/bits"
)

// LZF is the compression Redis applies to long strings in RDB files
// (liblzf's format): a sequence of literal runs (a control byte 0-31
// followed by that many plus one bytes) and back references (the top three
// bits of the control byte hold the length minus 2, 7 meaning an extra
// length byte follows; the low five bits and the next byte hold the
// offset minus one).

// ErrLZFCorrupt reports compressed data that does not decode to the
// announced length.
var ErrLZFCorrupt = errors.New("corrupt LZF data")

const (
	lzfHashLog  = 14
	lzfMaxOff   = 1 << 13
	lzfMaxRef   = 7 + 255 + 2 // longest encodable match
	lzfMaxLit   = 1 << 5
	lzfHashSize = 1 << lzfHashLog
)

// lzfScratch is the memory lzfCompress reuses between calls: the match
// table, sized to the input (at most 2^14 entries, so compressing a short
// string does not clear 64 KB), and the output buffer.
type lzfScratch struct {
	table []int32
	out   []byte
}

// lzfCompress compresses in into at most maxOut bytes. It returns nil when
// the result would not fit, in which case the caller stores in plainly.
// The result aliases sc.out, valid until the next call with sc.
func lzfCompress(in []byte, maxOut int, sc *lzfScratch) []byte {
	if len(in) < 4 || maxOut <= 0 {
		return nil
	}
	hashLog := min(max(bits.Len(uint(len(in))), 6), lzfHashLog)
	if cap(sc.table) < 1<<hashLog {
		sc.table = make([]int32, lzfHashSize)
	}
	table := sc.table[:1<<hashLog]
	clear(table)
	if cap(sc.out) < maxOut {
		sc.out = make([]byte, 0, max(maxOut, 256))
	}
	out := sc.out[:0]
	lit := 0 // length of the literal run in progress
	out = append(out, 0)
	litPos := 0 // index of the run's control byte
	ip := 0
	hash := func(p int) uint32 {
		v := uint32(in[p])<<16 | uint32(in[p+1])<<8 | uint32(in[p+2])
		return (v * 2654435761) >> (32 - hashLog)
	}
	for ip+2 < len(in) {
		h := hash(ip)
		ref := int(table[h]) - 1
		table[h] = int32(ip + 1)
		off := ip - ref - 1
		if ref >= 0 && off < lzfMaxOff &&
			in[ref] == in[ip] && in[ref+1] == in[ip+1] && in[ref+2] == in[ip+2] {
			// A match of at least three bytes: extend it.
			l := 3
			for ip+l < len(in) && l < lzfMaxRef && in[ref+l] == in[ip+l] {
				l++
			}
			// l is now the match length; encode length-2.
			if lit == 0 {
				out = out[:len(out)-1] // drop the empty run's control byte
			} else {
				out[litPos] = byte(lit - 1)
			}
			enc := l - 2
			need := 3
			if enc >= 7 {
				need = 4
			}
			if len(out)+need+1 > maxOut {
				return nil
			}
			if enc < 7 {
				out = append(out, byte(enc<<5|off>>8))
			} else {
				out = append(out, byte(7<<5|off>>8), byte(enc-7))
			}
			out = append(out, byte(off))
			ip += l
			for p := ip - l + 1; p < ip && p+2 < len(in); p++ {
				table[hash(p)] = int32(p + 1)
			}
			litPos = len(out)
			out = append(out, 0)
			lit = 0
			continue
		}
		if len(out)+1 > maxOut {
			return nil
		}
		out = append(out, in[ip])
		lit++
		ip++
		if lit == lzfMaxLit {
			out[litPos] = byte(lit - 1)
			litPos = len(out)
			out = append(out, 0)
			lit = 0
		}
	}
	for ip < len(in) {
		if len(out)+1 > maxOut {
			return nil
		}
		out = append(out, in[ip])
		lit++
		ip++
		if lit == lzfMaxLit {
			out[litPos] = byte(lit - 1)
			litPos = len(out)
			out = append(out, 0)
			lit = 0
		}
	}
	if lit == 0 {
		out = out[:len(out)-1]
	} else {
		out[litPos] = byte(lit - 1)
	}
	if len(out) > maxOut {
		return nil
	}
	return out
}

// lzfDecompress expands in, which must decode to exactly n bytes.
func lzfDecompress(in []byte, n int) ([]byte, error) {
	out := make([]byte, n)
	op := 0
	for ip := 0; ip < len(in); {
		ctrl := int(in[ip])
		ip++
		if ctrl < 1<<5 {
			l := ctrl + 1
			if ip+l > len(in) || op+l > n {
				return nil, ErrLZFCorrupt
			}
			op += copy(out[op:], in[ip:ip+l])
			ip += l
			continue
		}
		l := ctrl >> 5
		if l == 7 {
			if ip >= len(in) {
				return nil, ErrLZFCorrupt
			}
			l += int(in[ip])
			ip++
		}
		if ip >= len(in) {
			return nil, ErrLZFCorrupt
		}
		ref := op - (ctrl&0x1f)<<8 - int(in[ip]) - 1
		ip++
		l += 2
		if ref < 0 || op+l > n {
			return nil, ErrLZFCorrupt
		}
		// The reference may overlap the bytes being written (a run):
		// copy what is there, which doubles what the next copy can take.
		for end := op + l; op < end; {
			op += copy(out[op:end], out[ref:op])
		}
	}
	if op != n {
		return nil, ErrLZFCorrupt
	}
	return out, nil
}
