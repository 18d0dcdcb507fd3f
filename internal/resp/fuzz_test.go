package resp

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzRequestReader feeds arbitrary bytes to the request parser in
// arbitrary chunkings: it must never panic, never return arguments that
// are not in the input, and always end with EOF or a protocol error.
func FuzzRequestReader(f *testing.F) {
	seeds := []string{
		"*1\r\n$4\r\nPING\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
		"PING\r\n",
		"SET \"a b\" 'c'\r\n",
		"*2\r\n$3\r\nGET\r\n$-1\r\n",
		"*1\r\n$99999999999\r\n",
		"*-5\r\n",
		"\r\n\r\n*0\r\n",
		"ECHO \"\\xzz\"\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		n := int(chunk%64) + 1
		r := NewRequestReader(&chunkReader{data: bytes.Clone(data), n: n})
		r.MaxBulkLen = 1 << 20
		r.MaxQueryBuf = 4 << 20
		total := 0
		var peek, peek2 [][]byte
		for steps := 0; steps < 100000; steps++ {
			// Reading ahead must never fail or point outside the input.
			peek, peek2 = r.PeekKeys(peek[:0], peek2[:0], 8)
			if len(peek) != len(peek2) {
				t.Fatalf("PeekKeys gave %d keys and %d second arguments", len(peek), len(peek2))
			}
			for _, k := range append(peek, peek2...) {
				if !bytes.Contains(data, k) {
					t.Fatalf("peeked key %q is not in the input", k)
				}
			}
			args, err := r.Next()
			if err == ErrIncomplete {
				if ferr := r.Fill(); ferr != nil {
					if !errors.Is(ferr, io.EOF) {
						var qe *QueryBufferLimitError
						if !errors.As(ferr, &qe) {
							t.Fatalf("unexpected fill error %v", ferr)
						}
					}
					return
				}
				continue
			}
			if err != nil {
				var pe *ProtocolError
				if !errors.As(err, &pe) {
					t.Fatalf("unexpected error type %T: %v", err, err)
				}
				return
			}
			for _, a := range args {
				total += len(a)
			}
			if total > len(data)*4+16 {
				t.Fatalf("parsed more argument bytes (%d) than plausible from %d input bytes", total, len(data))
			}
		}
	})
}

// FuzzParseInt checks parseInt against string2ll's rules on any input.
func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"0", "-1", "123", "9223372036854775808", "-0", "+5", "007"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := parseInt(b)
		want, wantOK := string2ll(b)
		if ok != wantOK || (ok && got != want) {
			t.Fatalf("parseInt(%q) = %d, %v; string2ll = %d, %v", b, got, ok, want, wantOK)
		}
	})
}
