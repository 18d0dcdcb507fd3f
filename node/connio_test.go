package node

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/vigilkv/vigil/internal/resp"
	"github.com/vigilkv/vigil/node/config"
)

func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// connIO must behave as net.Conn does: whole writes bigger than the
// socket's buffers, reads of what is there, EOF, deadlines and Close.
func TestConnIOBehavesLikeNetConn(t *testing.T) {
	t.Run("big write and reads", func(t *testing.T) {
		srv, cli := tcpPair(t)
		c := newConnIO(srv)
		if c.raw == nil {
			t.Fatal("a TCP connection got no raw access")
		}
		payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB: the write waits for room
		got := make(chan []byte)
		go func() {
			b, _ := io.ReadAll(cli)
			got <- b
		}()
		n, err := c.Write(payload)
		if err != nil || n != len(payload) {
			t.Fatalf("Write = %d, %v", n, err)
		}
		srv.(*net.TCPConn).CloseWrite()
		if b := <-got; !bytes.Equal(b, payload) {
			t.Fatalf("peer read %d bytes, want %d", len(b), len(payload))
		}
		if _, err := cli.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, err = c.Read(buf)
		if err != nil || string(buf[:n]) != "ping" {
			t.Fatalf("Read = %q, %v", buf[:n], err)
		}
		cli.Close()
		if _, err := c.Read(buf); err != io.EOF {
			t.Fatalf("Read after the peer closed = %v, want EOF", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		srv, _ := tcpPair(t)
		c := newConnIO(srv)
		srv.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		_, err := c.Read(make([]byte, 8))
		if !errors.Is(err, os.ErrDeadlineExceeded) || !isTimeout(err) {
			t.Fatalf("Read past the deadline = %v, want a timeout", err)
		}
	})
	t.Run("close while reading", func(t *testing.T) {
		srv, _ := tcpPair(t)
		c := newConnIO(srv)
		go func() {
			time.Sleep(50 * time.Millisecond)
			srv.Close()
		}()
		if _, err := c.Read(make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read on a closed connection = %v, want net.ErrClosed", err)
		}
		if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Write on a closed connection = %v, want net.ErrClosed", err)
		}
	})
	t.Run("reset by peer", func(t *testing.T) {
		srv, cli := tcpPair(t)
		c := newConnIO(srv)
		cli.(*net.TCPConn).SetLinger(0)
		cli.Close()
		time.Sleep(20 * time.Millisecond)
		_, err := c.Read(make([]byte, 8))
		var ne *net.OpError
		if !errors.As(err, &ne) {
			t.Fatalf("Read after a reset = %v, want a *net.OpError", err)
		}
	})
	t.Run("not a socket", func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		c := newConnIO(a)
		go b.Write([]byte("hi"))
		buf := make([]byte, 8)
		if n, err := c.Read(buf); err != nil || string(buf[:n]) != "hi" {
			t.Fatalf("Read = %q, %v", buf[:n], err)
		}
	})
}

// Whatever ends a client's connection (its peer, CLIENT KILL whatever the
// client is doing, the idle timeout, the server stopping) ends the
// client's goroutine promptly, and input bigger than one read all
// arrives.
func TestClientConnectionLifecycle(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(*config.Config)
		run  func(t *testing.T, s *Server, addr string, c *rawConn)
	}{
		{"peer closes", nil, func(t *testing.T, s *Server, addr string, c *rawConn) {
			c.c.Close()
			waitConns(t, s, 0)
		}},
		{"killed while idle", nil, func(t *testing.T, s *Server, addr string, c *rawConn) {
			dialRaw(t, addr).Do("CLIENT", "KILL", "ID", "1")
			expectClosed(t, c)
		}},
		{"killed while blocked", nil, func(t *testing.T, s *Server, addr string, c *rawConn) {
			c.Send("BLPOP", "nothing", "0")
			time.Sleep(50 * time.Millisecond)
			dialRaw(t, addr).Do("CLIENT", "KILL", "ID", "1")
			expectClosed(t, c)
		}},
		{"killed mid-pipeline", nil, func(t *testing.T, s *Server, addr string, c *rawConn) {
			var req []byte
			for i := 0; i < 5000; i++ {
				req = resp.AppendCommandStrings(req, "DEBUG", "SLEEP", "0.001")
			}
			c.c.Write(req)
			time.Sleep(50 * time.Millisecond)
			dialRaw(t, addr).Do("CLIENT", "KILL", "ID", "1")
			expectClosed(t, c)
		}},
		{"idle timeout", func(c *config.Config) { c.Timeout = 1 }, func(t *testing.T, s *Server, addr string, c *rawConn) {
			expectClosed(t, c)
		}},
		{"pipeline bigger than a read", nil, func(t *testing.T, s *Server, addr string, c *rawConn) {
			const n = 20000 // about 300 KB of requests: many reads' worth
			var req []byte
			for i := 0; i < n; i++ {
				req = resp.AppendCommandStrings(req, "INCR", "counter")
			}
			go c.c.Write(req)
			for i := 1; i <= n; i++ {
				if got, want := c.Read(), fmt.Sprintf(":%d\r\n", i); got != want {
					t.Fatalf("reply %d = %q, want %q", i, got, want)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mutate []func(*config.Config)
			if tc.cfg != nil {
				mutate = append(mutate, tc.cfg)
			}
			s, addr := newTestServer(t, mutate...)
			c := dialRaw(t, addr)
			if got := c.Do("PING"); got != "+PONG\r\n" {
				t.Fatalf("PING = %q", got)
			}
			tc.run(t, s, addr, c)
			// The test server's cleanup checks that it stops: every
			// client's goroutine has ended.
		})
	}
}

// expectClosed waits for the server to close c.
func expectClosed(t *testing.T, c *rawConn) {
	t.Helper()
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	// EOF, or a reset where the server left input unread.
	if _, err := io.Copy(io.Discard, c.br); isTimeout(err) {
		t.Fatalf("connection not closed by the server: %v", err)
	}
}

// waitConns waits until the server counts n connections.
func waitConns(t *testing.T, s *Server, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.numConns.Load() != n {
		if time.Now().After(deadline) {
			t.Fatalf("server counts %d connections, want %d", s.numConns.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
