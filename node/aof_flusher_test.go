package node

import (
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap"

	"github.com/vigilkv/vigil/internal/uring"
)

// A ring that fails mid-run: the write in hand is made again with plain
// system calls, the file holds each chunk once, and later writes go
// without the ring.
func TestAOFWriteFallsBackWhenTheRingFails(t *testing.T) {
	ring, err := uring.New()
	if err != nil {
		t.Skipf("io_uring unavailable, the plain path is all there is: %v", err)
	}
	path := filepath.Join(t.TempDir(), "appendonly.aof.1.incr.aof")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a := &aofState{file: f}
	fl := &aofFlusher{log: zap.NewNop(), ring: ring}
	var want []byte
	for i, chunk := range []string{
		"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n1\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n2\r\n",
	} {
		if i == 1 {
			ring.Close() // from here on every call on the ring fails
		}
		if err := a.write([]byte(chunk), true, fl); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		want = append(want, chunk...)
		if i >= 1 && fl.ring != nil {
			t.Fatalf("write %d: still on the failed ring", i)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) || a.fileSize != int64(len(want)) {
		t.Fatalf("file holds %q (size kept %d), want %q", got, a.fileSize, want)
	}
}
