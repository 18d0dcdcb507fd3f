// Package handoff is the control channel between a running vigil-server
// and the new binary taking over from it: framed JSON messages over a unix
// socket pair, each able to carry file descriptors (SCM_RIGHTS).
package handoff

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// EnvFD names the environment variable that tells a starting process
// which inherited descriptor is its end of the control channel.
const EnvFD = "VIGIL_UPGRADE_FD"

// MaxFDs is how many descriptors one message may carry (the kernel's
// SCM_MAX_FD is 253).
const MaxFDs = 250

// maxFrame bounds a message, so a confused peer cannot make us allocate
// without limit.
const maxFrame = 1 << 30

// Conn is one end of the control channel.
type Conn struct {
	uc *net.UnixConn
	// fds received but not yet claimed by a message: the kernel may
	// deliver a frame's descriptors with any of its reads.
	pending []int
}

// Pair creates a connected socket pair: one end as a Conn for this
// process, the other as a file to hand to the child (close-on-exec off
// only in the child, through exec.Cmd.ExtraFiles).
func Pair() (*Conn, *os.File, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the upgrade socket pair: %w", err)
	}
	mine := os.NewFile(uintptr(fds[0]), "upgrade-control")
	theirs := os.NewFile(uintptr(fds[1]), "upgrade-control-child")
	c, err := FromFile(mine)
	if err != nil {
		theirs.Close()
		return nil, nil, err
	}
	return c, theirs, nil
}

// FromFile wraps an inherited socket; f is closed (the Conn holds a dup).
func FromFile(f *os.File) (*Conn, error) {
	defer f.Close()
	nc, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("using %s as the upgrade channel: %w", f.Name(), err)
	}
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		nc.Close()
		return nil, fmt.Errorf("%s is not a unix socket", f.Name())
	}
	return &Conn{uc: uc}, nil
}

// Close closes the channel.
func (c *Conn) Close() error { return c.uc.Close() }

// SetDeadline bounds the next sends and receives.
func (c *Conn) SetDeadline(t time.Time) error { return c.uc.SetDeadline(t) }

// Send writes v as one message with fds attached (the caller keeps its
// own copies and closes them when it likes).
func (c *Conn) Send(v any, fds ...int) error {
	if len(fds) > MaxFDs {
		return fmt.Errorf("%d descriptors in one message (at most %d)", len(fds), MaxFDs)
	}
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding a handoff message: %w", err)
	}
	frame := make([]byte, 8+len(body))
	binary.BigEndian.PutUint32(frame, uint32(len(body)))
	binary.BigEndian.PutUint32(frame[4:], uint32(len(fds)))
	copy(frame[8:], body)
	var oob []byte
	if len(fds) > 0 {
		oob = syscall.UnixRights(fds...)
	}
	n, oobn, err := c.uc.WriteMsgUnix(frame, oob, nil)
	if err != nil {
		return fmt.Errorf("sending a handoff message: %w", err)
	}
	if oobn != len(oob) {
		return errors.New("sending a handoff message: descriptors not sent")
	}
	if n < len(frame) {
		if _, err := c.uc.Write(frame[n:]); err != nil {
			return fmt.Errorf("sending a handoff message: %w", err)
		}
	}
	return nil
}

// Recv reads the next message into v and returns the descriptors it
// carried (the caller owns them).
func (c *Conn) Recv(v any) ([]int, error) {
	head := make([]byte, 8)
	if err := c.readFull(head); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(head)
	nfds := int(binary.BigEndian.Uint32(head[4:]))
	if size > maxFrame || nfds > MaxFDs {
		return nil, fmt.Errorf("bad handoff frame: %d bytes, %d descriptors", size, nfds)
	}
	body := make([]byte, size)
	if err := c.readFull(body); err != nil {
		return nil, err
	}
	if len(c.pending) < nfds {
		return nil, fmt.Errorf("handoff message announced %d descriptors, %d arrived", nfds, len(c.pending))
	}
	fds := c.pending[:nfds:nfds]
	c.pending = c.pending[nfds:]
	if err := json.Unmarshal(body, v); err != nil {
		for _, fd := range fds {
			syscall.Close(fd)
		}
		return nil, fmt.Errorf("decoding a handoff message: %w", err)
	}
	return fds, nil
}

func (c *Conn) readFull(p []byte) error {
	oob := make([]byte, syscall.CmsgSpace(MaxFDs*4))
	for len(p) > 0 {
		n, oobn, _, _, err := c.uc.ReadMsgUnix(p, oob)
		if oobn > 0 {
			msgs, perr := syscall.ParseSocketControlMessage(oob[:oobn])
			if perr != nil {
				return fmt.Errorf("reading handoff descriptors: %w", perr)
			}
			for _, m := range msgs {
				fds, perr := syscall.ParseUnixRights(&m)
				if perr != nil {
					return fmt.Errorf("reading handoff descriptors: %w", perr)
				}
				for _, fd := range fds {
					syscall.CloseOnExec(fd)
				}
				c.pending = append(c.pending, fds...)
			}
		}
		p = p[n:]
		if err != nil {
			return fmt.Errorf("reading a handoff message: %w", err)
		}
		if n == 0 && oobn == 0 {
			return errors.New("reading a handoff message: connection closed")
		}
	}
	return nil
}
