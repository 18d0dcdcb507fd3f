package resp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Kind is the type of a reply, named by its RESP type byte.
type Kind byte

// Reply kinds. RESP2 has the first five; the rest are RESP3. The RESP2
// null bulk string ($-1) and null array (*-1) parse as KindNull too: the raw
// bytes ReadReply returns tell them apart where that matters.
const (
	KindSimple    Kind = '+' // simple string: Str
	KindError     Kind = '-' // simple error: Str holds "CODE message"
	KindInt       Kind = ':' // integer: Int
	KindBulk      Kind = '$' // bulk string: Str
	KindArray     Kind = '*' // array: Elems
	KindNull      Kind = '_' // null (RESP3 _, RESP2 $-1 and *-1)
	KindDouble    Kind = ',' // double: Float, Str keeps the text as sent
	KindBool      Kind = '#' // boolean: Bool
	KindBigNumber Kind = '(' // big number: Str holds the digits (parse with math/big)
	KindBlobError Kind = '!' // bulk error: Str
	KindVerbatim  Kind = '=' // verbatim string: Format and Str
	KindMap       Kind = '%' // map: Elems holds key, value, key, value...
	KindSet       Kind = '~' // set: Elems
	KindPush      Kind = '>' // out-of-band push: Elems
)

// String names the kind for messages.
func (k Kind) String() string {
	switch k {
	case KindSimple:
		return "simple-string"
	case KindError:
		return "error"
	case KindInt:
		return "integer"
	case KindBulk:
		return "bulk-string"
	case KindArray:
		return "array"
	case KindNull:
		return "null"
	case KindDouble:
		return "double"
	case KindBool:
		return "boolean"
	case KindBigNumber:
		return "big-number"
	case KindBlobError:
		return "blob-error"
	case KindVerbatim:
		return "verbatim-string"
	case KindMap:
		return "map"
	case KindSet:
		return "set"
	case KindPush:
		return "push"
	}
	return fmt.Sprintf("kind(%q)", byte(k))
}

// Value is one parsed reply. Which fields are meaningful depends on Kind;
// the others are zero. Aggregates nest: Elems holds Values.
type Value struct {
	Kind Kind
	// NullOf records, for KindNull, which RESP2 null was sent: KindBulk
	// for $-1, KindArray for *-1, zero for the RESP3 null _.
	NullOf Kind
	// Bool is the value of a boolean reply.
	Bool bool
	// Str is the payload of string-like kinds (simple, error, bulk, blob
	// error, verbatim without its format prefix, big number) and the text
	// of a double as the server sent it.
	Str []byte
	// Int is the value of an integer reply.
	Int int64
	// Float is the value of a double reply.
	Float float64
	// Format is the three-letter format of a verbatim string ("txt", "mkd").
	Format string
	// Elems are the elements of an array, set or push, and the keys and
	// values (alternating) of a map.
	Elems []Value
	// Attrs are the keys and values (alternating) of a RESP3 attribute
	// that preceded this value, if any.
	Attrs []Value
}

// ReplyLimits bound what a reply may declare, so garbage or hostile input
// cannot make the parser allocate without bound. Memory is in any case
// only allocated as bytes actually arrive, never up front from a declared
// length.
type ReplyLimits struct {
	// MaxBulkLen is the largest bulk, verbatim or blob error payload.
	MaxBulkLen int64
	// MaxLineLen is the longest simple string, error, number line.
	MaxLineLen int
	// MaxElements is the total number of values in one reply, nested
	// ones included.
	MaxElements int64
	// MaxDepth is the deepest aggregate nesting.
	MaxDepth int
}

// DefaultReplyLimits suit tests and tools: a bulk as large as Redis
// accepts, two million values per reply (each parsed value costs about
// 110 bytes, so a flood of tiny elements stays in the hundreds of MB), and
// deeper nesting than any real reply.
var DefaultReplyLimits = ReplyLimits{
	MaxBulkLen:  DefaultMaxBulkLen,
	MaxLineLen:  1 << 20,
	MaxElements: 1 << 21,
	MaxDepth:    512,
}

// MalformedReplyError means the input is not valid RESP. Offset is the
// position in the reply where the problem was found.
type MalformedReplyError struct {
	Offset int
	Msg    string
}

func (e *MalformedReplyError) Error() string {
	return fmt.Sprintf("resp: malformed reply at byte %d: %s", e.Offset, e.Msg)
}

// ErrReplyLimit is wrapped by errors about replies exceeding ReplyLimits.
var ErrReplyLimit = errors.New("resp: reply exceeds limit")

// ReadReply reads one complete reply (with any attribute preceding it) from
// r using DefaultReplyLimits. It returns the parsed value and the exact
// bytes it consumed. A reply that is an error (-ERR ...) is a Value of kind
// KindError, not a Go error: err reports only I/O failures (io.EOF when
// the stream ends cleanly before a reply, io.ErrUnexpectedEOF inside one),
// *MalformedReplyError and ErrReplyLimit.
func ReadReply(r *bufio.Reader) (Value, []byte, error) {
	return DefaultReplyLimits.ReadReply(r)
}

// ReadReply reads one reply as the package's ReadReply does, within
// these limits.
func (l ReplyLimits) ReadReply(r *bufio.Reader) (Value, []byte, error) {
	p := replyParser{r: r, lim: l}
	v, err := p.value(0)
	if err != nil {
		if errors.Is(err, io.EOF) && len(p.raw) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return Value{}, p.raw, err
	}
	return v, p.raw, nil
}

// ParseReply parses the reply at the start of b. It returns the value and
// the number of bytes it used; io.ErrUnexpectedEOF (or io.EOF for empty
// input) means b holds only part of a reply.
func ParseReply(b []byte) (Value, int, error) {
	v, raw, err := ReadReply(bufio.NewReader(bytes.NewReader(b)))
	return v, len(raw), err
}

type replyParser struct {
	r     *bufio.Reader
	lim   ReplyLimits
	raw   []byte
	elems int64
}

func (p *replyParser) malformed(format string, args ...any) error {
	return &MalformedReplyError{Offset: len(p.raw), Msg: fmt.Sprintf(format, args...)}
}

// line reads up to and including CRLF, appends it to raw and returns the
// content without the type byte and CRLF.
func (p *replyParser) line() ([]byte, error) {
	start := len(p.raw)
	for {
		chunk, err := p.r.ReadSlice('\n')
		p.raw = append(p.raw, chunk...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(p.raw)-start > p.lim.MaxLineLen+3 {
				return nil, fmt.Errorf("%w: line longer than %d bytes", ErrReplyLimit, p.lim.MaxLineLen)
			}
			continue
		}
		return nil, err
	}
	l := p.raw[start:]
	if len(l) > p.lim.MaxLineLen+3 {
		return nil, fmt.Errorf("%w: line longer than %d bytes", ErrReplyLimit, p.lim.MaxLineLen)
	}
	if len(l) < 3 || l[len(l)-2] != '\r' {
		return nil, p.malformed("line %q is not a type byte, content and CRLF", snippet(l))
	}
	body := l[1 : len(l)-2]
	if bytes.ContainsAny(body, "\r\n") {
		return nil, p.malformed("CR or LF inside a line")
	}
	return body, nil
}

// snippet shortens b for an error message.
func snippet(b []byte) []byte {
	if len(b) > 64 {
		return append(b[:64:64], "..."...)
	}
	return b
}

// strictInt parses a protocol integer as Redis writes them: an optional
// minus sign, no plus sign, no leading zeros, no "-0".
func strictInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	digits := b
	if b[0] == '-' {
		digits = b[1:]
	}
	if len(digits) == 0 || (digits[0] == '0' && (len(digits) > 1 || len(b) > 1)) {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	return v, err == nil
}

// count checks the total-elements limit; called once per value.
func (p *replyParser) count() error {
	p.elems++
	if p.elems > p.lim.MaxElements {
		return fmt.Errorf("%w: more than %d values", ErrReplyLimit, p.lim.MaxElements)
	}
	return nil
}

func (p *replyParser) value(depth int) (Value, error) {
	if depth > p.lim.MaxDepth {
		return Value{}, fmt.Errorf("%w: nesting deeper than %d", ErrReplyLimit, p.lim.MaxDepth)
	}
	if err := p.count(); err != nil {
		return Value{}, err
	}
	t, err := p.r.Peek(1)
	if err != nil {
		return Value{}, err
	}
	typ := Kind(t[0])
	body, err := p.line()
	if err != nil {
		return Value{}, err
	}
	switch typ {
	case KindSimple, KindError:
		return Value{Kind: typ, Str: clone(body)}, nil
	case KindInt:
		n, ok := strictInt(body)
		if !ok {
			return Value{}, p.malformed("invalid integer %q", snippet(body))
		}
		return Value{Kind: KindInt, Int: n}, nil
	case KindNull:
		if len(body) != 0 {
			return Value{}, p.malformed("null with payload %q", snippet(body))
		}
		return Value{Kind: KindNull}, nil
	case KindBool:
		if len(body) != 1 || (body[0] != 't' && body[0] != 'f') {
			return Value{}, p.malformed("invalid boolean %q", snippet(body))
		}
		return Value{Kind: KindBool, Bool: body[0] == 't'}, nil
	case KindDouble:
		f, ok := parseDouble(body)
		if !ok {
			return Value{}, p.malformed("invalid double %q", snippet(body))
		}
		return Value{Kind: KindDouble, Float: f, Str: clone(body)}, nil
	case KindBigNumber:
		if !validBigNumber(body) {
			return Value{}, p.malformed("invalid big number %q", snippet(body))
		}
		return Value{Kind: KindBigNumber, Str: clone(body)}, nil
	case KindBulk, KindVerbatim, KindBlobError:
		return p.bulk(typ, body)
	case KindArray, KindSet, KindPush, KindMap:
		return p.aggregate(typ, body, depth)
	case '|':
		return p.attribute(body, depth)
	}
	return Value{}, p.malformed("unknown reply type %q", byte(typ))
}

func (p *replyParser) bulk(typ Kind, header []byte) (Value, error) {
	n, ok := strictInt(header)
	if !ok || n < -1 {
		return Value{}, p.malformed("invalid bulk length %q", snippet(header))
	}
	if n == -1 {
		if typ != KindBulk {
			return Value{}, p.malformed("null %s", typ)
		}
		return Value{Kind: KindNull, NullOf: KindBulk}, nil
	}
	if n > p.lim.MaxBulkLen {
		return Value{}, fmt.Errorf("%w: bulk of %d bytes (limit %d)", ErrReplyLimit, n, p.lim.MaxBulkLen)
	}
	start := len(p.raw)
	// Grow as bytes arrive rather than by the declared length: a lying
	// header on a short stream costs nothing.
	for need := n + 2; need > 0; {
		step := int(min(need, 64<<10))
		if cap(p.raw)-len(p.raw) < step {
			grown := make([]byte, len(p.raw), max(2*cap(p.raw), len(p.raw)+step))
			copy(grown, p.raw)
			p.raw = grown
		}
		got, err := io.ReadFull(p.r, p.raw[len(p.raw):len(p.raw)+step])
		p.raw = p.raw[:len(p.raw)+got]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return Value{}, err
		}
		need -= int64(step)
	}
	payload := p.raw[start : len(p.raw)-2]
	if p.raw[len(p.raw)-2] != '\r' || p.raw[len(p.raw)-1] != '\n' {
		return Value{}, p.malformed("bulk payload not followed by CRLF")
	}
	v := Value{Kind: typ, Str: clone(payload)}
	if typ == KindVerbatim {
		if len(payload) < 4 || payload[3] != ':' {
			return Value{}, p.malformed("verbatim string without a format prefix")
		}
		v.Format = string(payload[:3])
		v.Str = v.Str[4:]
	}
	return v, nil
}

func (p *replyParser) aggregate(typ Kind, header []byte, depth int) (Value, error) {
	n, ok := strictInt(header)
	if !ok || n < -1 || (n == -1 && typ != KindArray) {
		return Value{}, p.malformed("invalid %s length %q", typ, snippet(header))
	}
	if n == -1 {
		return Value{Kind: KindNull, NullOf: KindArray}, nil
	}
	if typ == KindMap {
		// Checked before doubling, which could overflow.
		if n > p.lim.MaxElements/2 {
			return Value{}, fmt.Errorf("%w: map of %d pairs", ErrReplyLimit, n)
		}
		n *= 2
	}
	if n > p.lim.MaxElements {
		return Value{}, fmt.Errorf("%w: %s of %d elements", ErrReplyLimit, typ, n)
	}
	// Elements are appended as they are parsed; the preallocation is
	// capped so a declared length alone cannot allocate much.
	elems := make([]Value, 0, min(n, 64))
	for i := int64(0); i < n; i++ {
		e, err := p.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		elems = append(elems, e)
	}
	return Value{Kind: typ, Elems: elems}, nil
}

// attribute reads an attribute map and the value it annotates.
func (p *replyParser) attribute(header []byte, depth int) (Value, error) {
	m, err := p.aggregate(KindMap, header, depth)
	if err != nil {
		return Value{}, err
	}
	v, err := p.value(depth)
	if err != nil {
		return Value{}, err
	}
	if v.Attrs != nil {
		return Value{}, p.malformed("attribute followed by another attribute")
	}
	v.Attrs = m.Elems
	return v, nil
}

// parseDouble accepts what Redis writes for doubles: inf, -inf, nan and
// decimal or exponent notation.
func parseDouble(b []byte) (float64, bool) {
	switch string(b) {
	case "inf":
		return math.Inf(1), true
	case "-inf":
		return math.Inf(-1), true
	case "nan":
		return math.NaN(), true
	}
	if len(b) == 0 {
		return 0, false
	}
	// ParseFloat also takes "Inf", hex floats and underscores; RESP does not.
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return f, true
}

func validBigNumber(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func clone(b []byte) []byte {
	return append(make([]byte, 0, len(b)), b...)
}

// IsNull reports whether v is a null of any protocol version.
func (v Value) IsNull() bool { return v.Kind == KindNull }

// IsError reports whether v is an error reply (simple or blob).
func (v Value) IsError() bool { return v.Kind == KindError || v.Kind == KindBlobError }

// Text returns the payload of a string-like reply as a string, the
// decimal form of an integer, and "" for other kinds.
func (v Value) Text() string {
	switch v.Kind {
	case KindInt:
		return strconv.FormatInt(v.Int, 10)
	case KindBool:
		if v.Bool {
			return "1"
		}
		return "0"
	}
	return string(v.Str)
}

// Strings returns the texts of an aggregate's elements (see Text).
func (v Value) Strings() []string {
	out := make([]string, len(v.Elems))
	for i, e := range v.Elems {
		out[i] = e.Text()
	}
	return out
}

// AppendRESP encodes v back into RESP. For a value ReadReply returned, the
// result equals the raw bytes it consumed.
func (v Value) AppendRESP(dst []byte) []byte {
	if v.Attrs != nil {
		dst = appendHeader(dst, '|', int64(len(v.Attrs)/2))
		for _, a := range v.Attrs {
			dst = a.AppendRESP(dst)
		}
	}
	switch v.Kind {
	case KindSimple, KindError, KindBigNumber, KindDouble:
		if v.Kind == KindDouble && v.Str == nil {
			dst = append(dst, ',')
			dst = AppendDouble(dst, v.Float)
			return append(dst, '\r', '\n')
		}
		dst = append(dst, byte(v.Kind))
		dst = append(dst, v.Str...)
		return append(dst, '\r', '\n')
	case KindInt:
		return appendHeader(dst, ':', v.Int)
	case KindNull:
		switch v.NullOf {
		case KindBulk:
			return append(dst, "$-1\r\n"...)
		case KindArray:
			return append(dst, "*-1\r\n"...)
		}
		return append(dst, "_\r\n"...)
	case KindBool:
		if v.Bool {
			return append(dst, "#t\r\n"...)
		}
		return append(dst, "#f\r\n"...)
	case KindBulk, KindBlobError:
		dst = appendHeader(dst, byte(v.Kind), int64(len(v.Str)))
		dst = append(dst, v.Str...)
		return append(dst, '\r', '\n')
	case KindVerbatim:
		dst = appendHeader(dst, '=', int64(len(v.Str)+4))
		dst = append(dst, v.Format...)
		dst = append(dst, ':')
		dst = append(dst, v.Str...)
		return append(dst, '\r', '\n')
	case KindMap:
		dst = appendHeader(dst, '%', int64(len(v.Elems)/2))
	case KindArray, KindSet, KindPush:
		dst = appendHeader(dst, byte(v.Kind), int64(len(v.Elems)))
	default:
		return dst
	}
	for _, e := range v.Elems {
		dst = e.AppendRESP(dst)
	}
	return dst
}

func appendHeader(dst []byte, prefix byte, n int64) []byte {
	dst = append(dst, prefix)
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '\r', '\n')
}

// String renders v the way redis-cli does, for messages and test output:
// quoted strings, "(integer) 1", "(nil)", "(error) ERR ...", numbered
// nested elements.
func (v Value) String() string {
	var sb strings.Builder
	v.format(&sb, "")
	return sb.String()
}

func (v Value) format(sb *strings.Builder, indent string) {
	switch v.Kind {
	case KindSimple:
		sb.Write(v.Str)
	case KindError, KindBlobError:
		sb.WriteString("(error) ")
		sb.Write(v.Str)
	case KindInt:
		fmt.Fprintf(sb, "(integer) %d", v.Int)
	case KindBulk, KindVerbatim:
		sb.WriteString(strconv.Quote(string(v.Str)))
	case KindNull:
		sb.WriteString("(nil)")
	case KindDouble:
		fmt.Fprintf(sb, "(double) %s", v.Str)
	case KindBool:
		fmt.Fprintf(sb, "(boolean) %t", v.Bool)
	case KindBigNumber:
		fmt.Fprintf(sb, "(big number) %s", v.Str)
	case KindArray, KindSet, KindPush, KindMap:
		if len(v.Elems) == 0 {
			sb.WriteString("(empty ")
			sb.WriteString(v.Kind.String())
			sb.WriteString(")")
			return
		}
		step, sep := 1, ") "
		if v.Kind == KindMap {
			step, sep = 2, "# "
		}
		width := len(strconv.Itoa(len(v.Elems) / step))
		for i := 0; i < len(v.Elems); i += step {
			if i > 0 {
				sb.WriteString("\n")
				sb.WriteString(indent)
			}
			label := fmt.Sprintf("%*d%s", width, i/step+1, sep)
			sb.WriteString(label)
			inner := indent + strings.Repeat(" ", len(label))
			if v.Kind == KindMap {
				v.Elems[i].format(sb, inner)
				sb.WriteString(" => ")
				v.Elems[i+1].format(sb, inner+"    ")
				continue
			}
			v.Elems[i].format(sb, inner)
		}
	default:
		fmt.Fprintf(sb, "(%s)", v.Kind)
	}
}
