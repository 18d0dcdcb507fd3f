package sentinel

import (
	"io"
	"net"
	"testing"
	"time"
)

// panicConn is a client connection whose writes panic: a bug in a reply
// path, made to order.
type panicConn struct{ net.Conn }

func (panicConn) Write([]byte) (int, error) { panic("a bug in a reply") }

// TestCommandPanicClosesOnlyItsConnection: a panic while serving a
// connection closes that connection; the process, its lock and its other
// clients carry on.
func TestCommandPanicClosesOnlyItsConnection(t *testing.T) {
	s, rc := runTestSentinel(t, Group{Name: "mymaster", Host: "127.0.0.1", Port: freePort(t), Quorum: 1, DownAfter: time.Hour, FailoverTimeout: time.Hour})
	server, client := net.Pipe()
	c := &conn{s: s, nc: panicConn{server}, proto: 2, channels: map[string]bool{}, patterns: map[string]bool{}}
	s.clients.add(c)
	done := make(chan struct{})
	go func() {
		c.run()
		close(done)
	}()
	if _, err := client.Write([]byte("SENTINEL MASTERS\r\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection's goroutine did not end after the panic")
	}
	if _, err := client.Read(make([]byte, 1)); err != io.EOF && err != io.ErrClosedPipe {
		t.Errorf("the client's read after the panic: %v, want the connection closed", err)
	}
	if !s.mu.TryLock() {
		t.Fatal("the sentinel's lock is held after the panic")
	}
	s.mu.Unlock()
	if got, err := rc.Do(t.Context(), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").StringSlice(); err != nil || len(got) != 2 {
		t.Fatalf("another client after the panic: %v %v", got, err)
	}
}
