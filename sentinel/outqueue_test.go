package sentinel

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestSlowSubscriberDoesNotBlockEvents: a subscriber that stops reading
// (a synchronous pipe: every write waits for a read) must not hold up the
// publisher, which runs under the sentinel's lock; once its queue is full
// it is disconnected, as Redis does past the pub/sub output limit. A
// subscriber that reads gets the confirmation first, then the events in
// order.
func TestSlowSubscriberDoesNotBlockEvents(t *testing.T) {
	s, err := New(Config{Dir: t.TempDir(), Bind: "127.0.0.1"}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	connect := func() net.Conn {
		server, client := net.Pipe()
		c := &conn{s: s, nc: server, proto: 2, channels: map[string]bool{}, patterns: map[string]bool{}}
		s.clients.add(c)
		go c.run()
		t.Cleanup(func() { client.Close() })
		return client
	}
	reader := connect()
	stuck := connect()
	rd := bufio.NewReader(reader)
	for _, cl := range []net.Conn{reader, stuck} {
		if _, err := io.WriteString(cl, "*2\r\n$10\r\nPSUBSCRIBE\r\n$1\r\n*\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	// The reader's confirmation: *3 $10 psubscribe $1 * :1
	var got []string
	for i := 0; i < 6; i++ {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.TrimSpace(line))
	}
	if strings.Join(got, " ") != "*3 $10 psubscribe $1 * :1" {
		t.Fatalf("confirmation %q", got)
	}
	// Wait until the stuck subscriber is registered too.
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.subs.mu.Lock()
		n := len(s.subs.subs)
		s.subs.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second subscriber was not registered")
		}
		time.Sleep(time.Millisecond)
	}
	events := subscriberQueueLen * 2
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < events; i++ {
			s.event("+test", "n")
		}
	}()
	// The reader keeps up; the publisher must finish although the other
	// subscriber reads nothing.
	go io.Copy(io.Discard, rd)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("publishing blocked on a subscriber that does not read")
	}
	// The stuck subscriber was disconnected: reading drains what was
	// written and then ends.
	stuck.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, stuck); err != nil {
		t.Fatalf("the stuck subscriber was not disconnected: %v", err)
	}
}
