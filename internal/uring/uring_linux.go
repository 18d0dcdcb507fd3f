package uring

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Kernel ABI (include/uapi/linux/io_uring.h).
const (
	opFsync        = 3
	fsyncDatasync  = 1
	registerEvent  = 4
	offSQRing      = 0
	offCQRing      = 0x8000000
	offSQEs        = 0x10000000
	featSingleMmap = 1 << 0
	sqeSize        = 64
	cqeSize        = 16
	entries        = 4
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

// ErrRing marks a failure of the ring itself rather than of a flush: the
// ring is unusable from then on, and the caller should flush another way.
var ErrRing = errors.New("io_uring failed")

// Ring submits flushes one at a time; it is safe for concurrent use (calls
// queue behind each other).
type Ring struct {
	mu      sync.Mutex
	fd      int
	event   *os.File // eventfd the kernel signals on each completion
	sqRing  []byte
	cqRing  []byte // same memory as sqRing with a single mmap
	sqes    []byte
	params  params
	seq     uint64
	broken  error
	closed  bool
	scratch [8]byte
}

// New sets up a ring, or fails where io_uring is missing or forbidden (old
// kernels, seccomp profiles, kernel.io_uring_disabled): callers fall back
// to a plain fdatasync.
func New() (*Ring, error) {
	r := &Ring{fd: -1}
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, entries, uintptr(unsafe.Pointer(&r.params)), 0)
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

// Fdatasync flushes fd's data (and the metadata needed to read it back) to
// disk, blocking only the calling goroutine.
func (r *Ring) Fdatasync(fd uintptr) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return os.ErrClosed
	}
	if r.broken != nil {
		return r.broken
	}
	err := r.fdatasync(fd)
	if errors.Is(err, ErrRing) {
		r.broken = err
	}
	return err
}

func (r *Ring) fdatasync(fd uintptr) error {
	p := &r.params
	// One operation in flight at a time: the ring always has room.
	tail := atomic.LoadUint32(r.u32(r.sqRing, p.sqOff.tail))
	mask := *r.u32(r.sqRing, p.sqOff.ringMask)
	idx := tail & mask
	r.seq++
	e := (*sqe)(unsafe.Pointer(&r.sqes[idx*sqeSize]))
	*e = sqe{opcode: opFsync, fd: int32(fd), opFlags: fsyncDatasync, userData: r.seq}
	*(*uint32)(unsafe.Pointer(&r.sqRing[p.sqOff.array+idx*4])) = idx
	atomic.StoreUint32(r.u32(r.sqRing, p.sqOff.tail), tail+1)
	for {
		// Submit without waiting: the wait happens in the poller below.
		n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), 1, 0, 0, 0, 0)
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 {
			return fmt.Errorf("%w: io_uring_enter: %w", ErrRing, errno)
		}
		if n != 1 {
			return fmt.Errorf("%w: io_uring_enter submitted %d of 1", ErrRing, n)
		}
		break
	}
	for {
		if c, ok := r.reap(); ok {
			if c.userData != r.seq {
				return fmt.Errorf("%w: completion for operation %d, want %d", ErrRing, c.userData, r.seq)
			}
			if c.res < 0 {
				return syscall.Errno(-c.res)
			}
			return nil
		}
		// The eventfd counts completions since it was last read; one
		// posted before this read makes it return at once.
		if _, err := r.event.Read(r.scratch[:]); err != nil && !errors.Is(err, syscall.EAGAIN) {
			return fmt.Errorf("%w: waiting for a completion: %w", ErrRing, err)
		}
	}
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

// Close releases the ring. A Fdatasync in progress finishes first.
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
