// Command local is the launcher behind `make run`: it starts a local Vigil
// deployment from the binaries in bin/, prints how to connect, and stops
// everything cleanly on Ctrl-C.
//
// Today the deployment is one master and two replicas (vigil-server with
// built-in defaults). The launcher is organised around a topology (an
// ordered list of members, started in order and stopped in reverse) so
// that it grows into the three-sentinel deployment by adding members to
// plan().
//
//	go run ./deploy/local [-bin bin] [-dir run] [-bind 127.0.0.1] [-port 6379]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vigilkv/vigil/deploy/proc"
	"github.com/vigilkv/vigil/internal/resp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the launcher's flags.
type options struct {
	binDir string
	runDir string
	bind   string
	port   int
}

// member is one process of the deployment.
type member struct {
	name   string // unique, also the name of its directory under runDir
	role   string // "master" today; "replica" and "sentinel" later
	binary string // file name in binDir
	port   int
	args   []string // arguments besides --port (which proc adds)
}

// plan returns the deployment's members in start order: the master on
// the given port, then two replicas on the next ports following it
// (--replicaof). Sentinels will come last, configured with the master's
// address.
func plan(o options) []member {
	// Built-in defaults otherwise: developer nodes, with persistence as
	// Redis ships it.
	master := member{
		name:   "node-" + strconv.Itoa(o.port),
		role:   "master",
		binary: "vigil-server",
		port:   o.port,
		args:   []string{"--bind", o.bind},
	}
	out := []member{master}
	for i := 1; i <= 2; i++ {
		port := o.port + i
		out = append(out, member{
			name:   "node-" + strconv.Itoa(port),
			role:   "replica",
			binary: "vigil-server",
			port:   port,
			args:   []string{"--bind", o.bind, "--replicaof", o.bind + " " + strconv.Itoa(o.port)},
		})
	}
	return out
}

// run starts the deployment and keeps it up until ctx ends (Ctrl-C) or a
// member dies.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.binDir, "bin", "bin", "directory with vigil-server and vigil-sentinel (make build)")
	fs.StringVar(&o.runDir, "dir", "run", "directory for the members' data and logs")
	fs.StringVar(&o.bind, "bind", "127.0.0.1", "address the members listen on")
	fs.IntVar(&o.port, "port", 6379, "port of the master")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	d, err := start(ctx, o, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "local:", err)
		return 1
	}
	d.printConnectInfo(stdout)
	code := d.wait(ctx, stdout, stderr)
	d.stop(stdout, stderr)
	return code
}

// deployment is the running members, in start order.
type deployment struct {
	opts    options
	members []member
	procs   []*proc.Proc
}

func start(ctx context.Context, o options, out io.Writer) (*deployment, error) {
	d := &deployment{opts: o}
	for _, m := range plan(o) {
		p, err := d.startMember(ctx, m)
		if err != nil {
			d.stop(out, io.Discard)
			return nil, err
		}
		d.members = append(d.members, m)
		d.procs = append(d.procs, p)
	}
	for i, m := range d.members {
		if m.role != "replica" {
			continue
		}
		if err := waitLinkUp(ctx, d.procs[i].Addr); err != nil {
			d.stop(out, io.Discard)
			return nil, fmt.Errorf("%s did not sync with the master: %w", m.name, err)
		}
	}
	return d, nil
}

// waitLinkUp waits until the replica at addr reports its link to the
// master up.
func waitLinkUp(ctx context.Context, addr string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		info, err := infoReplication(ctx, addr)
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("link still down after a minute (%v)", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// infoReplication fetches INFO replication from addr.
func infoReplication(ctx context.Context, addr string) (string, error) {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("*2\r\n$4\r\nINFO\r\n$11\r\nreplication\r\n")); err != nil {
		return "", err
	}
	v, _, err := resp.ReadReply(bufio.NewReader(conn))
	if err != nil {
		return "", err
	}
	return string(v.Str), nil
}

func (d *deployment) startMember(ctx context.Context, m member) (*proc.Proc, error) {
	bin, err := filepath.Abs(filepath.Join(d.opts.binDir, m.binary))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s: %w (run make build first)", m.binary, err)
	}
	if err := portFree(d.opts.bind, m.port); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(filepath.Join(d.opts.runDir, m.name))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	args := append([]string{"--dir", dir}, m.args...)
	return proc.Start(ctx, proc.Spec{
		Name:         m.name,
		Path:         bin,
		Args:         args,
		Port:         m.port,
		Host:         d.opts.bind,
		Dir:          dir,
		LogPath:      filepath.Join(dir, m.binary+".log"),
		ReadyTimeout: time.Minute, // loading a big dataset takes a while
		// Ctrl-C reaches only the launcher, which stops members in order.
		OwnProcessGroup: true,
	})
}

// portFree checks the port before starting, to name the usual culprit.
func portFree(host string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("port %d on %s is taken (a system redis-server? `service redis-server stop`, or pass -port): %w", port, host, err)
	}
	return l.Close()
}

func (d *deployment) printConnectInfo(out io.Writer) {
	fmt.Fprintln(out, "Vigil is running:")
	for i, m := range d.members {
		p := d.procs[i]
		fmt.Fprintf(out, "  %-8s %-20s pid %-7d data %s  log %s\n", m.role, p.Addr, p.Pid, p.Spec.Dir, p.Spec.LogPath)
	}
	master := d.procs[0]
	host, port := d.opts.bind, master.Port
	hostArg := ""
	if host != "127.0.0.1" {
		hostArg = " -h " + host
	}
	fmt.Fprintf(out, `
Connect with redis-cli (writes go to the master; the replicas serve reads):
  redis-cli%[1]s -p %[2]d set greeting hello
  redis-cli%[1]s -p %[4]d get greeting
  redis-cli%[1]s -p %[2]d info replication

or from Go (github.com/redis/go-redis/v9):
  rdb := redis.NewClient(&redis.Options{Addr: %[3]q})
  err := rdb.Set(ctx, "greeting", "hello", 0).Err()

Press Ctrl-C to stop.
`, hostArg, port, master.Addr, port+1)
}

// wait blocks until Ctrl-C (exit code 0) or until a member dies (1).
func (d *deployment) wait(ctx context.Context, out, errOut io.Writer) int {
	died := make(chan int, len(d.procs))
	for i, p := range d.procs {
		go func() {
			select {
			case <-p.Exited():
				died <- i
			case <-ctx.Done():
			}
		}()
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "\nstopping...")
		return 0
	case i := <-died:
		p := d.procs[i]
		fmt.Fprintf(errOut, "\n%s exited unexpectedly (%v); end of %s:\n%s\n",
			d.members[i].name, p.ExitErr(), p.Spec.LogPath, proc.LogTail(p.Spec.LogPath, 4096))
		return 1
	}
}

// stop ends members in reverse start order, each with SIGTERM first.
func (d *deployment) stop(out, errOut io.Writer) {
	for i := len(d.procs) - 1; i >= 0; i-- {
		if err := d.procs[i].Stop(); err != nil {
			fmt.Fprintf(errOut, "stopping %s: %v\n", d.members[i].name, err)
			continue
		}
		fmt.Fprintf(out, "stopped %s\n", d.members[i].name)
	}
}
