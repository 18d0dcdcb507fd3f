package testutil

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/vigilkv/vigil/internal/resp"
)

// DefaultRawTimeout bounds each read and write on a RawConn.
const DefaultRawTimeout = 5 * time.Second

// RawConn is a byte-level RESP connection for tests that check replies
// exactly: commands go out as RESP arrays of bulk strings, replies come
// back as the raw bytes the server sent (and parsed, when wanted). The
// Try methods return errors; the others fail the test, so they must be
// called from the test's goroutine.
type RawConn struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
	// Timeout bounds each read and write; zero means DefaultRawTimeout.
	Timeout time.Duration
}

// DialRaw connects to addr; the connection is closed when the test ends.
func DialRaw(t testing.TB, addr string) *RawConn {
	t.Helper()
	c, err := TryDialRaw(t, addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TryDialRaw is DialRaw returning the error instead of failing the test.
func TryDialRaw(t testing.TB, addr string) (*RawConn, error) {
	conn, err := net.DialTimeout("tcp", addr, DefaultRawTimeout)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	c := &RawConn{t: t, conn: conn, br: bufio.NewReader(conn)}
	t.Cleanup(func() { conn.Close() })
	return c, nil
}

func (c *RawConn) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultRawTimeout
}

// TryWrite sends bytes as they are (inline commands, malformed input,
// pipelines).
func (c *RawConn) TryWrite(b []byte) error {
	c.conn.SetWriteDeadline(time.Now().Add(c.timeout()))
	if _, err := c.conn.Write(b); err != nil {
		return fmt.Errorf("writing to %s: %w", c.conn.RemoteAddr(), err)
	}
	return nil
}

// TrySend sends one command as a RESP array without reading the reply.
func (c *RawConn) TrySend(args ...string) error {
	return c.TryWrite(resp.AppendCommandStrings(nil, args...))
}

// TryRead reads one reply, returning it parsed and as raw bytes.
func (c *RawConn) TryRead() (resp.Value, []byte, error) {
	c.conn.SetReadDeadline(time.Now().Add(c.timeout()))
	v, raw, err := resp.ReadReply(c.br)
	if err != nil {
		return v, raw, fmt.Errorf("reading reply from %s: %w", c.conn.RemoteAddr(), err)
	}
	return v, raw, nil
}

// Write sends raw bytes.
func (c *RawConn) Write(b []byte) {
	c.t.Helper()
	if err := c.TryWrite(b); err != nil {
		c.t.Fatal(err)
	}
}

// Send sends one command without reading its reply (for pipelines and
// blocking commands).
func (c *RawConn) Send(args ...string) {
	c.t.Helper()
	if err := c.TrySend(args...); err != nil {
		c.t.Fatal(err)
	}
}

// Read reads one reply and returns its raw bytes.
func (c *RawConn) Read() []byte {
	c.t.Helper()
	_, raw, err := c.TryRead()
	if err != nil {
		c.t.Fatal(err)
	}
	return raw
}

// ReadValue reads one reply and returns it parsed.
func (c *RawConn) ReadValue() resp.Value {
	c.t.Helper()
	v, _, err := c.TryRead()
	if err != nil {
		c.t.Fatal(err)
	}
	return v
}

// Do sends a command and returns the raw bytes of its reply.
func (c *RawConn) Do(args ...string) []byte {
	c.t.Helper()
	c.Send(args...)
	return c.Read()
}

// DoValue sends a command and returns its reply parsed.
func (c *RawConn) DoValue(args ...string) resp.Value {
	c.t.Helper()
	c.Send(args...)
	return c.ReadValue()
}

// Expect sends a command and checks that the reply is exactly want
// ("+OK\r\n"), reporting both quoted if not.
func (c *RawConn) Expect(want string, args ...string) {
	c.t.Helper()
	if got := c.Do(args...); string(got) != want {
		c.t.Errorf("%q: reply %q, want %q", args, got, want)
	}
}

// ExpectClosed checks that the server closes the connection (after any
// replies still unread) within the timeout.
func (c *RawConn) ExpectClosed() {
	c.t.Helper()
	for {
		_, _, err := c.TryRead()
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Errorf("connection to %s still open after %v", c.conn.RemoteAddr(), c.timeout())
		}
		return
	}
}

// Close closes the connection.
func (c *RawConn) Close() error { return c.conn.Close() }

// Conn is the underlying connection.
func (c *RawConn) Conn() net.Conn { return c.conn }
