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
				if err := r.Fdatasync(f.Fd()); err != nil {
					errs <- err
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
	err := r.Fdatasync(^uintptr(0) >> 33)
	if !errors.Is(err, syscall.EBADF) || errors.Is(err, ErrRing) {
		t.Fatalf("flush of a bad descriptor: %v, want EBADF", err)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := r.Fdatasync(f.Fd()); err != nil {
		t.Fatalf("flush after a failed one: %v", err)
	}
	r.Close()
	if err := r.Fdatasync(f.Fd()); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("flush on a closed ring: %v", err)
	}
}
