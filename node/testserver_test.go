package node

import (
	"bufio"
	"context"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/resp"
	"github.com/vigilkv/vigil/node/config"
)

// newTestServer starts an in-process server on a free loopback port and
// stops it when the test ends. mutate may adjust the config first.
func newTestServer(t testing.TB, mutate ...func(*config.Config)) (*Server, string) {
	t.Helper()
	cfg := config.Default()
	cfg.Port = 0
	cfg.Bind = []string{"127.0.0.1"}
	cfg.EnableDebugCommand = "yes"
	cfg.Dir = t.TempDir()
	cfg.Save = ""
	for _, m := range mutate {
		m(cfg)
	}
	s, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatalf("creating server: %v", err)
	}
	if err := s.Listen(); err != nil {
		t.Fatalf("listening: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.Serve(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("server did not stop")
		}
	})
	return s, s.Addrs()[0].String()
}

// newTestClient returns a go-redis client for addr speaking proto (2 or 3).
func newTestClient(t testing.TB, addr string, proto int) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: proto, DisableIdentity: false})
	t.Cleanup(func() { c.Close() })
	return c
}

// rawConn is a byte-level client for exact reply checks.
type rawConn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dialing %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

// Do sends args as a multibulk request and returns the raw reply bytes.
func (r *rawConn) Do(args ...string) string {
	r.t.Helper()
	r.Send(args...)
	return r.Read()
}

// Send writes a multibulk request without reading.
func (r *rawConn) Send(args ...string) {
	r.t.Helper()
	if _, err := r.c.Write(resp.AppendCommandStrings(nil, args...)); err != nil {
		r.t.Fatalf("writing: %v", err)
	}
}

// Read reads one whole reply and returns its raw bytes.
func (r *rawConn) Read() string {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	out, err := readRawReply(r.br)
	if err != nil {
		r.t.Fatalf("reading reply: %v (got %q)", err, out)
	}
	return out
}

// readRawReply reads one RESP2/3 value and returns its bytes.
func readRawReply(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return line, err
	}
	if len(line) < 3 {
		return line, nil
	}
	n := 0
	neg := false
	for i, ch := range line[1 : len(line)-2] {
		if i == 0 && ch == '-' {
			neg = true
			continue
		}
		if ch < '0' || ch > '9' {
			n = -1
			break
		}
		n = n*10 + int(ch-'0')
	}
	if neg {
		n = -1
	}
	switch line[0] {
	case '$', '=', '!':
		if n < 0 {
			return line, nil
		}
		buf := make([]byte, n+2)
		if _, err := ioReadFull(br, buf); err != nil {
			return line, err
		}
		return line + string(buf), nil
	case '*', '~', '>', '%', '|':
		if n < 0 {
			return line, nil
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		out := line
		for i := 0; i < n; i++ {
			s, err := readRawReply(br)
			out += s
			if err != nil {
				return out, err
			}
		}
		if line[0] == '|' {
			// An attribute precedes the real reply.
			s, err := readRawReply(br)
			return out + s, err
		}
		return out, nil
	}
	return line, nil
}

func ioReadFull(br *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := br.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
