package sentinel

import (
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// forwardGossip forwards TCP and UDP from port from to port to on
// loopback, as a NAT or a container's published port does, until the
// test ends.
func forwardGossip(t *testing.T, from, to int) {
	t.Helper()
	target := net.JoinHostPort("127.0.0.1", strconv.Itoa(to))
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(from)))
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: from})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); pc.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	go func() {
		// One socket towards the target per source, so that replies
		// (memberlist acks a ping to where it came from) find their way.
		var mu sync.Mutex
		socks := map[string]*net.UDPConn{}
		defer func() {
			mu.Lock()
			for _, c := range socks {
				c.Close()
			}
			mu.Unlock()
		}()
		to, _ := net.ResolveUDPAddr("udp", target)
		buf := make([]byte, 65536)
		for {
			n, src, err := pc.ReadFromUDP(buf)
			if err != nil {
				return
			}
			mu.Lock()
			c := socks[src.String()]
			if c == nil {
				if c, err = net.DialUDP("udp", nil, to); err != nil {
					mu.Unlock()
					continue
				}
				socks[src.String()] = c
				go func() {
					b := make([]byte, 65536)
					for {
						n, err := c.Read(b)
						if err != nil {
							return
						}
						pc.WriteToUDP(b[:n], src)
					}
				}()
			}
			mu.Unlock()
			c.Write(buf[:n])
		}
	}()
}

// TestGossipAnnounce: a sentinel whose gossip is reached through a
// forwarded port (NAT) announces that port; a peer that joins it there
// gossips with it there, and each sees the other alive.
func TestGossipAnnounce(t *testing.T) {
	listen, published := freePort(t), freePort(t)
	forwardGossip(t, published, listen)
	a := startTestSentinel(t, Config{GossipPort: listen, GossipAnnounceIP: "127.0.0.1", GossipAnnouncePort: published})
	b := startTestSentinel(t, Config{GossipPort: freePort(t), Join: []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(published))}})
	want := net.JoinHostPort("127.0.0.1", strconv.Itoa(published))
	deadline := time.Now().Add(20 * time.Second)
	for {
		a.mu.Lock()
		aAlive := a.aliveCount()
		a.mu.Unlock()
		b.mu.Lock()
		bAlive, addr := b.aliveCount(), b.gossipAddrs[a.st.MyID]
		b.mu.Unlock()
		if aAlive == 2 && bAlive == 2 && addr == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("alive: a %d, b %d; b has a's gossip at %q, want %s", aAlive, bAlive, addr, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
