package rdb

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/vigilkv/vigil/node/keyspace"
	"github.com/vigilkv/vigil/node/types"
)

func TestCRC64Jones(t *testing.T) {
	// The check value Redis's own crc64 self-test uses.
	if got := CRC64(0, []byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("crc64(123456789) = %#x", got)
	}
	// Incremental updates agree with one pass.
	if CRC64(CRC64(0, []byte("1234")), []byte("56789")) != 0xe9c6d914c4b8d9ca {
		t.Fatalf("incremental crc differs")
	}
}

func TestLZFRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	inputs := [][]byte{
		bytes.Repeat([]byte("a"), 1000),
		[]byte("abcabcabcabcabcabcabcabcabcabcabcabc hello hello hello hello"),
		bytes.Repeat([]byte("0123456789"), 5000),
	}
	for i := 0; i < 200; i++ {
		n := r.IntN(3000) + 5
		b := make([]byte, n)
		alpha := r.IntN(20) + 1
		for j := range b {
			b[j] = byte('a' + r.IntN(alpha))
		}
		inputs = append(inputs, b)
	}
	for i, in := range inputs {
		c := lzfCompress(in, len(in)-4, &lzfScratch{})
		if c == nil {
			continue
		}
		out, err := lzfDecompress(c, len(in))
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("input %d (%d bytes): round trip failed: %v", i, len(in), err)
		}
	}
	if c := lzfCompress(bytes.Repeat([]byte("a"), 1000), 996, &lzfScratch{}); len(c) > 20 {
		t.Errorf("1000 x 'a' compressed to %d bytes", len(c))
	}
}

func TestLengthAndStringEncodings(t *testing.T) {
	cases := [][]byte{
		nil, []byte("0"), []byte("-1"), []byte("127"), []byte("-128"), []byte("128"), []byte("32767"),
		[]byte("-32769"), []byte("2147483647"), []byte("2147483648"), []byte("007"), []byte("+1"),
		[]byte("hello"), bytes.Repeat([]byte("x"), 100), bytes.Repeat([]byte("xy"), 20000),
	}
	for _, compress := range []bool{false, true} {
		e := Encoder{Compress: compress}
		for _, c := range cases {
			e.String(c)
		}
		for _, n := range []uint64{0, 63, 64, 16383, 16384, 1 << 32, 1<<32 + 1} {
			e.Len(n)
		}
		d := NewDecoder(bytes.NewReader(e.Buf), DefaultLimits())
		for _, c := range cases {
			got, err := d.String()
			if err != nil || !bytes.Equal(got, c) {
				t.Fatalf("compress=%v: string %q: got %q, %v", compress, c, got, err)
			}
		}
		for _, n := range []uint64{0, 63, 64, 16383, 16384, 1 << 32, 1<<32 + 1} {
			got, enc, err := d.Len()
			if err != nil || enc || got != n {
				t.Fatalf("len %d: got %d %v %v", n, got, enc, err)
			}
		}
	}
}

func TestDumpRoundTrip(t *testing.T) {
	l := types.NewList(-2)
	for i := 0; i < 1000; i++ {
		l.PushTailString("element-" + string(rune('a'+i%26)))
	}
	small := types.NewHash()
	small.SetString("f", "v", 128, 64)
	big := types.NewHash()
	for i := 0; i < 600; i++ {
		big.SetString("field"+string(rune('A'+i%50))+string(rune('a'+i/50)), "v", 512, 64)
	}
	smallZ := types.NewZSet()
	smallZ.Set([]byte("m"), 1.5, 128, 64)
	smallZ.Set([]byte("42"), -3, 128, 64)
	bigZ := types.NewZSet()
	for i := 0; i < 300; i++ {
		bigZ.Set([]byte("member"+string(rune('A'+i%50))+string(rune('a'+i/50))), float64(i%7)/3, 128, 64)
	}
	values := []keyspace.Value{
		keyspace.NewZSet(smallZ),
		keyspace.NewZSet(bigZ),
		keyspace.NewString("12345"),
		keyspace.NewString("a string value that is long enough to compress compress compress"),
		keyspace.NewList(l),
		keyspace.NewHash(small),
		keyspace.NewHash(big),
	}
	for i := range values {
		v := &values[i]
		p := Dump(v, true)
		got, err := Restore(p, DefaultLimits())
		if err != nil {
			t.Fatalf("value %d (%s): restore: %v", i, v.Type(), err)
		}
		if got.Type() != v.Type() || got.Len() != v.Len() || got.Encoding() != v.Encoding() {
			t.Fatalf("value %d: got %s/%d/%s, want %s/%d/%s", i, got.Type(), got.Len(), got.Encoding(), v.Type(), v.Len(), v.Encoding())
		}
		if v.Encoding() != "hashtable" && !bytes.Equal(Dump(&got, true), p) {
			t.Fatalf("value %d: re-dump differs", i)
		}
		// Any flipped byte is caught by the checksum or the decoder.
		for j := 0; j < len(p); j++ {
			bad := append([]byte(nil), p...)
			bad[j] ^= 0x55
			if _, err := Restore(bad, DefaultLimits()); err == nil {
				t.Fatalf("value %d: corrupted byte %d accepted", i, j)
			}
		}
	}
}

func TestZiplistDecoding(t *testing.T) {
	// A ziplist with "a", 5 (immediate), 300 (int16), -70000 (int24/32)
	// built by hand: header, entries, end marker.
	var b []byte
	entries := [][]byte{
		{0x00, 0x01, 'a'},
		{0x03, 0xf6},                   // imm 5
		{0x02, 0xc0, 0x2c, 0x01},       // int16 300
		{0x04, 0xf0, 0x90, 0xee, 0xfe}, // int24 -70000
	}
	body := []byte{}
	for _, e := range entries {
		body = append(body, e...)
	}
	total := 10 + len(body) + 1
	b = append(b, byte(total), 0, 0, 0, 0, 0, 0, 0, byte(len(entries)), 0)
	b = append(b, body...)
	b = append(b, 0xff)
	var got []string
	if err := walkZiplist(b, func(s []byte) { got = append(got, string(s)) }); err != nil {
		t.Fatal(err)
	}
	want := []string{"a", "5", "300", "-70000"}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}
