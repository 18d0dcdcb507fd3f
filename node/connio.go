package node

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// connIO reads and writes a client's socket with system calls the Go
// scheduler is not told about. A socket here is non-blocking, so a read or
// write returns at once (EAGAIN when it would block, and then we wait on
// the poller as net.Conn does). Told about a system call, the scheduler
// hands the call's processor to another thread when the call outlasts a
// monitor tick; on loopback a write that wakes the peer often does, and
// with io-threads 1 each hand-off costs two thread switches and leaves
// clients' replies waiting: about a fifth of the serving ran on a second
// thread, and the tail latency of `-P 1` was twice Redis's.
type connIO struct {
	conn net.Conn
	raw  syscall.RawConn // nil: not a socket, plain net.Conn calls

	// The callbacks' arguments and results; fields rather than captured
	// variables so each callback is built once per connection.
	rp, wp     []byte
	rn         int
	rerr, werr error
	readFn     func(fd uintptr) bool
	writeFn    func(fd uintptr) bool
}

func newConnIO(conn net.Conn) *connIO {
	c := &connIO{conn: conn}
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
		}
	}
	c.readFn = c.readOnce
	c.writeFn = c.writeAll
	return c
}

func (c *connIO) readOnce(fd uintptr) bool {
	for {
		n, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(c.rp))), uintptr(len(c.rp)))
		switch errno {
		case 0:
			c.rn = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			c.rerr = os.NewSyscallError("read", errno)
			return true
		}
	}
}

func (c *connIO) writeAll(fd uintptr) bool {
	for len(c.wp) > 0 {
		n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(c.wp))), uintptr(len(c.wp)))
		switch errno {
		case 0:
			c.wp = c.wp[n:]
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.werr = os.NewSyscallError("write", errno)
			return true
		}
	}
	return true
}

// Read reads what is available into p, waiting for some if there is none.
func (c *connIO) Read(p []byte) (int, error) {
	if c.raw == nil || len(p) == 0 {
		return c.conn.Read(p)
	}
	c.rp, c.rn, c.rerr = p, 0, nil
	err := c.raw.Read(c.readFn)
	c.rp = nil
	switch {
	case err != nil:
		// A deadline or a closed connection, as conn.Read reports them.
		return 0, err
	case c.rerr != nil:
		return 0, c.opError("read", c.rerr)
	case c.rn == 0:
		return 0, io.EOF
	}
	return c.rn, nil
}

// Write writes all of p, waiting for room as it needs.
func (c *connIO) Write(p []byte) (int, error) {
	if c.raw == nil || len(p) == 0 {
		return c.conn.Write(p)
	}
	c.wp, c.werr = p, nil
	err := c.raw.Write(c.writeFn)
	n := len(p) - len(c.wp)
	c.wp = nil
	if err == nil && c.werr != nil {
		err = c.opError("write", c.werr)
	}
	return n, err
}

// opError wraps a system call's error as net.Conn's methods do.
func (c *connIO) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: c.conn.LocalAddr().Network(), Source: c.conn.LocalAddr(), Addr: c.conn.RemoteAddr(), Err: err}
}
