// Package proc starts and supervises redis-style server processes:
// vigil-server, vigil-sentinel, redis-server and redis-sentinel all take
// "--directive value" arguments and answer PING, so one supervisor serves
// the local launcher, the benchmarks and the tests that run real
// processes. It knows nothing about testing.T; internal/testutil wraps it.
package proc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vigilkv/vigil/internal/resp"
)

// Defaults for the Spec durations.
const (
	DefaultReadyTimeout = 15 * time.Second
	DefaultStopTimeout  = 10 * time.Second
	portAttempts        = 5
)

// Spec describes a process to start.
type Spec struct {
	// Name labels the process in messages ("vigil-server", "redis-server").
	Name string
	// Path is the executable.
	Path string
	// Args are the arguments, a config file first if any. Start appends
	// "--port N", so it wins over a port set in Args or the config file.
	Args []string
	// Port to listen on; 0 picks a free loopback port, and picks again if
	// another process grabs it before the server binds.
	Port int
	// Host is the address readiness is probed on; default 127.0.0.1.
	Host string
	// Dir is the working directory; empty means the caller's.
	Dir string
	// LogPath receives stdout and stderr, appended across restarts; empty
	// discards them.
	LogPath string
	// Env is added to the caller's environment.
	Env []string
	// ReadyTimeout bounds the wait for the first PING reply.
	ReadyTimeout time.Duration
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL.
	StopTimeout time.Duration
	// OwnProcessGroup puts the process in its own process group, so a
	// Ctrl-C in the terminal reaches only the supervisor, which then stops
	// the process in order.
	OwnProcessGroup bool
}

// Proc is a running (or stopped) process started by Start. Addr, Port and
// Pid describe the current incarnation; Restart updates Pid. Methods may
// be called from any goroutine.
type Proc struct {
	// Spec is what the process was started from, with defaults filled in.
	Spec Spec
	// Addr is host:port, ready for clients.
	Addr string
	// Port is the TCP port the process listens on.
	Port int
	// Pid is the operating-system process id.
	Pid int

	mu sync.Mutex
	// process is the current incarnation: a child Start launched, or a
	// process taken over by Adopt.
	process *os.Process
	done    chan struct{} // closed when the current incarnation exits
	waitErr error
}

// Start launches the process and waits until it answers PING. On failure
// the process is gone and the error includes the end of its log.
func Start(ctx context.Context, spec Spec) (*Proc, error) {
	if spec.Name == "" {
		spec.Name = spec.Path
	}
	if spec.Host == "" {
		spec.Host = "127.0.0.1"
	}
	if spec.ReadyTimeout == 0 {
		spec.ReadyTimeout = DefaultReadyTimeout
	}
	if spec.StopTimeout == 0 {
		spec.StopTimeout = DefaultStopTimeout
	}
	attempts := 1
	if spec.Port == 0 {
		attempts = portAttempts
	}
	var lastErr error
	for i := 0; i < attempts; i++ {
		port := spec.Port
		if port == 0 {
			var err error
			if port, err = FreePort(); err != nil {
				return nil, err
			}
		}
		p := &Proc{Spec: spec, Port: port, Addr: net.JoinHostPort(spec.Host, strconv.Itoa(port))}
		err := p.launchAndWait(ctx)
		if err == nil {
			return p, nil
		}
		lastErr = err
		// Only a lost race for the port is worth another try.
		if !strings.Contains(strings.ToLower(err.Error()), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

// launchAndWait starts one incarnation and waits for readiness, killing it
// if it does not become ready.
func (p *Proc) launchAndWait(ctx context.Context) error {
	if err := p.launch(); err != nil {
		return err
	}
	if err := p.waitReady(ctx); err != nil {
		p.Kill()
		return fmt.Errorf("%s on %s: %w%s", p.Spec.Name, p.Addr, err, p.logTail())
	}
	return nil
}

func (p *Proc) launch() error {
	args := append(append([]string(nil), p.Spec.Args...), "--port", strconv.Itoa(p.Port))
	cmd := exec.Command(p.Spec.Path, args...)
	cmd.Dir = p.Spec.Dir
	cmd.Env = append(os.Environ(), p.Spec.Env...)
	cmd.SysProcAttr = sysProcAttr(p.Spec.OwnProcessGroup)
	var logFile *os.File
	if p.Spec.LogPath != "" {
		f, err := os.OpenFile(p.Spec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("opening log for %s: %w", p.Spec.Name, err)
		}
		fmt.Fprintf(f, "=== %s: %s %s\n", time.Now().Format(time.RFC3339Nano), p.Spec.Path, strings.Join(args, " "))
		logFile = f
		// An *os.File is handed to the child directly, with no copying
		// goroutine, so our copy can be closed right after the start.
		cmd.Stdout, cmd.Stderr = f, f
	}
	err := cmd.Start()
	if logFile != nil {
		logFile.Close()
	}
	if err != nil {
		return fmt.Errorf("starting %s: %w", p.Spec.Name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.process, p.done, p.waitErr, p.Pid = cmd.Process, done, nil, cmd.Process.Pid
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		if p.process == cmd.Process {
			p.waitErr = err
		}
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

func (p *Proc) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.Spec.ReadyTimeout)
	defer cancel()
	done := p.Exited()
	var lastErr error
	for {
		select {
		case <-done:
			return fmt.Errorf("exited before answering PING (%v)", p.ExitErr())
		default:
		}
		err := Ping(ctx, p.Addr)
		if err == nil {
			return p.checkOwner(ctx)
		}
		lastErr = err
		select {
		case <-done:
			return fmt.Errorf("exited before answering PING (%v)", p.ExitErr())
		case <-ctx.Done():
			return fmt.Errorf("no PING reply within %v: %w", p.Spec.ReadyTimeout, lastErr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Ping sends PING to addr and reports whether the server answered. Any
// reply counts (a password-protected server answers -NOAUTH) except the
// ones that mean "not serving yet": -LOADING and -BUSY.
func Ping(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline := time.Now().Add(2 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	conn.SetDeadline(deadline)
	if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return fmt.Errorf("sending PING: %w", err)
	}
	v, _, err := resp.ReadReply(bufio.NewReader(conn))
	if err != nil {
		return fmt.Errorf("reading PING reply: %w", err)
	}
	if v.IsError() && (bytes.HasPrefix(v.Str, []byte("LOADING")) || bytes.HasPrefix(v.Str, []byte("BUSY"))) {
		return fmt.Errorf("not ready: %s", v.Str)
	}
	return nil
}

// checkOwner makes sure the server answering on our port is our process:
// when a picked port is taken between FreePort and the bind, our process
// exits, but another server may answer PING meanwhile. Servers that report
// no process_id in INFO are trusted.
func (p *Proc) checkOwner(ctx context.Context) error {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", p.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write(resp.AppendCommandStrings(nil, "INFO", "server")); err != nil {
		return fmt.Errorf("sending INFO: %w", err)
	}
	v, _, err := resp.ReadReply(bufio.NewReader(conn))
	if err != nil {
		return fmt.Errorf("reading INFO reply: %w", err)
	}
	for _, line := range strings.Split(string(v.Str), "\n") {
		if pid, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok && pid != strconv.Itoa(p.Pid) {
			// Worded so that Start picks another port.
			return fmt.Errorf("address already in use: process %s answers on %s", pid, p.Addr)
		}
	}
	return nil
}

// adoptPoll is how often an adopted process is checked for its exit.
const adoptPoll = 20 * time.Millisecond

// Adopt makes the running process pid the current incarnation of p.
// vigil-server's in-place upgrade re-executes itself: a new process with
// another pid takes over the port, and the old one, the child Start
// launched, exits. After Adopt, Running, Exited, Stop, Kill and Freeze act
// on the process that serves now. The adopted process is not the caller's
// child: it cannot be waited for (its exit is noticed by polling, and
// ExitErr stays nil) and no parent-death signal ends it with the caller,
// so it must be stopped explicitly.
func (p *Proc) Adopt(pid int) error {
	if exited(pid) {
		return fmt.Errorf("adopting %s: process %d is not running", p.Spec.Name, pid)
	}
	process, err := os.FindProcess(pid)
	if err != nil {
		return fmt.Errorf("adopting %s (pid %d): %w", p.Spec.Name, pid, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.process, p.done, p.waitErr, p.Pid = process, done, nil, pid
	p.mu.Unlock()
	go func() {
		for !exited(pid) {
			time.Sleep(adoptPoll)
		}
		close(done)
	}()
	return nil
}

// Exited returns a channel closed when the current incarnation exits.
func (p *Proc) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// Running reports whether the current incarnation has not exited.
func (p *Proc) Running() bool {
	select {
	case <-p.Exited():
		return false
	default:
		return true
	}
}

// ExitErr is how the last incarnation ended (nil while running or after a
// clean exit).
func (p *Proc) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

func (p *Proc) signal(sig syscall.Signal) error {
	p.mu.Lock()
	process, done := p.process, p.done
	p.mu.Unlock()
	select {
	case <-done:
		return nil
	default:
	}
	if err := process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("sending %v to %s (pid %d): %w", sig, p.Spec.Name, process.Pid, err)
	}
	return nil
}

// Stop asks the process to exit with SIGTERM (after SIGCONT, in case it is
// frozen) and kills it with SIGKILL if it has not exited within
// StopTimeout. Stopping a stopped process does nothing.
func (p *Proc) Stop() error {
	if !p.Running() {
		return nil
	}
	p.signal(syscall.SIGCONT)
	if err := p.signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.Exited():
		return nil
	case <-time.After(p.Spec.StopTimeout):
	}
	if err := p.Kill(); err != nil {
		return err
	}
	return fmt.Errorf("%s (pid %d) ignored SIGTERM for %v and was killed", p.Spec.Name, p.Pid, p.Spec.StopTimeout)
}

// Kill ends the process with SIGKILL, as a crash would, and waits for it.
func (p *Proc) Kill() error {
	if err := p.signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-p.Exited()
	return nil
}

// Freeze suspends the process with SIGSTOP: it keeps its sockets but
// answers nothing, like a hung or partitioned node.
func (p *Proc) Freeze() error {
	if err := p.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	// SIGSTOP takes effect asynchronously: wait until the process is
	// stopped, so a test's next step really meets a frozen process.
	for i := 0; i < 1000; i++ {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid))
		if err != nil {
			return nil // not on Linux, or gone
		}
		st := string(b)
		if f := strings.Fields(st[strings.LastIndexByte(st, ')')+1:]); len(f) > 0 && (f[0] == "T" || f[0] == "t") {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("%s did not stop after SIGSTOP", p.Spec.Name)
}

// Thaw resumes a frozen process with SIGCONT.
func (p *Proc) Thaw() error { return p.signal(syscall.SIGCONT) }

// Restart stops the process gracefully if it runs, then starts it again
// with the same arguments, port and directory and waits for PING.
func (p *Proc) Restart(ctx context.Context) error {
	if err := p.Stop(); err != nil {
		return err
	}
	return p.launchAndWait(ctx)
}

// RSS is the resident set size of the process in bytes.
func (p *Proc) RSS() (int64, error) {
	p.mu.Lock()
	pid := p.Pid
	p.mu.Unlock()
	return ReadRSS(pid)
}

// logTail returns the end of the log for error messages.
func (p *Proc) logTail() string {
	tail := LogTail(p.Spec.LogPath, 4096)
	if tail == "" {
		return ""
	}
	return "\n--- end of " + p.Spec.LogPath + " ---\n" + tail
}

// LogTail returns up to max bytes from the end of the file at path, or ""
// if it cannot be read.
func LogTail(path string, max int64) string {
	if path == "" {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > max {
		f.Seek(st.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process may take it before it is used: Start retries.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreePortRange finds n consecutive free loopback ports, for launchers
// that number their processes' ports from a base. The ports come from
// below the kernel's ephemeral range (32768 and up on Linux), where
// outgoing connections cannot take them between this check and the bind.
// Each is free for TCP and UDP both (memberlist's gossip binds both).
func FreePortRange(n int) (int, error) {
	for try := 0; try < 200; try++ {
		base := 20000 + mrand.IntN(12000-n)
		ok := true
		for p := base; p < base+n && ok; p++ {
			addr := "127.0.0.1:" + strconv.Itoa(p)
			l, err := net.Listen("tcp", addr)
			if err != nil {
				ok = false
				continue
			}
			l.Close()
			u, err := net.ListenPacket("udp", addr)
			if err != nil {
				ok = false
				continue
			}
			u.Close()
		}
		if ok {
			return base, nil
		}
	}
	return 0, fmt.Errorf("no %d consecutive free ports found", n)
}

// ReadRSS returns the resident set size (VmRSS) of process pid in bytes,
// read from /proc.
func ReadRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading RSS: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			break
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			break
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("no VmRSS line in /proc/%d/status", pid)
}
