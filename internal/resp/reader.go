// Package resp implements the Redis serialization protocol (RESP2 and RESP3):
// a request parser for servers, a reply writer, and a reply parser for
// clients. It knows nothing about commands or the keyspace.
package resp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
)

// Default limits, matching redis-server 7.
const (
	DefaultMaxBulkLen   = 512 << 20 // proto-max-bulk-len
	DefaultMaxInline    = 64 << 10  // PROTO_INLINE_MAX_SIZE
	DefaultQueryBufMax  = 1 << 30   // client-query-buffer-limit
	unauthMaxMultibulk  = 10
	unauthMaxBulk       = 16384
	initialReadBufSize  = 16 << 10
	maxPreallocatedArgs = 1024
)

// ErrIncomplete means the buffer does not yet hold a whole request.
var ErrIncomplete = errors.New("resp: incomplete request")

// ProtocolError is a malformed request. Its text is what Redis replies
// (after "ERR "); the connection must be closed after replying.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "Protocol error: " + e.Msg }

// QueryBufferLimitError means a client sent more unparsed input than
// client-query-buffer-limit allows; Redis closes such clients silently.
type QueryBufferLimitError struct{ Size int }

func (e *QueryBufferLimitError) Error() string {
	return fmt.Sprintf("closing client that reached max query buffer length (qbuf %d)", e.Size)
}

// RequestReader parses client requests (multibulk or inline) from a stream.
// The argument slices it returns point into its buffer and stay valid only
// until the next call to Fill: callers that retain argument bytes must copy.
type RequestReader struct {
	rd   io.Reader
	buf  []byte
	r, w int
	args [][]byte

	// MaxBulkLen is proto-max-bulk-len.
	MaxBulkLen int64
	// MaxQueryBuf is client-query-buffer-limit.
	MaxQueryBuf int
	// Unauthenticated applies Redis's tighter limits for clients that have
	// not authenticated yet.
	Unauthenticated bool
	// Inline reports whether the last parsed request was an inline one.
	Inline bool

	// pending big bulk: once a bulk header is parsed, we know exactly how
	// many bytes the request needs; Fill uses it to grow the buffer once.
	need int
}

// NewRequestReader returns a reader with Redis's default limits.
func NewRequestReader(rd io.Reader) *RequestReader {
	return &RequestReader{
		rd:          rd,
		buf:         make([]byte, initialReadBufSize),
		MaxBulkLen:  DefaultMaxBulkLen,
		MaxQueryBuf: DefaultQueryBufMax,
	}
}

// Buffered is the number of unparsed bytes held.
func (r *RequestReader) Buffered() int { return r.w - r.r }

// BufferCap is the capacity of the query buffer (for CLIENT LIST qbuf).
func (r *RequestReader) BufferCap() int { return len(r.buf) }

// Unread returns the unparsed bytes (for handing a connection over).
func (r *RequestReader) Unread() []byte { return r.buf[r.r:r.w] }

// Prime puts bytes in front of what will be read from the stream.
func (r *RequestReader) Prime(b []byte) {
	r.compact(len(b))
	r.w += copy(r.buf[r.w:], b)
}

// Unconsume gives back the last n bytes parsed, so the request they held
// is parsed again (a connection handed over before running it). Valid
// only between Next and the following Fill or Prime.
func (r *RequestReader) Unconsume(n int) { r.r -= n }

// Unshift puts b in front of the unparsed bytes (a request taken back
// from a blocked client).
func (r *RequestReader) Unshift(b []byte) {
	if r.r >= len(b) {
		r.r -= len(b)
		copy(r.buf[r.r:], b)
		return
	}
	nb := make([]byte, max(len(r.buf), len(b)+r.Buffered()+initialReadBufSize))
	n := copy(nb, b)
	n += copy(nb[n:], r.buf[r.r:r.w])
	r.buf, r.r, r.w = nb, 0, n
}

// Fill reads more input from the stream. It invalidates argument slices
// returned earlier.
func (r *RequestReader) Fill() error {
	want := 4096
	if r.need > want {
		want = r.need
	}
	r.compact(want)
	if r.Buffered() >= r.MaxQueryBuf && r.MaxQueryBuf > 0 {
		return &QueryBufferLimitError{Size: r.Buffered()}
	}
	n, err := r.rd.Read(r.buf[r.w:])
	r.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// compact makes room for at least n more bytes after w.
func (r *RequestReader) compact(n int) {
	if r.r == r.w {
		r.r, r.w = 0, 0
		if len(r.buf) > 4*initialReadBufSize && n <= initialReadBufSize {
			// A big request is done: give its buffer back.
			r.buf = make([]byte, initialReadBufSize)
		}
	}
	if len(r.buf)-r.w >= n {
		return
	}
	if r.r > 0 && len(r.buf)-(r.w-r.r) >= n && r.w-r.r < len(r.buf)/2 {
		copy(r.buf, r.buf[r.r:r.w])
		r.w -= r.r
		r.r = 0
		return
	}
	size := len(r.buf) * 2
	for size-(r.w-r.r) < n {
		size *= 2
	}
	nb := make([]byte, size)
	copy(nb, r.buf[r.r:r.w])
	r.w -= r.r
	r.r = 0
	r.buf = nb
}

// Next parses one request from the buffer without reading. It returns
// ErrIncomplete when more input is needed, a *ProtocolError for malformed
// input, or the arguments (possibly zero of them for an empty line or *0).
func (r *RequestReader) Next() ([][]byte, error) {
	if r.r == r.w {
		return nil, ErrIncomplete
	}
	if r.buf[r.r] == '*' {
		r.Inline = false
		return r.parseMultibulk()
	}
	r.Inline = true
	return r.parseInline()
}

func (r *RequestReader) parseInline() ([][]byte, error) {
	data := r.buf[r.r:r.w]
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 {
		if len(data) > DefaultMaxInline {
			return nil, &ProtocolError{"too big inline request"}
		}
		return nil, ErrIncomplete
	}
	line := data[:nl]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	args, ok := SplitArgs(line, r.args[:0])
	if !ok {
		return nil, &ProtocolError{"unbalanced quotes in request"}
	}
	r.args = args
	r.r += nl + 1
	return args, nil
}

// parseInt parses a protocol integer the way Redis's string2ll does: an
// optional '-', then digits without a leading zero ("0" alone is fine),
// no '+', no spaces, within int64. Every request header goes through
// here, twice with read-ahead, so it avoids strconv's generality.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	digits := b
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		digits = b[1:]
	}
	// 19 digits hold every int64; with no leading zero, 20 do not, and
	// 19 cannot overflow the uint64 accumulator.
	if len(digits) == 0 || len(digits) > 19 || digits[0] < '1' || digits[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	switch {
	case !neg && v <= math.MaxInt64:
		return int64(v), true
	case neg && v <= math.MaxInt64+1:
		return int64(-v), true
	}
	return 0, false
}

func (r *RequestReader) parseMultibulk() ([][]byte, error) {
	data := r.buf[r.r:r.w]
	nl := bytes.IndexByte(data, '\r')
	if nl < 0 || nl+1 >= len(data) {
		if len(data) > DefaultMaxInline {
			return nil, &ProtocolError{"too big mbulk count string"}
		}
		return nil, ErrIncomplete
	}
	if len(data) > 0 && nl > DefaultMaxInline {
		return nil, &ProtocolError{"too big mbulk count string"}
	}
	count, ok := parseInt(data[1:nl])
	if !ok || count > 1<<31-1 {
		return nil, &ProtocolError{"invalid multibulk length"}
	}
	if count > unauthMaxMultibulk && r.Unauthenticated {
		return nil, &ProtocolError{"unauthenticated multibulk length"}
	}
	pos := nl + 2
	if count <= 0 {
		r.r += pos
		return r.args[:0], nil
	}
	args := r.args[:0]
	if cap(args) < int(count) && count <= maxPreallocatedArgs {
		args = make([][]byte, 0, count)
	}
	for i := int64(0); i < count; i++ {
		if pos >= len(data) {
			r.args = args[:0]
			return nil, ErrIncomplete
		}
		if data[pos] != '$' {
			return nil, &ProtocolError{fmt.Sprintf("expected '$', got '%c'", data[pos])}
		}
		end := bytes.IndexByte(data[pos:], '\r')
		if end < 0 || pos+end+1 >= len(data) {
			if len(data)-pos > DefaultMaxInline {
				return nil, &ProtocolError{"too big bulk count string"}
			}
			r.args = args[:0]
			return nil, ErrIncomplete
		}
		if end > DefaultMaxInline {
			return nil, &ProtocolError{"too big bulk count string"}
		}
		n, ok := parseInt(data[pos+1 : pos+end])
		if !ok || n < 0 || n > r.MaxBulkLen {
			return nil, &ProtocolError{"invalid bulk length"}
		}
		if n > unauthMaxBulk && r.Unauthenticated {
			return nil, &ProtocolError{"unauthenticated bulk length"}
		}
		pos += end + 2
		if int64(len(data)-pos) < n+2 {
			// Tell Fill how much room the rest of this request needs.
			r.need = pos + int(n) + 2 - len(data)
			r.args = args[:0]
			return nil, ErrIncomplete
		}
		args = append(args, data[pos:pos+int(n):pos+int(n)])
		pos += int(n) + 2
	}
	r.need = 0
	r.args = args
	r.r += pos
	return args, nil
}

// SplitArgs splits an inline command line into arguments with the quoting
// rules of redis-cli and redis.conf (sdssplitargs): double quotes with
// \n \r \t \b \a \\ \" and \xHH escapes, single quotes with \' only. A
// closing quote must be followed by a space or the end. It appends to dst.
func SplitArgs(line []byte, dst [][]byte) ([][]byte, bool) {
	p := 0
	for {
		for p < len(line) && isSpace(line[p]) {
			p++
		}
		if p >= len(line) {
			return dst, true
		}
		var cur []byte
		inq, insq := false, false
		done := false
		for !done {
			if inq {
				if p >= len(line) {
					return dst, false
				}
				c := line[p]
				if c == '\\' && p+3 < len(line) && line[p+1] == 'x' && isHex(line[p+2]) && isHex(line[p+3]) {
					cur = append(cur, hexVal(line[p+2])<<4|hexVal(line[p+3]))
					p += 3
				} else if c == '\\' && p+1 < len(line) {
					p++
					switch line[p] {
					case 'n':
						cur = append(cur, '\n')
					case 'r':
						cur = append(cur, '\r')
					case 't':
						cur = append(cur, '\t')
					case 'b':
						cur = append(cur, '\b')
					case 'a':
						cur = append(cur, '\a')
					default:
						cur = append(cur, line[p])
					}
				} else if c == '"' {
					if p+1 < len(line) && !isSpace(line[p+1]) {
						return dst, false
					}
					done = true
				} else {
					cur = append(cur, c)
				}
			} else if insq {
				if p >= len(line) {
					return dst, false
				}
				c := line[p]
				if c == '\\' && p+1 < len(line) && line[p+1] == '\'' {
					p++
					cur = append(cur, '\'')
				} else if c == '\'' {
					if p+1 < len(line) && !isSpace(line[p+1]) {
						return dst, false
					}
					done = true
				} else {
					cur = append(cur, c)
				}
			} else {
				if p >= len(line) {
					break
				}
				switch c := line[p]; c {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					cur = append(cur, c)
				}
			}
			if p < len(line) {
				p++
			}
		}
		if cur == nil {
			cur = []byte{}
		}
		dst = append(dst, cur)
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f'
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// PeekKeys appends to keys the first argument after the command name of
// each whole multibulk request buffered, up to max requests, and to
// seconds the argument after that (nil when there is none), without
// consuming anything: a server reads ahead the keys, and the members or
// fields, a pipeline will touch. Requests without a key are skipped. It
// stops at the first request that is inline, incomplete or malformed
// (Next reports those).
func (r *RequestReader) PeekKeys(keys, seconds [][]byte, max int) ([][]byte, [][]byte) {
	data := r.buf[r.r:r.w]
	pos := 0
	for n := 0; n < max && pos < len(data) && data[pos] == '*'; n++ {
		count, next, ok := peekLen(data, pos)
		if !ok || count > 1<<20 {
			return keys, seconds
		}
		pos = next
		var key, second []byte
		for i := int64(0); i < count; i++ {
			if pos >= len(data) || data[pos] != '$' {
				return keys, seconds
			}
			blen, next, ok := peekLen(data, pos)
			if !ok || blen > int64(len(data)-next) || int64(len(data)-next)-blen < 2 {
				return keys, seconds
			}
			switch i {
			case 1:
				key = data[next : next+int(blen) : next+int(blen)]
			case 2:
				second = data[next : next+int(blen) : next+int(blen)]
			}
			pos = next + int(blen) + 2
		}
		if count >= 2 {
			keys = append(keys, key)
			seconds = append(seconds, second)
		}
	}
	return keys, seconds
}

// peekLen parses the length line that starts with the type byte at
// data[pos], as parseMultibulk does, and returns the length with the
// position after its CRLF.
func peekLen(data []byte, pos int) (int64, int, bool) {
	end := bytes.IndexByte(data[pos:], '\r')
	if end < 0 || pos+end+1 >= len(data) || data[pos+end+1] != '\n' {
		return 0, 0, false
	}
	n, ok := parseInt(data[pos+1 : pos+end])
	if !ok || n < 0 {
		return 0, 0, false
	}
	return n, pos + end + 2, true
}
