package node

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vigilkv/vigil/node/config"
)

// A client accepted the moment the server starts sees the dataset it
// loads or -LOADING, never an empty keyspace: a replica whose PSYNC was
// served before the loading began got an empty snapshot and never the
// loaded data (seen in the full-restart drill with appendonly yes).
func TestNoClientServedBeforeLoading(t *testing.T) {
	for _, aof := range []bool{false, true} {
		dir := t.TempDir()
		mutate := func(c *config.Config) {
			c.Dir = dir
			c.AppendOnly = aof
		}
		s, addr := newTestServer(t, mutate)
		if got := dialRaw(t, addr).Do("SET", "k", "v"); got != "+OK\r\n" {
			t.Fatalf("SET: %q", got)
		}
		if !aof {
			dialRaw(t, addr).Do("SAVE")
		}
		s.Shutdown()
		time.Sleep(100 * time.Millisecond)
		for i := 0; i < 30; i++ {
			if got := firstReply(t, dir, aof); got != "$1\r\nv\r\n" && !strings.HasPrefix(got, "-LOADING") {
				t.Fatalf("appendonly %v, attempt %d: GET k answered %q before the dataset was loaded", aof, i, got)
			}
		}
	}
}

// firstReply starts a server on dir with a GET already queued on its
// listener and returns the reply.
func firstReply(t *testing.T, dir string, aof bool) string {
	t.Helper()
	cfg := config.Default()
	cfg.Port = 0
	cfg.Bind = []string{"127.0.0.1"}
	cfg.Dir = dir
	cfg.Save = ""
	cfg.AppendOnly = aof
	s, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", s.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.Serve(ctx)
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(line, "$1") {
		rest, _ := br.ReadString('\n')
		line += rest
	}
	return line
}
