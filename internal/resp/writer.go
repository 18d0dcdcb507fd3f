package resp

import (
	"math"
	"strconv"
)

// Writer appends RESP replies to a buffer. Proto selects how RESP3-only
// types (maps, sets, nulls, doubles, booleans, pushes) are rendered: as
// themselves for 3, as their RESP2 fallbacks for 2.
type Writer struct {
	Buf   []byte
	Proto int
}

// NewWriter returns a RESP2 writer.
func NewWriter() *Writer { return &Writer{Proto: 2, Buf: make([]byte, 0, 1024)} }

// Reset empties the buffer, keeping its storage unless it grew large.
func (w *Writer) Reset() {
	if cap(w.Buf) > 1<<20 {
		w.Buf = make([]byte, 0, 1024)
		return
	}
	w.Buf = w.Buf[:0]
}

// Len is the number of buffered bytes.
func (w *Writer) Len() int { return len(w.Buf) }

// header writes a length line. Most lengths in replies (array sizes,
// the lengths of list elements, fields and members) are below 100, and
// writing their digits directly keeps a 100-element LRANGE reply from
// spending an eighth of its time in strconv.
func (w *Writer) header(prefix byte, n int64) {
	switch {
	case n >= 0 && n < 10:
		w.Buf = append(w.Buf, prefix, byte('0'+n), '\r', '\n')
		return
	case n >= 10 && n < 100:
		w.Buf = append(w.Buf, prefix, byte('0'+n/10), byte('0'+n%10), '\r', '\n')
		return
	}
	w.Buf = append(w.Buf, prefix)
	w.Buf = strconv.AppendInt(w.Buf, n, 10)
	w.Buf = append(w.Buf, '\r', '\n')
}

// Simple writes a status reply: +OK.
func (w *Writer) Simple(s string) {
	w.Buf = append(w.Buf, '+')
	w.Buf = append(w.Buf, s...)
	w.Buf = append(w.Buf, '\r', '\n')
}

// OK writes +OK.
func (w *Writer) OK() { w.Buf = append(w.Buf, "+OK\r\n"...) }

// Error writes an error reply. msg must carry its code ("ERR ...",
// "WRONGTYPE ..."); a message without one gets "ERR " prepended, as Redis
// does. Newlines are replaced so the reply stays one line.
func (w *Writer) Error(msg string) {
	w.Buf = append(w.Buf, '-')
	if len(msg) == 0 || !hasErrorCode(msg) {
		w.Buf = append(w.Buf, "ERR "...)
	}
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		w.Buf = append(w.Buf, c)
	}
	w.Buf = append(w.Buf, '\r', '\n')
}

// hasErrorCode reports whether msg starts with an upper-case code word.
func hasErrorCode(msg string) bool {
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c == ' ' {
			return i > 0
		}
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// Int writes an integer reply.
func (w *Writer) Int(n int64) { w.header(':', n) }

// Bulk writes a bulk string.
func (w *Writer) Bulk(b []byte) {
	w.header('$', int64(len(b)))
	w.Buf = append(w.Buf, b...)
	w.Buf = append(w.Buf, '\r', '\n')
}

// BulkString writes a bulk string.
func (w *Writer) BulkString(s string) {
	w.header('$', int64(len(s)))
	w.Buf = append(w.Buf, s...)
	w.Buf = append(w.Buf, '\r', '\n')
}

// BulkInt writes an integer as a bulk string.
func (w *Writer) BulkInt(n int64) {
	var tmp [24]byte
	w.Bulk(strconv.AppendInt(tmp[:0], n, 10))
}

// Verbatim writes a verbatim string (RESP3 '=' with a 3-letter format),
// a bulk string in RESP2.
func (w *Writer) Verbatim(format, s string) {
	if w.Proto < 3 {
		w.BulkString(s)
		return
	}
	w.header('=', int64(len(s)+4))
	w.Buf = append(w.Buf, format...)
	w.Buf = append(w.Buf, ':')
	w.Buf = append(w.Buf, s...)
	w.Buf = append(w.Buf, '\r', '\n')
}

// Null writes the null reply: _ in RESP3, $-1 in RESP2.
func (w *Writer) Null() {
	if w.Proto >= 3 {
		w.Buf = append(w.Buf, "_\r\n"...)
		return
	}
	w.Buf = append(w.Buf, "$-1\r\n"...)
}

// NullArray writes a null array: _ in RESP3, *-1 in RESP2.
func (w *Writer) NullArray() {
	if w.Proto >= 3 {
		w.Buf = append(w.Buf, "_\r\n"...)
		return
	}
	w.Buf = append(w.Buf, "*-1\r\n"...)
}

// Array writes an array header of n elements.
func (w *Writer) Array(n int) { w.header('*', int64(n)) }

// Map writes a map header of n key/value pairs (an array of 2n in RESP2).
func (w *Writer) Map(n int) {
	if w.Proto >= 3 {
		w.header('%', int64(n))
		return
	}
	w.header('*', int64(2*n))
}

// Set writes a set header (an array in RESP2).
func (w *Writer) Set(n int) {
	if w.Proto >= 3 {
		w.header('~', int64(n))
		return
	}
	w.header('*', int64(n))
}

// Push writes an out-of-band push header (an array in RESP2).
func (w *Writer) Push(n int) {
	if w.Proto >= 3 {
		w.header('>', int64(n))
		return
	}
	w.header('*', int64(n))
}

// Attribute writes an attribute header; RESP2 has none, so callers must
// skip the attribute's contents there.
func (w *Writer) Attribute(n int) { w.header('|', int64(n)) }

// Bool writes a boolean (#t/#f in RESP3, :1/:0 in RESP2).
func (w *Writer) Bool(b bool) {
	switch {
	case w.Proto >= 3 && b:
		w.Buf = append(w.Buf, "#t\r\n"...)
	case w.Proto >= 3:
		w.Buf = append(w.Buf, "#f\r\n"...)
	case b:
		w.Buf = append(w.Buf, ":1\r\n"...)
	default:
		w.Buf = append(w.Buf, ":0\r\n"...)
	}
}

// Double writes a double: ',' in RESP3, a bulk string in RESP2, formatted
// the way Redis formats doubles in replies.
func (w *Writer) Double(f float64) {
	if w.Proto >= 3 {
		w.Buf = append(w.Buf, ',')
		w.Buf = AppendDouble(w.Buf, f)
		w.Buf = append(w.Buf, '\r', '\n')
		return
	}
	var tmp [32]byte
	w.Bulk(AppendDouble(tmp[:0], f))
}

// BigNumber writes a big number ('(' in RESP3, a bulk string in RESP2).
func (w *Writer) BigNumber(s string) {
	if w.Proto >= 3 {
		w.Buf = append(w.Buf, '(')
		w.Buf = append(w.Buf, s...)
		w.Buf = append(w.Buf, '\r', '\n')
		return
	}
	w.BulkString(s)
}

// Raw appends pre-encoded protocol bytes.
func (w *Writer) Raw(b []byte) { w.Buf = append(w.Buf, b...) }

// BulkStrings writes an array of bulk strings.
func (w *Writer) BulkStrings(ss []string) {
	w.Array(len(ss))
	for _, s := range ss {
		w.BulkString(s)
	}
}

// AppendDouble formats f as Redis 7.0 does in replies (%.17g; "inf",
// "-inf", "nan").
func AppendDouble(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case math.IsNaN(f):
		return append(dst, "nan"...)
	}
	// Redis 7.0 formats reply doubles with printf's %.17g.
	return strconv.AppendFloat(dst, f, 'g', 17, 64)
}

// AppendCommand appends a command as a RESP array of bulk strings: the
// form used for the replication stream and the AOF.
func AppendCommand(dst []byte, args ...[]byte) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(len(args)), 10)
	dst = append(dst, '\r', '\n')
	for _, a := range args {
		dst = append(dst, '$')
		dst = strconv.AppendInt(dst, int64(len(a)), 10)
		dst = append(dst, '\r', '\n')
		dst = append(dst, a...)
		dst = append(dst, '\r', '\n')
	}
	return dst
}

// AppendCommandStrings is AppendCommand for string arguments.
func AppendCommandStrings(dst []byte, args ...string) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(len(args)), 10)
	dst = append(dst, '\r', '\n')
	for _, a := range args {
		dst = append(dst, '$')
		dst = strconv.AppendInt(dst, int64(len(a)), 10)
		dst = append(dst, '\r', '\n')
		dst = append(dst, a...)
		dst = append(dst, '\r', '\n')
	}
	return dst
}
