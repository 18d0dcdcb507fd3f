//go:build linux

package uring

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"unsafe"
)

func TestLayoutMatchesKernel(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"io_uring_sqe", unsafe.Sizeof(sqe{}), 64},
		{"io_uring_cqe", unsafe.Sizeof(cqe{}), 16},
		{"io_uring_params", unsafe.Sizeof(params{}), 120},
	} {
		if c.got != c.want {
			t.Errorf("%s is %d bytes, the kernel's is %d", c.name, c.got, c.want)
		}
	}
}

func newRing(t *testing.T) *Ring {
	t.Helper()
	r, err := New()
	if err != nil {
		// A machine without io_uring flushes the plain way; nothing here
		// to test.
		t.Skipf("io_uring unavailable: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestFdatasync(t *testing.T) {
	r := newRing(t)
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 8*50)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if _, err := f.Write([]byte("some data\n")); err != nil {
					errs <- err
					return
				}
				if _, werr, serr := r.WriteSync(f.Fd(), nil, true); werr != nil || serr != nil {
					errs <- errors.Join(werr, serr)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestFdatasyncErrors(t *testing.T) {
	r := newRing(t)
	// A flush that fails reports the kernel's error and leaves the ring
	// usable.
	_, werr, err := r.WriteSync(^uintptr(0)>>33, nil, true)
	if werr != nil || !errors.Is(err, syscall.EBADF) || errors.Is(err, ErrRing) {
		t.Fatalf("flush of a bad descriptor: %v, want EBADF", err)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, werr, serr := r.WriteSync(f.Fd(), nil, true); werr != nil || serr != nil {
		t.Fatalf("flush after a failed one: %v, %v", werr, serr)
	}
	r.Close()
	if _, err, _ := r.WriteSync(f.Fd(), nil, true); !errors.Is(err, os.ErrClosed) || !errors.Is(err, ErrRing) {
		t.Fatalf("flush on a closed ring: %v, want ErrRing and os.ErrClosed", err)
	}
}

func TestWriteSync(t *testing.T) {
	r := newRing(t)
	path := filepath.Join(t.TempDir(), "f")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want []byte
	for i, c := range []struct {
		data string
		sync bool
	}{
		{"first,", true},
		{"second,", false},
		{string(make([]byte, 300_000)), true}, // many pages in one write
		{"last", true},
	} {
		n, werr, serr := r.WriteSync(f.Fd(), []byte(c.data), c.sync)
		if n != len(c.data) || werr != nil || serr != nil {
			t.Fatalf("write %d: %d of %d bytes, write error %v, sync error %v", i, n, len(c.data), werr, serr)
		}
		want = append(want, c.data...)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("file holds %d bytes, want %d in order", len(got), len(want))
	}

	// A descriptor not open for writing: the write's error, and the
	// ring stays usable.
	ro, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if n, werr, serr := r.WriteSync(ro.Fd(), []byte("x"), true); n != 0 || !errors.Is(werr, syscall.EBADF) || serr != nil {
		t.Fatalf("write to a read-only file: %d, %v, %v", n, werr, serr)
	}
	// A flush that fails after a good write: a pipe cannot be fsynced.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if n, werr, serr := r.WriteSync(pw.Fd(), []byte("x"), true); n != 1 || werr != nil || !errors.Is(serr, syscall.EINVAL) {
		t.Fatalf("write and flush of a pipe: %d, %v, %v; want 1 byte and EINVAL", n, werr, serr)
	}
	if _, werr, serr := r.WriteSync(f.Fd(), []byte("!"), true); werr != nil || serr != nil {
		t.Fatalf("ring unusable after failed operations: %v, %v", werr, serr)
	}
}
