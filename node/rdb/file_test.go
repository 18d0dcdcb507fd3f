package rdb

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/vigilkv/vigil/node/keyspace"
	"github.com/vigilkv/vigil/node/types"
)

// sampleFile builds an RDB file holding every type and encoding.
func sampleFile(t testing.TB, checksum bool) []byte {
	t.Helper()
	var out bytes.Buffer
	fw := NewWriter(&out, checksum)
	e := Encoder{Compress: true}
	e.Header()
	e.Aux("redis-ver", "7.0.15")
	e.AuxInt("ctime", 1700000000)
	e.SelectDB(0)
	e.ResizeDB(6, 1)
	str := keyspace.NewString(strings.Repeat("compress me ", 10))
	e.KeyValue("s", &str, 1800000000000)
	num := keyspace.NewString("12345")
	e.KeyValue("n", &num, -1)
	l := types.NewList(-2)
	for i := 0; i < 300; i++ {
		l.PushTailString(fmt.Sprint("e", i))
	}
	lv := keyspace.NewList(l)
	e.KeyValue("l", &lv, -1)
	h := types.NewHash()
	h.SetString("f", "v", 128, 64)
	hv := keyspace.NewHash(h)
	e.KeyValue("h", &hv, -1)
	st := types.NewSet()
	st.Add([]byte("7"), 512)
	st.Add([]byte("70000"), 512)
	sv := keyspace.NewSet(st)
	e.KeyValue("is", &sv, -1)
	z := types.NewZSetFor(1, 1, 0, 64)
	for i := 0; i < 20; i++ {
		z.Set([]byte(fmt.Sprint("m", i)), float64(i)/3, 0, 64)
	}
	zv := keyspace.NewZSet(z)
	e.SelectDB(3)
	e.KeyValue("z", &zv, -1)
	fw.Write(e.Buf)
	if err := fw.Finish(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func loadAll(data []byte) (int, error) {
	n := 0
	l := Loader{Limits: DefaultLimits(), Databases: 16}
	err := l.Load(bytes.NewReader(data), func(db int, key []byte, v keyspace.Value, expireMs int64) error {
		n++
		return nil
	})
	return n, err
}

func TestLoadSampleFile(t *testing.T) {
	for _, checksum := range []bool{true, false} {
		n, err := loadAll(sampleFile(t, checksum))
		if err != nil || n != 6 {
			t.Fatalf("checksum=%v: loaded %d keys, err %v", checksum, n, err)
		}
	}
}

// TestCorruptFilesAreRefused: every flipped byte and every truncation of
// a checksummed file is an error naming an offset, never a panic or a
// silently partial load.
func TestCorruptFilesAreRefused(t *testing.T) {
	good := sampleFile(t, true)
	for i := range good {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(good)
			bad[i] ^= mask
			if _, err := loadAll(bad); err == nil {
				t.Fatalf("byte %d ^ %#x: corrupt file accepted", i, mask)
			} else if !strings.Contains(err.Error(), "offset") {
				t.Fatalf("byte %d: error does not name the offset: %v", i, err)
			}
		}
	}
	for n := 0; n < len(good); n++ {
		if _, err := loadAll(good[:n]); err == nil {
			t.Fatalf("file truncated to %d bytes accepted", n)
		}
	}
	wrong := bytes.Clone(good)
	wrong[len(wrong)-1] ^= 1
	if _, err := loadAll(wrong); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("wrong checksum: %v", err)
	}
	// An unknown value type.
	unknown := append([]byte("REDIS0010"), 0x63, 1, 'k', 0xff, 0, 0, 0, 0, 0, 0, 0, 0)
	if _, err := loadAll(unknown); err == nil {
		t.Fatal("unknown type accepted")
	}
	// A version from the future.
	if _, err := loadAll(append([]byte("REDIS0011"), 0xff)); err == nil || !strings.Contains(err.Error(), "version") {
		t.Fatalf("RDB version 11: %v", err)
	}
}

// TestCorruptUnchecksummedFilesDoNotPanic: without a checksum flipped
// bytes may decode to other data, but must never crash the loader.
func TestCorruptUnchecksummedFilesDoNotPanic(t *testing.T) {
	good := sampleFile(t, false)
	for i := range good {
		bad := bytes.Clone(good)
		bad[i] ^= 0x5a
		loadAll(bad)
	}
}

func FuzzLoadRDB(f *testing.F) {
	f.Add(sampleFile(f, true))
	f.Add(sampleFile(f, false))
	f.Add([]byte("REDIS0010\xff\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		loadAll(data)
	})
}
