package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigilkv/vigil/deploy/proc"
	"github.com/vigilkv/vigil/internal/testutil"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLauncher runs the launcher with redis-server standing in for
// vigil-server (they take the same arguments): a member killed is
// reported while the others keep running and comes back on Enter, a
// failover's events are printed with the new master, and Ctrl-C stops it
// all.
func TestLauncher(t *testing.T) {
	testutil.RequireRedis(t)
	redisPath, _ := exec.LookPath("redis-server")
	binDir := t.TempDir()
	if err := os.Symlink(redisPath, filepath.Join(binDir, "vigil-server")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(testutil.SentinelBinary(t), filepath.Join(binDir, "vigil-sentinel")); err != nil {
		t.Fatal(err)
	}
	// Each launcher setting is the first of three consecutive ports.
	port, err := proc.FreePortRange(9)
	if err != nil {
		t.Fatal(err)
	}
	sentinelPort, gossipPort := port+3, port+6
	runDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	stdin, enter := io.Pipe()
	defer enter.Close()
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"-bin", binDir, "-dir", runDir, "-port", strconv.Itoa(port),
			"-sentinel-port", strconv.Itoa(sentinelPort), "-gossip-port", strconv.Itoa(gossipPort)}, stdin, &stdout, &stderr)
	}()
	// waitOutput waits until w holds want.
	waitOutput := func(w *syncBuffer, want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(w.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q; stdout:\n%s\nstderr:\n%s", want, stdout.String(), stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	waitOutput(&stdout, "Ctrl-C") // up
	if err := proc.Ping(ctx, addr); err != nil {
		t.Fatalf("node not answering: %v", err)
	}
	sentinelAddr := "127.0.0.1:" + strconv.Itoa(sentinelPort)
	for _, want := range []string{"redis-cli -p " + strconv.Itoa(port), "sentinel get-master-addr-by-name mymaster",
		`SentinelAddrs: []string{"` + sentinelAddr + `"`, filepath.Join(runDir, "node-"+strconv.Itoa(port)), "sentinel " + sentinelAddr} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	// A replica killed: reported, the rest keeps running, Enter brings
	// it back.
	replica := "node-" + strconv.Itoa(port+2)
	m := regexp.MustCompile(`replica +127\.0\.0\.1:` + strconv.Itoa(port+2) + ` +pid (\d+)`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("no pid for %s in:\n%s", replica, stdout.String())
	}
	pid, _ := strconv.Atoi(m[1])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitOutput(&stderr, replica+" (replica 127.0.0.1:"+strconv.Itoa(port+2)+") exited (signal: killed)")
	waitOutput(&stdout, "Press Enter to start "+replica+" again")
	if err := proc.Ping(ctx, addr); err != nil {
		t.Fatalf("the master stopped with the replica: %v", err)
	}
	if _, err := io.WriteString(enter, "\n"); err != nil {
		t.Fatal(err)
	}
	waitOutput(&stdout, replica+" is running again")
	if err := proc.Ping(ctx, "127.0.0.1:"+strconv.Itoa(port+2)); err != nil {
		t.Fatalf("%s is not back: %v", replica, err)
	}
	// A failover: its events, then where the master is now.
	if v, err := query(ctx, sentinelAddr, []string{"SENTINEL", "FAILOVER", "mymaster"}); err != nil || v != "OK" {
		t.Fatalf("SENTINEL FAILOVER: %q %v", v, err)
	}
	waitOutput(&stdout, "+switch-master mymaster 127.0.0.1 "+strconv.Itoa(port))
	waitOutput(&stdout, "the master of mymaster is now 127.0.0.1:")
	if n := strings.Count(stdout.String(), "+switch-master"); n != 1 {
		t.Errorf("+switch-master printed %d times (once per sentinel?):\n%s", n, stdout.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code %d; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("launcher did not stop")
	}
	if err := proc.Ping(context.Background(), addr); err == nil {
		t.Error("node still answering after the launcher stopped")
	}
	if !strings.Contains(stdout.String(), "stopped node-") || !strings.Contains(stdout.String(), "stopped sentinel-") {
		t.Errorf("no stop message:\n%s", stdout.String())
	}
}

func TestLauncherPortTaken(t *testing.T) {
	p := testutil.StartRedis(t)
	binDir := t.TempDir()
	redisPath, _ := exec.LookPath("redis-server")
	os.Symlink(redisPath, filepath.Join(binDir, "vigil-server"))
	var stdout, stderr syncBuffer
	code := run(context.Background(), []string{"-bin", binDir, "-dir", t.TempDir(), "-port", strconv.Itoa(p.Port)}, strings.NewReader(""), &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "is taken") {
		t.Errorf("code %d, stderr %q", code, stderr.String())
	}
}

// A sentinel that sends garbage or dies mid-stream: the watcher drops the
// connection, dials again and goes on with the next sentinel's messages,
// never passing on half a message.
func TestSubscribeEventsSurvivesGarbageAndDeath(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pmessage := func(channel, payload string) string {
		return "*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$" + strconv.Itoa(len(channel)) + "\r\n" + channel + "\r\n$" +
			strconv.Itoa(len(payload)) + "\r\n" + payload + "\r\n"
	}
	// Each connection gets one of these, then is closed.
	go func() {
		for _, send := range []string{
			"*3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:1\r\n" + pmessage("+sdown", "first") + "%%garbage\r\n" + pmessage("+sdown", "after garbage"),
			"*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$6\r\n+odown\r\n$50\r\ncut off", // dies mid-message
			pmessage("+switch-master", "m 127.0.0.1 1 127.0.0.1 2"),
		} {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Write([]byte(send))
			conn.Close()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 10)
	go subscribeEvents(ctx, ln.Addr().String(), func(channel, payload string) { got <- channel + " " + payload })
	for _, want := range []string{"+sdown first", "+switch-master m 127.0.0.1 1 127.0.0.1 2"} {
		select {
		case e := <-got:
			if e != want {
				t.Fatalf("event %q, want %q", e, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no event %q", want)
		}
	}
}
