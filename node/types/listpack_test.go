package types

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Golden listpacks were taken from redis-server 7.0.15 with
// `CONFIG SET rdbcompression no` and DUMP of listpack-encoded hashes.
const goldenInts = "2f010000200000017f01c08002dfff02d00002cfff02f1001003f1ffef03f1ff7f03f1008003f200800004f2ff7fff04f2ffff7f04f200008004f30000800005f3ffff7fff05f3ffffff7f05f30000008005f4000000800000000009f4ffffff7fffffffff09f4ffffffffffffff7f09f400000000000000800993393232333337323033363835343737353830381482303103822b3103822d300380018161028373363304bf787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878408373363404e0407979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797942ff"

var goldenIntsEntries = []string{"0", "127", "128", "-1", "-4096", "4095", "4096", "-4097", "32767", "-32768",
	"32768", "-32769", "8388607", "-8388608", "8388608", "-8388609", "2147483647", "-2147483648",
	"2147483648", "-2147483649", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
	"01", "+1", "-0", "", "a", "s63", strings.Repeat("x", 63), "s64", strings.Repeat("y", 64)}

func TestListpackGoldenBytes(t *testing.T) {
	lp := NewListpack()
	for _, e := range goldenIntsEntries {
		lp.AppendString(e)
	}
	if got := hex.EncodeToString(lp.Bytes()); got != goldenInts {
		t.Fatalf("bytes differ from Redis:\n got %s\nwant %s", got, goldenInts)
	}
	if !slices.Equal(lp.Strings(), goldenIntsEntries) {
		t.Fatalf("decoded %q", lp.Strings())
	}

	// 12-bit and 32-bit string encodings and multi-byte backlens.
	big := NewListpack()
	for _, e := range []string{"s4095", strings.Repeat("z", 4095), "s4096", strings.Repeat("w", 4096),
		"s200", strings.Repeat("v", 200)} {
		big.AppendString(e)
	}
	sum := sha256.Sum256(big.Bytes())
	if got := hex.EncodeToString(sum[:]); got != "1b8651c3ff136525edf269a89b64146c956e1f9fa8a64a6253ff21eafaa826a2" || big.Size() != 8433 {
		t.Fatalf("large-string listpack differs from Redis: size %d sha %s", big.Size(), got)
	}
}

func TestListpackFromRedisBytes(t *testing.T) {
	raw, _ := hex.DecodeString(goldenInts)
	lp, err := ListpackFromBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	if lp.Len() != len(goldenIntsEntries) || !slices.Equal(lp.Strings(), goldenIntsEntries) {
		t.Fatalf("got %q", lp.Strings())
	}
	// Walking backwards gives the same entries reversed.
	var back []string
	for p := lp.Last(); p >= 0; p = lp.Prev(p) {
		back = append(back, lp.GetString(p))
	}
	slices.Reverse(back)
	if !slices.Equal(back, goldenIntsEntries) {
		t.Fatalf("backwards %q", back)
	}
	// Appending to an adopted listpack must not write into the caller's
	// array beyond its length.
	lp.AppendString("more")
	if hex.EncodeToString(raw) != goldenInts {
		t.Fatal("adopted slice modified")
	}
}

func TestListpackGetInt(t *testing.T) {
	for _, tc := range []struct {
		in    string
		isInt bool
		v     int64
	}{
		{"0", true, 0}, {"-1", true, -1}, {"-4096", true, -4096}, {"4095", true, 4095},
		{"-8388608", true, -8388608}, {"-9223372036854775808", true, -9223372036854775808},
		{"9223372036854775807", true, 9223372036854775807}, {"9223372036854775808", false, 0},
		{"-", false, 0}, {"00", false, 0}, {"1a", false, 0}, {" 1", false, 0}, {"1.0", false, 0},
	} {
		lp := NewListpack()
		lp.AppendString(tc.in)
		s, v, isInt := lp.Get(lp.First())
		if isInt != tc.isInt || (isInt && v != tc.v) || (!isInt && string(s) != tc.in) {
			t.Errorf("%q: got %q %d %v", tc.in, s, v, isInt)
		}
		if !lp.Equal(lp.First(), []byte(tc.in)) {
			t.Errorf("%q: Equal false", tc.in)
		}
		var buf [ListpackMaxIntLen]byte
		if got := string(lp.GetBytes(lp.First(), buf[:0])); got != tc.in {
			t.Errorf("%q: GetBytes %q", tc.in, got)
		}
	}
}

func TestListpackEditing(t *testing.T) {
	lp := NewListpack()
	lp.AppendString("b")
	lp.PrependString("a")
	lp.AppendInt(300)
	p := lp.Seek(1)
	p = lp.InsertAfter(p, []byte("c"))
	lp.InsertBefore(p, []byte("bb"))
	if got := strings.Join(lp.Strings(), ","); got != "a,b,bb,c,300" {
		t.Fatalf("got %s", got)
	}
	lp.Replace(lp.Seek(-1), []byte(strings.Repeat("q", 200)))
	lp.Replace(lp.Seek(0), []byte("12"))
	lp.ReplaceInt(lp.Seek(1), -70000)
	if got := strings.Join(lp.Strings(), ","); got != "12,-70000,bb,c,"+strings.Repeat("q", 200) {
		t.Fatalf("got %s", got)
	}
	if p := lp.Find(lp.First(), []byte("c"), 0); p != lp.Seek(3) {
		t.Fatalf("find c: %d", p)
	}
	if p := lp.Find(lp.First(), []byte("c"), 1); p != -1 {
		t.Fatalf("find c skipping odd entries: %d", p)
	}
	if p := lp.Find(lp.First(), []byte("-70000"), 0); p != lp.Seek(1) {
		t.Fatalf("find int: %d", p)
	}
	next := lp.Delete(lp.Seek(1))
	if next != lp.Seek(1) || lp.GetString(next) != "bb" {
		t.Fatalf("delete returned %d", next)
	}
	if lp.Delete(lp.Seek(-1)) != -1 {
		t.Fatal("deleting the last entry should return -1")
	}
	lp.DeleteRange(lp.First(), 10)
	if lp.Len() != 0 || lp.Size() != 7 || lp.First() != -1 || lp.Last() != -1 {
		t.Fatalf("not empty: %d %d", lp.Len(), lp.Size())
	}
	if err := ValidateListpack(lp.Bytes()); err != nil {
		t.Fatal(err)
	}
}

func TestListpackCountOver65535(t *testing.T) {
	lp := NewListpack()
	for i := 0; i < 70000; i++ {
		lp.AppendInt(int64(i % 100))
	}
	if h := binary.LittleEndian.Uint16(lp.Bytes()[4:]); h != 65535 {
		t.Fatalf("header count %d", h)
	}
	cp, err := ListpackFromBytes(slices.Clone(lp.Bytes()))
	if err != nil || cp.Len() != 70000 {
		t.Fatalf("reload: %v %d", err, cp.Len())
	}
	lp.DeleteIndexRange(0, 10000)
	if h := binary.LittleEndian.Uint16(lp.Bytes()[4:]); h != 60000 || lp.Len() != 60000 {
		t.Fatalf("header count %d len %d", h, lp.Len())
	}
}

func TestValidateListpackRejects(t *testing.T) {
	good, _ := hex.DecodeString(goldenInts)
	mut := func(f func(b []byte) []byte) []byte { return f(slices.Clone(good)) }
	cases := map[string][]byte{
		"empty":           nil,
		"short":           {7, 0, 0, 0, 0},
		"total mismatch":  mut(func(b []byte) []byte { b[0]++; return b }),
		"no terminator":   mut(func(b []byte) []byte { b[len(b)-1] = 0; return b }),
		"count mismatch":  mut(func(b []byte) []byte { b[4]++; return b }),
		"bad encoding":    mut(func(b []byte) []byte { b[6] = 0xF7; return b }),
		"bad backlen":     mut(func(b []byte) []byte { b[7] = 5; return b }),
		"string overruns": mut(func(b []byte) []byte { b[len(b)-68] = 0xE0 | 0x0F; return b }),
		"early eof":       {8, 0, 0, 0, 0, 0, 0xFF, 0xFF},
		"truncated 32bit": {11, 0, 0, 0, 1, 0, 0xF0, 0xFF, 0xFF, 0xFF, 0xFF},
	}
	for name, b := range cases {
		if err := ValidateListpack(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := ValidateListpack(good); err != nil {
		t.Fatal(err)
	}
	// The unknown-count marker is accepted whatever the count.
	unknown := mut(func(b []byte) []byte { b[4], b[5] = 0xFF, 0xFF; return b })
	if lp, err := ListpackFromBytes(unknown); err != nil || lp.Len() != len(goldenIntsEntries) {
		t.Fatalf("unknown count: %v", err)
	}
}

// TestListpackModel applies random edits to a listpack and to a plain
// slice and checks they agree, including the byte image and reloads.
func TestListpackModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	gen := func() string {
		switch r.IntN(6) {
		case 0:
			return strconv.FormatInt(r.Int64N(300)-150, 10)
		case 1:
			return strconv.FormatInt(int64(r.Uint64()), 10)
		case 2:
			return strings.Repeat("x", r.IntN(5000))
		case 3:
			return "0" + strconv.Itoa(r.IntN(10))
		default:
			return strings.Repeat(string(rune('a'+r.IntN(26))), r.IntN(70))
		}
	}
	for round := 0; round < 50; round++ {
		lp := NewListpack()
		var model []string
		for op := 0; op < 300; op++ {
			switch k := r.IntN(8); {
			case k == 0:
				s := gen()
				lp.AppendString(s)
				model = append(model, s)
			case k == 1:
				s := gen()
				lp.PrependString(s)
				model = slices.Insert(model, 0, s)
			case k == 2 && len(model) > 0:
				i := r.IntN(len(model))
				s := gen()
				lp.InsertBefore(lp.Seek(i), []byte(s))
				model = slices.Insert(model, i, s)
			case k == 3 && len(model) > 0:
				i := r.IntN(len(model))
				s := gen()
				lp.InsertAfter(lp.Seek(i-len(model)), []byte(s))
				model = slices.Insert(model, i+1, s)
			case k == 4 && len(model) > 0:
				i := r.IntN(len(model))
				lp.Delete(lp.Seek(i))
				model = slices.Delete(model, i, i+1)
			case k == 5 && len(model) > 0:
				i := r.IntN(len(model))
				s := gen()
				lp.Replace(lp.Seek(i), []byte(s))
				model[i] = s
			case k == 6 && len(model) > 0:
				i := r.IntN(len(model))
				n := r.IntN(4)
				lp.DeleteIndexRange(i, n)
				model = slices.Delete(model, i, min(i+n, len(model)))
			case k == 7 && len(model) > 0:
				i := r.IntN(len(model))
				if p := lp.Find(lp.First(), []byte(model[i]), 0); p != lp.Seek(slices.Index(model, model[i])) {
					t.Fatalf("find %q", model[i])
				}
			}
			if lp.Len() != len(model) {
				t.Fatalf("len %d model %d", lp.Len(), len(model))
			}
		}
		if !slices.Equal(lp.Strings(), model) {
			t.Fatalf("round %d: contents differ", round)
		}
		if err := ValidateListpack(lp.Bytes()); err != nil {
			t.Fatal(err)
		}
		// The same entries appended to a fresh listpack give the same bytes.
		fresh := NewListpack()
		for _, s := range model {
			fresh.AppendString(s)
		}
		if !bytes.Equal(fresh.Bytes(), lp.Bytes()) {
			t.Fatalf("round %d: edited image differs from a fresh one", round)
		}
	}
}

func FuzzListpackValidate(f *testing.F) {
	good, _ := hex.DecodeString(goldenInts)
	f.Add(good)
	f.Add([]byte{7, 0, 0, 0, 0, 0, 0xFF})
	f.Add([]byte{10, 0, 0, 0, 1, 0, 0x81, 'a', 2, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		lp, err := ListpackFromBytes(b)
		if err != nil {
			return
		}
		// Whatever was accepted must be safe to walk both ways and edit.
		n := 0
		for p := lp.First(); p >= 0; p = lp.Next(p) {
			lp.GetString(p)
			n++
		}
		m := 0
		for p := lp.Last(); p >= 0; p = lp.Prev(p) {
			m++
		}
		if n != lp.Len() || m != n {
			t.Fatalf("walked %d/%d entries, Len %d", n, m, lp.Len())
		}
		cp := lp.Clone()
		cp.AppendString("x")
		if cp.Len() > 1 {
			cp.Delete(cp.First())
		}
		if err := ValidateListpack(cp.Bytes()); err != nil {
			t.Fatalf("edited listpack invalid: %v", err)
		}
	})
}
