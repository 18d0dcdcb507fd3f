package uring

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Kernel ABI (include/uapi/linux/io_uring.h).
const (
	opFsync        = 3
	opWrite        = 23
	sqeIOLink      = 1 << 2
	fsyncDatasync  = 1
	registerEvent  = 4
	offSQRing      = 0
	offCQRing      = 0x8000000
	offSQEs        = 0x10000000
	featSingleMmap = 1 << 0
	sqeSize        = 64
	cqeSize        = 16
	ringSize       = 4 // entries; a call never has more than two in flight
)

type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqringOffsets
	cqOff                                                                  cqringOffsets
}

// sqe is one submission entry, laid out as the kernel reads it.
type sqe struct {
	opcode   uint8
	flags    uint8
	ioprio   uint16
	fd       int32
	off      uint64
	addr     uint64
	len      uint32
	opFlags  uint32
	userData uint64
	_        [24]byte
}

// cqe is one completion entry.
type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// ErrRing marks a failure of the ring itself rather than of the I/O it
// carried: the ring is unusable from then on, and the caller should use
// plain system calls.
var ErrRing = errors.New("io_uring failed")

// Ring runs one call's I/O at a time (a write, a flush, or the two linked);
// it is safe for concurrent use (calls queue behind each other).
type Ring struct {
	mu        sync.Mutex
	fd        int
	event     *os.File // eventfd the kernel signals on each completion
	eventConn syscall.RawConn
	sqRing    []byte
	cqRing    []byte // same memory as sqRing with a single mmap
	sqes      []byte
	params    params
	seq       uint64
	broken    error
	closed    bool
	scratch   [8]byte
}

// New sets up a ring, or fails where io_uring is missing or forbidden (old
// kernels, seccomp profiles, kernel.io_uring_disabled): callers fall back
// to plain write and fdatasync.
func New() (*Ring, error) {
	r := &Ring{fd: -1}
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, ringSize, uintptr(unsafe.Pointer(&r.params)), 0)
	if errno != 0 {
		return nil, fmt.Errorf("io_uring_setup: %w", errno)
	}
	r.fd = int(fd)
	if err := r.mapRings(); err != nil {
		r.release()
		return nil, err
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		r.release()
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	// Non-blocking, so os.NewFile registers it with the network poller.
	r.event = os.NewFile(uintptr(efd), "io_uring-eventfd")
	if r.eventConn, err = r.event.SyscallConn(); err != nil {
		r.release()
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	fd32 := int32(efd)
	if _, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), registerEvent, uintptr(unsafe.Pointer(&fd32)), 1, 0, 0); errno != 0 {
		r.release()
		return nil, fmt.Errorf("io_uring_register eventfd: %w", errno)
	}
	return r, nil
}

func (r *Ring) mapRings() error {
	p := &r.params
	sqSize := int(p.sqOff.array) + int(p.sqEntries)*4
	cqSize := int(p.cqOff.cqes) + int(p.cqEntries)*cqeSize
	single := p.features&featSingleMmap != 0
	if single {
		sqSize = max(sqSize, cqSize)
	}
	var err error
	if r.sqRing, err = unix.Mmap(r.fd, offSQRing, sqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return fmt.Errorf("mmap io_uring submission ring: %w", err)
	}
	if single {
		r.cqRing = r.sqRing
	} else if r.cqRing, err = unix.Mmap(r.fd, offCQRing, cqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return fmt.Errorf("mmap io_uring completion ring: %w", err)
	}
	if r.sqes, err = unix.Mmap(r.fd, offSQEs, int(p.sqEntries)*sqeSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return fmt.Errorf("mmap io_uring entries: %w", err)
	}
	return nil
}

func (r *Ring) u32(ring []byte, off uint32) *uint32 {
	return (*uint32)(unsafe.Pointer(&ring[off]))
}

// WriteSync writes p at the end of fd (a file open for appending) and, if
// sync, flushes the file's data (and the metadata needed to read it back)
// to disk in the same submission, blocking only the calling goroutine;
// with p empty it only flushes. It reports how much of p was written, the
// write's error and the flush's; a failure of the ring itself (ErrRing,
// also once the ring is closed) comes in writeErr, with n telling what is
// already written.
func (r *Ring) WriteSync(fd uintptr, p []byte, sync bool) (n int, writeErr, syncErr error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.usable(); err != nil {
		return 0, err, nil
	}
	flush := sqe{opcode: opFsync, fd: int32(fd), opFlags: fsyncDatasync}
	if len(p) == 0 {
		if !sync {
			return 0, nil, nil
		}
		res, err := r.run(flush)
		if err != nil {
			return 0, err, nil
		}
		return 0, nil, errnoOf(res[0])
	}
	for n < len(p) {
		rest := p[n:]
		w := sqe{opcode: opWrite, fd: int32(fd), off: ^uint64(0), addr: uint64(uintptr(unsafe.Pointer(&rest[0]))), len: uint32(min(len(rest), 1<<30))}
		var res results
		var err error
		if sync {
			// The flush runs only once the write has completed whole; a
			// short write cancels it and the loop goes again.
			w.flags = sqeIOLink
			res, err = r.run(w, flush)
		} else {
			res, err = r.run(w)
		}
		runtime.KeepAlive(p)
		if err != nil {
			return n, err, nil
		}
		switch {
		case res[0] < 0:
			return n, errnoOf(res[0]), nil
		case res[0] == 0:
			return n, io.ErrShortWrite, nil
		}
		n += int(res[0])
		if n == len(p) && sync {
			return n, nil, errnoOf(res[1])
		}
	}
	return n, nil, nil
}

func (r *Ring) usable() error {
	if r.closed {
		return fmt.Errorf("%w: %w", ErrRing, os.ErrClosed)
	}
	return r.broken
}

func errnoOf(res int32) error {
	if res < 0 {
		return syscall.Errno(-res)
	}
	return nil
}

// results are a call's completion results, in submission order: a fixed
// array, so that a flush allocates nothing.
type results [ringSize]int32

// run submits entries (at most the ring's size) and waits for all their
// completions, returning each one's result in order. Under r.mu.
func (r *Ring) run(entries ...sqe) (results, error) {
	res, err := r.submitAndWait(entries)
	if err != nil {
		r.broken = err
	}
	return res, err
}

func (r *Ring) submitAndWait(entries []sqe) (res results, err error) {
	p := &r.params
	tail := atomic.LoadUint32(r.u32(r.sqRing, p.sqOff.tail))
	mask := *r.u32(r.sqRing, p.sqOff.ringMask)
	first := r.seq + 1
	for _, e := range entries {
		// Only this call's entries are ever in the ring: there is room.
		idx := tail & mask
		r.seq++
		e.userData = r.seq
		*(*sqe)(unsafe.Pointer(&r.sqes[idx*sqeSize])) = e
		*(*uint32)(unsafe.Pointer(&r.sqRing[p.sqOff.array+idx*4])) = idx
		tail++
	}
	atomic.StoreUint32(r.u32(r.sqRing, p.sqOff.tail), tail)
	for {
		// Submit without waiting: the wait happens in the poller below.
		// A raw system call: a buffered write the kernel can do at once
		// runs inline, briefly, and anything that would block goes to
		// its workers, so this never holds the thread for long, and the
		// runtime has no reason to hand the processor to another thread.
		n, _, errno := unix.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(len(entries)), 0, 0, 0, 0)
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 {
			return res, fmt.Errorf("%w: io_uring_enter: %w", ErrRing, errno)
		}
		if int(n) != len(entries) {
			return res, fmt.Errorf("%w: io_uring_enter submitted %d of %d", ErrRing, n, len(entries))
		}
		break
	}
	for left := len(entries); left > 0; {
		if c, ok := r.reap(); ok {
			i := int(c.userData - first)
			if c.userData < first || i >= len(entries) {
				return res, fmt.Errorf("%w: completion for operation %d, want %d to %d", ErrRing, c.userData, first, r.seq)
			}
			res[i] = c.res
			left--
			continue
		}
		if err := r.waitEvent(); err != nil {
			return res, fmt.Errorf("%w: waiting for a completion: %w", ErrRing, err)
		}
	}
	return res, nil
}

// waitEvent waits for the kernel to signal a completion. The eventfd
// counts completions since it was last read, so one posted before this
// read makes it return at once. The read is a raw system call, waiting in
// the poller: a plain one wakes the runtime's monitor thread out of its
// deep sleep, which then polls every 20 µs for a millisecond, on every
// fsync.
func (r *Ring) waitEvent() error {
	var errno syscall.Errno
	err := r.eventConn.Read(func(fd uintptr) bool {
		_, _, errno = unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&r.scratch[0])), uintptr(len(r.scratch)))
		return errno != syscall.EAGAIN
	})
	if err != nil {
		return err
	}
	if errno != 0 && errno != syscall.EINTR {
		return errno
	}
	return nil
}

// reap takes one completion if there is one.
func (r *Ring) reap() (cqe, bool) {
	p := &r.params
	headp := r.u32(r.cqRing, p.cqOff.head)
	head := atomic.LoadUint32(headp)
	if head == atomic.LoadUint32(r.u32(r.cqRing, p.cqOff.tail)) {
		return cqe{}, false
	}
	mask := *r.u32(r.cqRing, p.cqOff.ringMask)
	c := *(*cqe)(unsafe.Pointer(&r.cqRing[p.cqOff.cqes+(head&mask)*cqeSize]))
	atomic.StoreUint32(headp, head+1)
	return c, true
}

// Close releases the ring. A call in progress finishes first.
func (r *Ring) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	r.release()
	return nil
}

func (r *Ring) release() {
	if r.event != nil {
		r.event.Close()
	}
	if r.sqes != nil {
		unix.Munmap(r.sqes)
	}
	if r.cqRing != nil && (r.sqRing == nil || &r.cqRing[0] != &r.sqRing[0]) {
		unix.Munmap(r.cqRing)
	}
	if r.sqRing != nil {
		unix.Munmap(r.sqRing)
	}
	r.sqes, r.cqRing, r.sqRing = nil, nil, nil
	if r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
}
