package resp

import (
	"bytes"
	"errors"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// chunkReader returns its data a few bytes at a time, to exercise
// requests split across reads.
type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(c.n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// readAll parses every request in input, reading in chunks of size chunk.
func readAll(input string, chunk int) ([][]string, error) {
	r := NewRequestReader(&chunkReader{data: []byte(input), n: chunk})
	var out [][]string
	for {
		args, err := r.Next()
		if err == ErrIncomplete {
			if ferr := r.Fill(); ferr != nil {
				if errors.Is(ferr, io.EOF) {
					return out, nil
				}
				return out, ferr
			}
			continue
		}
		if err != nil {
			return out, err
		}
		if len(args) == 0 {
			continue
		}
		req := make([]string, len(args))
		for i, a := range args {
			req[i] = string(a)
		}
		out = append(out, req)
	}
}

func TestRequestReader(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    [][]string
		wantErr string
	}{
		{"multibulk", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", [][]string{{"GET", "k"}}, ""},
		{"pipeline", "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n", [][]string{{"PING"}, {"ECHO", "hi"}}, ""},
		{"empty bulk", "*2\r\n$3\r\nSET\r\n$0\r\n\r\n", [][]string{{"SET", ""}}, ""},
		{"binary bulk", "*1\r\n$4\r\na\r\nb\r\n", [][]string{{"a\r\nb"}}, ""},
		{"zero count ignored", "*0\r\n*1\r\n$4\r\nPING\r\n", [][]string{{"PING"}}, ""},
		{"negative count ignored", "*-1\r\n*1\r\n$4\r\nPING\r\n", [][]string{{"PING"}}, ""},
		{"inline", "SET k v\r\n", [][]string{{"SET", "k", "v"}}, ""},
		{"inline lf only", "PING\n", [][]string{{"PING"}}, ""},
		{"inline quotes", "SET \"a b\" 'c d'\r\n", [][]string{{"SET", "a b", "c d"}}, ""},
		{"inline escapes", "ECHO \"\\x41\\n\"\r\n", [][]string{{"ECHO", "A\n"}}, ""},
		{"inline empty line", "\r\nPING\r\n", [][]string{{"PING"}}, ""},
		{"unbalanced quotes", "ECHO \"abc\r\n", nil, "Protocol error: unbalanced quotes in request"},
		{"closing quote then char", "ECHO \"a\"b\r\n", nil, "Protocol error: unbalanced quotes in request"},
		{"bad count", "*x\r\n", nil, "Protocol error: invalid multibulk length"},
		{"expected dollar", "*1\r\n:1\r\n", nil, "Protocol error: expected '$', got ':'"},
		{"bad bulk length", "*1\r\n$-2\r\n", nil, "Protocol error: invalid bulk length"},
		{"bulk too big", "*1\r\n$536870913\r\n", nil, "Protocol error: invalid bulk length"},
		{"count too big", "*2147483648\r\n", nil, "Protocol error: invalid multibulk length"},
		{"leading plus count", "*+1\r\n$1\r\na\r\n", nil, "Protocol error: invalid multibulk length"},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 3, 1 << 20} {
			got, err := readAll(tt.input, chunk)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("%s (chunk %d): error %v, want %q", tt.name, chunk, err, tt.wantErr)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s (chunk %d): unexpected error %v", tt.name, chunk, err)
				continue
			}
			if !equalReqs(got, tt.want) {
				t.Errorf("%s (chunk %d): got %q, want %q", tt.name, chunk, got, tt.want)
			}
		}
	}
}

func equalReqs(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.Join(a[i], "\x00") != strings.Join(b[i], "\x00") || len(a[i]) != len(b[i]) {
			return false
		}
	}
	return true
}

func TestRequestReaderLimits(t *testing.T) {
	t.Run("inline too big", func(t *testing.T) {
		_, err := readAll(strings.Repeat("a", DefaultMaxInline+10), 1<<20)
		if err == nil || err.Error() != "Protocol error: too big inline request" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("unauthenticated multibulk", func(t *testing.T) {
		r := NewRequestReader(strings.NewReader("*11\r\n"))
		r.Unauthenticated = true
		r.Fill()
		if _, err := r.Next(); err == nil || err.Error() != "Protocol error: unauthenticated multibulk length" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("query buffer limit", func(t *testing.T) {
		r := NewRequestReader(bytes.NewReader(append([]byte("*1\r\n$100000\r\n"), make([]byte, 100000)...)))
		r.MaxQueryBuf = 1000
		var err error
		for err == nil {
			if _, nerr := r.Next(); nerr != ErrIncomplete {
				t.Fatalf("unexpected parse result %v", nerr)
			}
			err = r.Fill()
		}
		var qe *QueryBufferLimitError
		if !errors.As(err, &qe) {
			t.Fatalf("got %v, want a query buffer limit error", err)
		}
	})
	t.Run("big bulk across reads", func(t *testing.T) {
		val := strings.Repeat("x", 3<<20)
		in := "*2\r\n$4\r\nECHO\r\n$" + itoa(len(val)) + "\r\n" + val + "\r\n"
		got, err := readAll(in, 64<<10)
		if err != nil || len(got) != 1 || got[0][1] != val {
			t.Fatalf("big bulk: err %v, %d requests", err, len(got))
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{`a b  c`, []string{"a", "b", "c"}, true},
		{`"a\tb"`, []string{"a\tb"}, true},
		{`'it\'s'`, []string{"it's"}, true},
		{`""`, []string{""}, true},
		{`"\x4"`, []string{"x4"}, true},
		{`"unterminated`, nil, false},
		{`'x'y`, nil, false},
		{``, nil, true},
	}
	for _, tt := range tests {
		got, ok := SplitArgs([]byte(tt.in), nil)
		if ok != tt.ok {
			t.Errorf("SplitArgs(%q) ok=%v, want %v", tt.in, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		var gs []string
		for _, g := range got {
			gs = append(gs, string(g))
		}
		if strings.Join(gs, "|") != strings.Join(tt.want, "|") || len(gs) != len(tt.want) {
			t.Errorf("SplitArgs(%q) = %q, want %q", tt.in, gs, tt.want)
		}
	}
}

func TestWriterShapes(t *testing.T) {
	tests := []struct {
		name  string
		write func(w *Writer)
		resp2 string
		resp3 string
	}{
		{"null", func(w *Writer) { w.Null() }, "$-1\r\n", "_\r\n"},
		{"null array", func(w *Writer) { w.NullArray() }, "*-1\r\n", "_\r\n"},
		{"map", func(w *Writer) { w.Map(1); w.BulkString("a"); w.Int(1) }, "*2\r\n$1\r\na\r\n:1\r\n", "%1\r\n$1\r\na\r\n:1\r\n"},
		{"set", func(w *Writer) { w.Set(0) }, "*0\r\n", "~0\r\n"},
		{"bool", func(w *Writer) { w.Bool(true) }, ":1\r\n", "#t\r\n"},
		{"double", func(w *Writer) { w.Double(1.1) }, "$18\r\n1.1000000000000001\r\n", ",1.1000000000000001\r\n"},
		{"double int", func(w *Writer) { w.Double(3) }, "$1\r\n3\r\n", ",3\r\n"},
		{"double inf", func(w *Writer) { w.Double(math.Inf(1)) }, "$3\r\ninf\r\n", ",inf\r\n"},
		{"double exp", func(w *Writer) { w.Double(1e20) }, "$5\r\n1e+20\r\n", ",1e+20\r\n"},
		{"error code kept", func(w *Writer) { w.Error("WRONGTYPE x") }, "-WRONGTYPE x\r\n", "-WRONGTYPE x\r\n"},
		{"error code added", func(w *Writer) { w.Error("bad thing") }, "-ERR bad thing\r\n", "-ERR bad thing\r\n"},
		{"error newline", func(w *Writer) { w.Error("ERR a\r\nb") }, "-ERR a  b\r\n", "-ERR a  b\r\n"},
		{"push", func(w *Writer) { w.Push(1); w.BulkString("x") }, "*1\r\n$1\r\nx\r\n", ">1\r\n$1\r\nx\r\n"},
		{"verbatim", func(w *Writer) { w.Verbatim("txt", "hi") }, "$2\r\nhi\r\n", "=6\r\ntxt:hi\r\n"},
		{"negative length", func(w *Writer) { w.Array(-1) }, "*-1\r\n", "*-1\r\n"},
	}
	for _, tt := range tests {
		for proto, want := range map[int]string{2: tt.resp2, 3: tt.resp3} {
			w := &Writer{Proto: proto}
			tt.write(w)
			if string(w.Buf) != want {
				t.Errorf("%s RESP%d: got %q, want %q", tt.name, proto, w.Buf, want)
			}
		}
	}
}

// TestWriterLengths checks length lines on both sides of header's
// one- and two-digit shortcuts.
func TestWriterLengths(t *testing.T) {
	for _, n := range []int{0, 1, 9, 10, 11, 99, 100, 101, 12345} {
		w := &Writer{Proto: 2}
		w.Array(n)
		w.BulkString(strings.Repeat("x", n))
		want := "*" + strconv.Itoa(n) + "\r\n$" + strconv.Itoa(n) + "\r\n" + strings.Repeat("x", n) + "\r\n"
		if string(w.Buf) != want {
			t.Errorf("length %d: got %.40q, want %.40q", n, w.Buf, want)
		}
	}
}

func TestPeekKeys(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want []string
	}{
		{"pipeline", "*2\r\n$3\r\nGET\r\n$1\r\na\r\n*3\r\n$3\r\nSET\r\n$2\r\nbb\r\n$1\r\nv\r\n", 8, []string{"a", "bb", "+v"}},
		{"max", "*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n", 1, []string{"a"}},
		{"no key", "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 8, []string{"k"}},
		{"incomplete", "*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$5\r\nab", 8, []string{"a"}},
		{"inline stops", "GET a\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n", 8, nil},
		{"malformed stops", "*2\r\n$x\r\n", 8, nil},
		{"empty key", "*2\r\n$3\r\nGET\r\n$0\r\n\r\n", 8, []string{""}},
		{"huge length", "*2\r\n$3\r\nGET\r\n$99999999999999999999\r\n", 8, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRequestReader(strings.NewReader(tt.in))
			if err := r.Fill(); err != nil {
				t.Fatal(err)
			}
			before := r.Buffered()
			var got []string
			keys, seconds := r.PeekKeys(nil, nil, tt.max)
			for i, k := range keys {
				got = append(got, string(k))
				if seconds[i] != nil {
					got = append(got, "+"+string(seconds[i]))
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("PeekKeys = %q, want %q", got, tt.want)
			}
			if r.Buffered() != before {
				t.Fatalf("PeekKeys consumed input: %d -> %d", before, r.Buffered())
			}
		})
	}
}

// string2ll is the reference for parseInt: strconv's parse under the
// rules Redis's string2ll adds (no '+', no leading zero, no "-0").
func string2ll(b []byte) (int64, bool) {
	s := string(b)
	if s == "0" {
		return 0, true
	}
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || digits[0] < '1' || digits[0] > '9' {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

func TestParseInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"7", 7, true},
		{"-7", -7, true},
		{"1048576", 1048576, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"-9223372036854775808", math.MinInt64, true},
		{"9223372036854775808", 0, false},
		{"-9223372036854775809", 0, false},
		{"18446744073709551615", 0, false},
		{"99999999999999999999", 0, false},
		{"", 0, false},
		{"-", 0, false},
		{"-0", 0, false},
		{"00", 0, false},
		{"01", 0, false},
		{"+1", 0, false},
		{" 1", 0, false},
		{"1 ", 0, false},
		{"1a", 0, false},
		{"0x10", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseInt([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseInt(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
