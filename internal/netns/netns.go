// Package netns gives tests a real network partition on one Linux host: a
// network namespace joined to the host by a veth pair, whose link can be
// cut and healed, and a dialer that connects from inside it (a client that
// still reaches the isolated side). It needs root and iproute2.
package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// NS is one namespace and its link to the host.
type NS struct {
	// Name is the namespace's name (ip netns).
	Name string
	// HostIP and IP are the host's and the namespace's ends of the link.
	HostIP, IP string
	hostIf     string
}

// Available reports why namespaces cannot be used here, or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("network namespaces need iproute2's ip")
	}
	return nil
}

func run(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// New creates namespace name (at most 10 characters, it names the veth
// interfaces too) linked to the host over 10.77.subnet.0/30.
func New(name string, subnet int) (*NS, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	n := &NS{Name: name, HostIP: fmt.Sprintf("10.77.%d.1", subnet), IP: fmt.Sprintf("10.77.%d.2", subnet), hostIf: "vh" + name}
	nsIf := "vn" + name
	// Leftovers of a killed run, or of a Close the kernel has not finished
	// (see Close).
	run("link", "del", n.hostIf)
	run("netns", "del", name)
	steps := [][]string{
		{"netns", "add", name},
		{"link", "add", n.hostIf, "type", "veth", "peer", "name", nsIf},
		{"link", "set", nsIf, "netns", name},
		{"addr", "add", n.HostIP + "/30", "dev", n.hostIf},
		{"link", "set", n.hostIf, "up"},
		{"netns", "exec", name, "ip", "addr", "add", n.IP + "/30", "dev", nsIf},
		{"netns", "exec", name, "ip", "link", "set", nsIf, "up"},
		{"netns", "exec", name, "ip", "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if err := run(s...); err != nil {
			n.Close()
			return nil, err
		}
	}
	return n, nil
}

// Close deletes the veth pair and the namespace. The pair goes first, and
// explicitly: the kernel destroys a deleted namespace's interfaces
// asynchronously, and a New of the same name right after (the next run
// of a drill) met the old pair still there ("File exists").
func (n *NS) Close() error {
	lerr := run("link", "del", n.hostIf)
	if err := run("netns", "del", n.Name); err != nil {
		return errors.Join(lerr, err)
	}
	return nil
}

// Cut takes the link down: nothing passes between the namespace and the
// host, while connections inside each side keep working.
func (n *NS) Cut() error { return run("link", "set", n.hostIf, "down") }

// Heal brings the link back.
func (n *NS) Heal() error { return run("link", "set", n.hostIf, "up") }

// Command returns the program and arguments that run path with args
// inside the namespace.
func (n *NS) Command(path string, args ...string) (string, []string) {
	return "ip", append([]string{"netns", "exec", n.Name, path}, args...)
}

// Dial connects from inside the namespace (for go-redis's Options.Dialer).
func (n *NS) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// A socket belongs to the namespace of the thread that creates
		// it. The thread is only given back to the scheduler once it is
		// in the host's namespace again.
		runtime.LockOSThread()
		c, restored, err := n.dialLocked(ctx, network, addr)
		if restored {
			runtime.UnlockOSThread()
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

func (n *NS) dialLocked(ctx context.Context, network, addr string) (net.Conn, bool, error) {
	host, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, true, err
	}
	defer host.Close()
	target, err := os.Open("/var/run/netns/" + n.Name)
	if err != nil {
		return nil, true, err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, true, fmt.Errorf("entering namespace %s: %w", n.Name, err)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if rerr := unix.Setns(int(host.Fd()), unix.CLONE_NEWNET); rerr != nil {
		// The thread stays in the wrong namespace: it dies with this
		// goroutine (still locked).
		if c != nil {
			c.Close()
		}
		return nil, false, fmt.Errorf("leaving namespace %s: %w", n.Name, rerr)
	}
	return c, true, err
}
