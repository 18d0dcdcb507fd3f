package node

import (
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap"

	"github.com/vigilkv/vigil/internal/uring"
	"github.com/vigilkv/vigil/node/config"
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

// A ring that fails at a rotation, when the old incr file is flushed
// before the new one takes over: the flush is made again without the
// ring and the rotation completes in the same call, as a write does,
// instead of failing it (which refused writes with -MISCONF until the
// retry 100 ms later though the disk was fine).
func TestAOFRotationFallsBackWhenTheRingFails(t *testing.T) {
	ring, err := uring.New()
	if err != nil {
		t.Skipf("io_uring unavailable, the plain path is all there is: %v", err)
	}
	cfg := config.Default()
	cfg.Dir = t.TempDir()
	s := &Server{cfg: cfg, log: zap.NewNop()}
	if err := os.MkdirAll(s.aofDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	old, err := os.OpenFile(filepath.Join(s.aofDir(), s.incrName(1)), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	a := &s.aof
	a.s, a.file, a.rotateSeq, a.rotateAt, a.rotated = s, old, 2, 0, make(chan struct{})
	a.files = []aofFile{{name: s.incrName(1), seq: 1, typ: 'i'}}
	fl := &aofFlusher{log: zap.NewNop(), ring: ring}
	if err := a.write([]byte("*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"), false, fl); err != nil {
		t.Fatal(err)
	}
	ring.Close() // from here on every call on the ring fails
	if err := a.rotate(fl); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	defer a.file.Close()
	if fl.ring != nil {
		t.Fatal("still on the failed ring")
	}
	select {
	case <-a.rotated:
	default:
		t.Fatal("the rotation was not signalled")
	}
	if filepath.Base(a.file.Name()) != s.incrName(2) || a.rotateAt != -1 {
		t.Fatalf("writing %s, rotateAt %d; want %s, -1", a.file.Name(), a.rotateAt, s.incrName(2))
	}
	files, err := readManifest(s.manifestPath())
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].name != s.incrName(1) || files[1].name != s.incrName(2) {
		t.Fatalf("manifest lists %v, want %s then %s", files, s.incrName(1), s.incrName(2))
	}
}
