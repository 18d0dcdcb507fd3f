package resp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

func bulk(s string) Value   { return Value{Kind: KindBulk, Str: []byte(s)} }
func simple(s string) Value { return Value{Kind: KindSimple, Str: []byte(s)} }
func integer(n int64) Value { return Value{Kind: KindInt, Int: n} }

func TestReadReplyKinds(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Value
	}{
		{"simple", "+OK\r\n", simple("OK")},
		{"empty simple", "+\r\n", simple("")},
		{"error", "-ERR unknown command\r\n", Value{Kind: KindError, Str: []byte("ERR unknown command")}},
		{"int", ":42\r\n", integer(42)},
		{"negative int", ":-9223372036854775808\r\n", integer(math.MinInt64)},
		{"zero", ":0\r\n", integer(0)},
		{"bulk", "$5\r\nhello\r\n", bulk("hello")},
		{"binary bulk", "$4\r\na\r\nb\r\n", bulk("a\r\nb")},
		{"empty bulk", "$0\r\n\r\n", bulk("")},
		{"null bulk", "$-1\r\n", Value{Kind: KindNull, NullOf: KindBulk}},
		{"null array", "*-1\r\n", Value{Kind: KindNull, NullOf: KindArray}},
		{"null", "_\r\n", Value{Kind: KindNull}},
		{"empty array", "*0\r\n", Value{Kind: KindArray, Elems: []Value{}}},
		{"array", "*2\r\n$1\r\na\r\n:1\r\n", Value{Kind: KindArray, Elems: []Value{bulk("a"), integer(1)}}},
		{"nested", "*2\r\n*1\r\n+x\r\n*0\r\n", Value{Kind: KindArray, Elems: []Value{
			{Kind: KindArray, Elems: []Value{simple("x")}},
			{Kind: KindArray, Elems: []Value{}},
		}}},
		{"double", ",1.5\r\n", Value{Kind: KindDouble, Float: 1.5, Str: []byte("1.5")}},
		{"double exp", ",1e+300\r\n", Value{Kind: KindDouble, Float: 1e300, Str: []byte("1e+300")}},
		{"double inf", ",inf\r\n", Value{Kind: KindDouble, Float: math.Inf(1), Str: []byte("inf")}},
		{"double -inf", ",-inf\r\n", Value{Kind: KindDouble, Float: math.Inf(-1), Str: []byte("-inf")}},
		{"true", "#t\r\n", Value{Kind: KindBool, Bool: true}},
		{"false", "#f\r\n", Value{Kind: KindBool}},
		{"big number", "(-3492890328409238509324850943850943825024385\r\n", Value{Kind: KindBigNumber, Str: []byte("-3492890328409238509324850943850943825024385")}},
		{"blob error", "!21\r\nSYNTAX invalid syntax\r\n", Value{Kind: KindBlobError, Str: []byte("SYNTAX invalid syntax")}},
		{"verbatim", "=15\r\ntxt:Some string\r\n", Value{Kind: KindVerbatim, Format: "txt", Str: []byte("Some string")}},
		{"map", "%2\r\n+a\r\n:1\r\n+b\r\n_\r\n", Value{Kind: KindMap, Elems: []Value{simple("a"), integer(1), simple("b"), {Kind: KindNull}}}},
		{"set", "~2\r\n$1\r\nx\r\n$1\r\ny\r\n", Value{Kind: KindSet, Elems: []Value{bulk("x"), bulk("y")}}},
		{"push", ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n", Value{Kind: KindPush, Elems: []Value{bulk("message"), bulk("ch"), bulk("hi")}}},
		{"attribute", "|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n", Value{Kind: KindBulk, Str: []byte("v"), Attrs: []Value{simple("ttl"), integer(3)}}},
		{"attribute inside array", "*1\r\n|0\r\n:1\r\n", Value{Kind: KindArray, Elems: []Value{{Kind: KindInt, Int: 1, Attrs: []Value{}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Trailing bytes must be left unread.
			in := tt.in + "+NEXT\r\n"
			for _, oneByte := range []bool{false, true} {
				var src io.Reader = strings.NewReader(in)
				if oneByte {
					src = iotest.OneByteReader(src)
				}
				br := bufio.NewReaderSize(src, 16)
				v, raw, err := ReadReply(br)
				if err != nil {
					t.Fatalf("ReadReply(%q) error: %v", tt.in, err)
				}
				if string(raw) != tt.in {
					t.Errorf("raw = %q, want %q", raw, tt.in)
				}
				if !equalValue(v, tt.want) {
					t.Errorf("ReadReply(%q) = %#v, want %#v", tt.in, v, tt.want)
				}
				if enc := v.AppendRESP(nil); string(enc) != tt.in {
					t.Errorf("AppendRESP = %q, want %q", enc, tt.in)
				}
				next, _, err := ReadReply(br)
				if err != nil || next.Text() != "NEXT" {
					t.Errorf("following reply = %v, %v; want NEXT", next, err)
				}
			}
		})
	}
}

// equalValue compares values, treating NaN doubles as equal to each other.
func equalValue(a, b Value) bool {
	if a.Kind != b.Kind || !bytes.Equal(a.Str, b.Str) || a.Int != b.Int || a.Bool != b.Bool ||
		a.Format != b.Format || a.NullOf != b.NullOf || len(a.Elems) != len(b.Elems) ||
		(a.Elems == nil) != (b.Elems == nil) || len(a.Attrs) != len(b.Attrs) || (a.Attrs == nil) != (b.Attrs == nil) {
		return false
	}
	if a.Float != b.Float && !(math.IsNaN(a.Float) && math.IsNaN(b.Float)) {
		return false
	}
	for i := range a.Elems {
		if !equalValue(a.Elems[i], b.Elems[i]) {
			return false
		}
	}
	for i := range a.Attrs {
		if !equalValue(a.Attrs[i], b.Attrs[i]) {
			return false
		}
	}
	return true
}

func TestReadReplyMalformed(t *testing.T) {
	tests := []struct{ name, in string }{
		{"unknown type", "?x\r\n"},
		{"lf only", "+OK\n"},
		{"bare crlf", "\r\n"},
		{"bad int", ":12a\r\n"},
		{"plus int", ":+1\r\n"},
		{"leading zero", ":01\r\n"},
		{"minus zero", ":-0\r\n"},
		{"empty int", ":\r\n"},
		{"int overflow", ":9223372036854775808\r\n"},
		{"bad bulk len", "$x\r\n"},
		{"negative bulk len", "$-2\r\n"},
		{"bulk without crlf", "$3\r\nabcde"},
		{"null with payload", "_x\r\n"},
		{"bad bool", "#x\r\n"},
		{"bad double", ",abc\r\n"},
		{"hex double", ",0x1p-2\r\n"},
		{"bad big number", "(12a\r\n"},
		{"null map", "%-1\r\n"},
		{"null verbatim", "=-1\r\n"},
		{"short verbatim", "=3\r\ntxt\r\n"},
		{"verbatim without colon", "=5\r\ntxtab\r\n"},
		{"cr inside line", "+a\rb\r\n"},
		{"streamed string", "$?\r\n;4\r\nHell\r\n;0\r\n"},
		{"double attribute", "|0\r\n|0\r\n:1\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ReadReply(bufio.NewReader(strings.NewReader(tt.in)))
			var me *MalformedReplyError
			if !errors.As(err, &me) {
				t.Fatalf("ReadReply(%q) error = %v, want *MalformedReplyError", tt.in, err)
			}
		})
	}
}

func TestReadReplyEOF(t *testing.T) {
	if _, _, err := ReadReply(bufio.NewReader(strings.NewReader(""))); err != io.EOF {
		t.Errorf("empty input: error = %v, want io.EOF", err)
	}
	for _, in := range []string{"+OK", "+OK\r", "$5\r\nhel", "*2\r\n:1\r\n", "%1\r\n+a\r\n", "|1\r\n+a\r\n+b\r\n"} {
		_, raw, err := ReadReply(bufio.NewReader(strings.NewReader(in)))
		if err != io.ErrUnexpectedEOF {
			t.Errorf("ReadReply(%q) error = %v, want io.ErrUnexpectedEOF", in, err)
		}
		if string(raw) != in {
			t.Errorf("ReadReply(%q) raw = %q, want all input", in, raw)
		}
	}
}

func TestReadReplyLimits(t *testing.T) {
	lim := ReplyLimits{MaxBulkLen: 10, MaxLineLen: 20, MaxElements: 5, MaxDepth: 2}
	tests := []struct{ name, in string }{
		{"bulk", "$11\r\nhello world\r\n"},
		{"line", "+" + strings.Repeat("a", 100) + "\r\n"},
		{"line without newline", strings.Repeat("a", 100)},
		{"declared elements", "*6\r\n"},
		{"declared map elements", "%3\r\n"},
		{"total elements", "*2\r\n*2\r\n:1\r\n:2\r\n*1\r\n:3\r\n"},
		{"depth", "*1\r\n*1\r\n*1\r\n:1\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := lim.ReadReply(bufio.NewReaderSize(strings.NewReader(tt.in), 16))
			if !errors.Is(err, ErrReplyLimit) {
				t.Fatalf("error = %v, want ErrReplyLimit", err)
			}
		})
	}
	if _, _, err := lim.ReadReply(bufio.NewReader(strings.NewReader("*1\r\n*1\r\n:1\r\n"))); err != nil {
		t.Errorf("depth 2 is within the limit: %v", err)
	}
}

// TestReadReplyLyingHeaders checks that declared sizes alone do not
// allocate: huge headers followed by little data must cost little memory.
func TestReadReplyLyingHeaders(t *testing.T) {
	for _, in := range []string{
		"$536870912\r\nabc",
		"*2000000\r\n:1\r\n",
		"%1000000\r\n",
		"~2000000\r\n" + strings.Repeat("_\r\n", 100),
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, err := ReadReply(bufio.NewReader(strings.NewReader(in)))
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("ReadReply(%.20q) succeeded on truncated input", in)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
			t.Errorf("ReadReply(%.20q) allocated %d bytes", in, got)
		}
	}
}

func TestParseReply(t *testing.T) {
	v, n, err := ParseReply([]byte(":1\r\n:2\r\n"))
	if err != nil || n != 4 || v.Int != 1 {
		t.Fatalf("ParseReply = %v, %d, %v; want 1, 4, nil", v, n, err)
	}
	if _, _, err := ParseReply([]byte("*2\r\n:1\r\n")); err != io.ErrUnexpectedEOF {
		t.Fatalf("ParseReply of a partial reply: error = %v, want io.ErrUnexpectedEOF", err)
	}
}

// TestReplyWriterRoundTrip checks that what Writer produces parses back.
func TestReplyWriterRoundTrip(t *testing.T) {
	for _, proto := range []int{2, 3} {
		w := &Writer{Proto: proto}
		w.Map(2)
		w.BulkString("k")
		w.Double(2.5)
		w.Simple("s")
		w.Set(3)
		w.Null()
		w.Bool(true)
		w.Verbatim("txt", "hello")
		v, n, err := ParseReply(w.Buf)
		if err != nil || n != len(w.Buf) {
			t.Fatalf("proto %d: ParseReply(%q) = %d, %v", proto, w.Buf, n, err)
		}
		if proto == 3 {
			if v.Kind != KindMap || len(v.Elems) != 4 || v.Elems[1].Float != 2.5 || v.Elems[3].Kind != KindSet ||
				v.Elems[3].Elems[2].Format != "txt" || string(v.Elems[3].Elems[2].Str) != "hello" {
				t.Errorf("proto 3: parsed %#v", v)
			}
		} else if v.Kind != KindArray || len(v.Elems) != 4 || v.Elems[1].Text() != "2.5" || v.Elems[3].Elems[1].Int != 1 {
			t.Errorf("proto 2: parsed %#v", v)
		}
		if got := v.AppendRESP(nil); !bytes.Equal(got, w.Buf) {
			t.Errorf("proto %d: re-encoded %q, want %q", proto, got, w.Buf)
		}
	}
}

func TestValueString(t *testing.T) {
	v, _, err := ParseReply([]byte("*4\r\n$1\r\na\r\n:7\r\n$-1\r\n*2\r\n-ERR x\r\n%1\r\n+k\r\n,1.5\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := "1) \"a\"\n2) (integer) 7\n3) (nil)\n4) 1) (error) ERR x\n   2) 1# k => (double) 1.5"
	if got := v.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
	if got := (Value{Kind: KindArray, Elems: []Value{}}).String(); got != "(empty array)" {
		t.Errorf("empty array String() = %q", got)
	}
}

func TestValueHelpers(t *testing.T) {
	v, _, _ := ParseReply([]byte("*3\r\n$1\r\na\r\n:2\r\n#t\r\n"))
	if got := strings.Join(v.Strings(), ","); got != "a,2,1" {
		t.Errorf("Strings() = %q", got)
	}
	if !(Value{Kind: KindBlobError}).IsError() || (Value{Kind: KindBulk}).IsError() {
		t.Error("IsError")
	}
	if !(Value{Kind: KindNull, NullOf: KindArray}).IsNull() {
		t.Error("IsNull")
	}
}

// FuzzReadReply checks the reply parser on arbitrary input: no panics,
// raw is exactly the consumed prefix, re-encoding gives raw back, and the
// result does not depend on how the input is chunked.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"+OK\r\n", "-ERR x\r\n", ":1\r\n", "$3\r\nabc\r\n", "$-1\r\n", "*-1\r\n",
		"*2\r\n$1\r\na\r\n*1\r\n:2\r\n", "_\r\n", ",3.14\r\n", "#t\r\n", "(123\r\n",
		"!3\r\nERR\r\n", "=7\r\ntxt:abc\r\n", "%1\r\n+a\r\n~1\r\n:1\r\n", ">2\r\n+a\r\n+b\r\n",
		"|1\r\n+a\r\n+b\r\n:1\r\n", "$99999999999\r\n", "*1\r\n*1\r\n*1\r\n",
	} {
		f.Add([]byte(s))
	}
	lim := ReplyLimits{MaxBulkLen: 1 << 20, MaxLineLen: 1 << 16, MaxElements: 1 << 16, MaxDepth: 64}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, raw, err := lim.ReadReply(bufio.NewReader(bytes.NewReader(data)))
		if !bytes.HasPrefix(data, raw) {
			t.Fatalf("raw %q is not a prefix of the input", raw)
		}
		v2, raw2, err2 := lim.ReadReply(bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(data)), 16))
		if (err == nil) != (err2 == nil) || !bytes.Equal(raw, raw2) {
			t.Fatalf("chunking changed the result: %q %v vs %q %v", raw, err, raw2, err2)
		}
		if err != nil {
			var me *MalformedReplyError
			if !errors.As(err, &me) && !errors.Is(err, ErrReplyLimit) && err != io.EOF && err != io.ErrUnexpectedEOF {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		if !equalValue(v, v2) {
			t.Fatalf("chunking changed the value: %#v vs %#v", v, v2)
		}
		if enc := v.AppendRESP(nil); !bytes.Equal(enc, raw) {
			t.Fatalf("re-encoded %q, want %q", enc, raw)
		}
		_ = v.String()
	})
}
