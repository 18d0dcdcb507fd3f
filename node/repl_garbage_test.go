package node

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

// injectProxy forwards a replica's connections to its master and lets a
// test write bytes of its own into what the replica receives.
type injectProxy struct {
	ln        net.Listener
	target    string
	mu        sync.Mutex
	toReplica net.Conn // the newest connection's replica side
	accepts   int
}

func startInjectProxy(t *testing.T, target string) *injectProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &injectProxy{ln: ln, target: target}
	var conns []net.Conn
	var connsMu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			m, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			connsMu.Lock()
			conns = append(conns, c, m)
			connsMu.Unlock()
			p.mu.Lock()
			p.toReplica = c
			p.accepts++
			p.mu.Unlock()
			go func() { io.Copy(m, c); m.Close() }()
			go func() { io.Copy(c, m); c.Close() }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		connsMu.Lock()
		for _, c := range conns {
			c.Close()
		}
		connsMu.Unlock()
	})
	return p
}

func (p *injectProxy) inject(t *testing.T, b string) {
	t.Helper()
	p.mu.Lock()
	c := p.toReplica
	p.mu.Unlock()
	if _, err := c.Write([]byte(b)); err != nil {
		t.Fatalf("injecting: %v", err)
	}
}

func (p *injectProxy) connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepts
}

// A master's stream that turns to garbage in the middle of a batch: the
// replica drops the link rather than apply anything past the bad bytes,
// stays up, and syncs the master's dataset again.
func TestReplicaDropsLinkOnGarbageFromMaster(t *testing.T) {
	ctx := context.Background()
	_, maddr := newTestServer(t)
	_, raddr := newTestServer(t)
	master := redis.NewClient(&redis.Options{Addr: maddr})
	defer master.Close()
	replica := redis.NewClient(&redis.Options{Addr: raddr})
	defer replica.Close()
	proxy := startInjectProxy(t, maddr)
	host, port, _ := net.SplitHostPort(proxy.ln.Addr().String())
	if err := replica.SlaveOf(ctx, host, port).Err(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitInfo(t, replica, "replication", "master_link_status:up")
	master.Set(ctx, "a", "1", 0)
	testutil.WaitFor(t, 15*time.Second, "a to reach the replica", func() (bool, string) { v := replica.Get(ctx, "a").Val(); return v == "1", "a=" + v })

	// One write, then a bulk length that is not a number, in one piece.
	proxy.inject(t, "*3\r\n$3\r\nSET\r\n$8\r\ninjected\r\n$1\r\nx\r\n*3\r\n$3\r\nSET\r\n$x\r\n")
	testutil.WaitFor(t, 15*time.Second, "a new connection after the bad bytes", func() (bool, string) { n := proxy.connections(); return n >= 2, fmt.Sprint(n, " connections") })
	if err := replica.Ping(ctx).Err(); err != nil {
		t.Fatalf("the replica stopped answering: %v", err)
	}
	testutil.WaitInfo(t, replica, "replication", "master_link_status:up")
	master.Set(ctx, "b", "2", 0)
	testutil.WaitFor(t, 15*time.Second, "b to reach the replica", func() (bool, string) { v := replica.Get(ctx, "b").Val(); return v == "2", "b=" + v })
	// The resync brought the master's dataset back: the injected write,
	// which the master never had, is gone.
	if n := replica.Exists(ctx, "injected").Val(); n != 0 {
		t.Fatalf("the injected key survived the resync")
	}
}
