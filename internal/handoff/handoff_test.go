package handoff

import (
	"os"
	"strings"
	"syscall"
	"testing"
)

type msg struct {
	Type string `json:"type"`
	Body string `json:"body"`
}

func TestSendRecv(t *testing.T) {
	a, theirs, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := FromFile(theirs)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cases := []struct {
		name string
		body string
		nfds int
	}{
		{"plain", "hello", 0},
		{"one fd", "x", 1},
		{"many fds", "y", MaxFDs},
		{"big body", strings.Repeat("z", 4<<20), 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var files []*os.File
			var fds []int
			for i := 0; i < tc.nfds; i++ {
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				w.Close()
				files = append(files, r)
				fds = append(fds, int(r.Fd()))
			}
			errc := make(chan error, 1)
			go func() { errc <- a.Send(msg{Type: tc.name, Body: tc.body}, fds...) }()
			var got msg
			rfds, err := b.Recv(&got)
			if err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if got.Type != tc.name || got.Body != tc.body {
				t.Fatalf("got %q/%d bytes", got.Type, len(got.Body))
			}
			if len(rfds) != tc.nfds {
				t.Fatalf("got %d descriptors, sent %d", len(rfds), tc.nfds)
			}
			for _, fd := range rfds {
				// Received descriptors must not leak into an exec'd child.
				flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
				if errno != 0 || flags&syscall.FD_CLOEXEC == 0 {
					t.Errorf("fd %d is not close-on-exec", fd)
				}
				syscall.Close(fd)
			}
			for _, f := range files {
				f.Close()
			}
		})
	}
}

func TestTooManyFDs(t *testing.T) {
	a, theirs, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	theirs.Close()
	if err := a.Send(msg{}, make([]int, MaxFDs+1)...); err == nil {
		t.Fatal("sending more than MaxFDs descriptors succeeded")
	}
}

func TestRecvFromClosedPeer(t *testing.T) {
	a, theirs, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	b, err := FromFile(theirs)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	var m msg
	if _, err := b.Recv(&m); err == nil {
		t.Fatal("Recv from a closed peer succeeded")
	}
	b.Close()
}
