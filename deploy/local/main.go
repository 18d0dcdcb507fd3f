// Command local is the launcher behind `make run`: it starts a local Vigil
// deployment from the binaries in bin/, prints how to connect and then the
// sentinels' events, keeps the rest running when a member dies (Enter
// starts it again), and stops everything cleanly on Ctrl-C.
//
// The deployment is one master and two replicas (vigil-server with
// built-in defaults) and three vigil-sentinels monitoring them. The
// launcher is organised around a topology: an ordered list of members,
// started in order and stopped in reverse.
//
//	go run ./deploy/local [-bin bin] [-dir run] [-bind 127.0.0.1] [-port 6379] [-sentinel-port 26379]
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
	"sync"
	"syscall"
	"time"

	"github.com/vigilkv/vigil/deploy/proc"
	"github.com/vigilkv/vigil/internal/resp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the launcher's flags.
type options struct {
	binDir       string
	runDir       string
	bind         string
	port         int
	sentinelPort int
	gossipPort   int
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
// the given port, two replicas on the next ports following it
// (--replicaof), then three sentinels monitoring it.
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
	// Three sentinels, gossiping on consecutive ports.
	var seeds []string
	for i := 0; i < 3; i++ {
		seeds = append(seeds, net.JoinHostPort(o.bind, strconv.Itoa(o.gossipPort+i)))
	}
	for i := 0; i < 3; i++ {
		port := o.sentinelPort + i
		out = append(out, member{
			name:   "sentinel-" + strconv.Itoa(port),
			role:   "sentinel",
			binary: "vigil-sentinel",
			port:   port,
			args: []string{"--bind", o.bind, "--gossip-port", strconv.Itoa(o.gossipPort + i), "--join", strings.Join(seeds, ","),
				"--monitor", fmt.Sprintf("mymaster %s %d 2", o.bind, o.port), "--down-after-milliseconds", "5000", "--failover-timeout", "60000"},
		})
	}
	return out
}

// run starts the deployment and keeps it up until ctx ends (Ctrl-C) or
// every member has died; a line on stdin starts dead members again.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.binDir, "bin", "bin", "directory with vigil-server and vigil-sentinel (make build)")
	fs.StringVar(&o.runDir, "dir", "run", "directory for the members' data and logs")
	fs.StringVar(&o.bind, "bind", "127.0.0.1", "address the members listen on")
	fs.IntVar(&o.port, "port", 6379, "port of the master (the replicas take the next two)")
	fs.IntVar(&o.sentinelPort, "sentinel-port", 26379, "port of the first sentinel (the others take the next two)")
	fs.IntVar(&o.gossipPort, "gossip-port", 7946, "gossip port of the first sentinel (the others take the next two)")
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
	code := d.wait(ctx, stdin, stdout, stderr)
	d.stop(stdout, stderr)
	return code
}

// deployment is the running members, in start order.
type deployment struct {
	opts    options
	members []member
	procs   []*proc.Proc
	outMu   sync.Mutex // one message at a time on the terminal
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
		var err error
		switch m.role {
		case "replica":
			err = waitFor(ctx, d.procs[i].Addr, []string{"INFO", "replication"}, "master_link_status:up")
		case "sentinel":
			// Each sentinel knows both replicas and both peers.
			err = waitFor(ctx, d.procs[i].Addr, []string{"INFO", "sentinel"}, "slaves=2,sentinels=3")
		}
		if err != nil {
			d.stop(out, io.Discard)
			return nil, fmt.Errorf("%s is not ready: %w", m.name, err)
		}
	}
	return d, nil
}

// waitFor waits until the reply of cmd at addr contains want.
func waitFor(ctx context.Context, addr string, cmd []string, want string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		info, err := query(ctx, addr, cmd)
		if err == nil && strings.Contains(info, want) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %q after a minute (%v)", want, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// query sends one command to addr and returns its reply as text.
func query(ctx context.Context, addr string, cmd []string) (string, error) {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write(resp.AppendCommandStrings(nil, cmd...)); err != nil {
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
	var sentinels []string
	for i, m := range d.members {
		if m.role == "sentinel" {
			sentinels = append(sentinels, d.procs[i].Addr)
		}
	}
	hostArg := ""
	if host != "127.0.0.1" {
		hostArg = " -h " + host
	}
	fmt.Fprintf(out, `
Ask any sentinel where the master is, then use it:
  redis-cli%[1]s -p %[5]d sentinel get-master-addr-by-name mymaster
  redis-cli%[1]s -p %[2]d set greeting hello
  redis-cli%[1]s -p %[4]d get greeting

or from Go (github.com/redis/go-redis/v9), following failovers:
  rdb := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "mymaster", SentinelAddrs: %[6]s})
  err := rdb.Set(ctx, "greeting", "hello", 0).Err()

Kill any of them to see what the others do (a dead member can be started
again with Enter). Press Ctrl-C to stop.
`, hostArg, port, master.Addr, port+1, d.opts.sentinelPort, goStrings(sentinels))
}

// wait keeps the deployment up until Ctrl-C (exit code 0). A member that
// dies is reported and the others keep running, as in any HA deployment:
// kill the master and the sentinels fail it over, their events printed as
// they come. Enter (a line on in) starts the dead members again. Only
// when every member is dead does wait give up (1).
func (d *deployment) wait(ctx context.Context, in io.Reader, out, errOut io.Writer) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	died := make(chan int)
	watch := func(i int) {
		exited := d.procs[i].Exited()
		go func() {
			select {
			case <-exited:
				select {
				case died <- i:
				case <-ctx.Done():
				}
			case <-ctx.Done():
			}
		}()
	}
	for i := range d.procs {
		watch(i)
	}
	enter := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case enter <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
	}()
	d.watchEvents(ctx, out)
	down := map[int]bool{}
	for {
		select {
		case <-ctx.Done():
			d.printf(out, "\nstopping...\n")
			return 0
		case i := <-died:
			down[i] = true
			p := d.procs[i]
			d.printf(errOut, "\n%s (%s %s) exited (%v); end of %s:\n%s\n", d.members[i].name, d.members[i].role, p.Addr,
				p.ExitErr(), p.Spec.LogPath, proc.LogTail(p.Spec.LogPath, 2048))
			if len(down) == len(d.procs) {
				d.printf(errOut, "every member has exited\n")
				return 1
			}
			d.printf(out, "The others keep running. Press Enter to start %s again, Ctrl-C to stop everything.\n", d.members[i].name)
		case <-enter:
			for i := range d.procs {
				if !down[i] {
					continue
				}
				if err := d.procs[i].Restart(ctx); err != nil {
					d.printf(errOut, "starting %s again: %v\n", d.members[i].name, err)
					continue
				}
				delete(down, i)
				watch(i)
				d.printf(out, "%s is running again (pid %d)\n", d.members[i].name, d.procs[i].Pid)
			}
		}
	}
}

// printf writes to w, one message at a time: the event watchers and the
// wait loop share the terminal.
func (d *deployment) printf(w io.Writer, format string, args ...any) {
	d.outMu.Lock()
	defer d.outMu.Unlock()
	fmt.Fprintf(w, format, args...)
}

// sameEvent is how long an event, published by every sentinel that
// sees it, counts as the one already printed.
const sameEvent = 10 * time.Second

// watchEvents prints the sentinels' events (their pub/sub channels, as a
// Redis Sentinel user would subscribe to them) until ctx ends. Each
// sentinel is watched, so the events keep coming whichever of them dies;
// an event the others publish too is printed once.
func (d *deployment) watchEvents(ctx context.Context, out io.Writer) {
	var mu sync.Mutex
	seen := map[string]time.Time{}
	for i, m := range d.members {
		if m.role != "sentinel" {
			continue
		}
		addr := d.procs[i].Addr
		go subscribeEvents(ctx, addr, func(event, payload string) {
			key := event + " " + payload
			now := time.Now()
			mu.Lock()
			dup := now.Sub(seen[key]) < sameEvent
			seen[key] = now
			for k, at := range seen {
				if now.Sub(at) >= sameEvent {
					delete(seen, k) // the terminal may stay open for days
				}
			}
			mu.Unlock()
			if dup {
				return
			}
			line := fmt.Sprintf("  %s %s\n", now.Format("15:04:05.000"), key)
			if f := strings.Fields(payload); event == "+switch-master" && len(f) == 5 {
				line += fmt.Sprintf("  the master of %s is now %s: redis-cli -h %s -p %s\n", f[0], net.JoinHostPort(f[3], f[4]), f[3], f[4])
			}
			d.printf(out, "%s", line)
		})
	}
}

// subscribeEvents calls event for each message a sentinel at addr
// publishes, reconnecting (every second) until ctx ends; a reply it cannot
// parse drops the connection like a closed one. Not go-redis's PubSub, as
// vigil-drill uses: it logs every failed redial of a dead sentinel
// through a package-wide logger, into the terminal the launcher prints to.
func subscribeEvents(ctx context.Context, addr string, event func(channel, payload string)) {
	for ctx.Err() == nil {
		var dl net.Dialer
		if conn, err := dl.DialContext(ctx, "tcp", addr); err == nil {
			stop := context.AfterFunc(ctx, func() { conn.Close() })
			if _, err := conn.Write(resp.AppendCommandStrings(nil, "PSUBSCRIBE", "*")); err == nil {
				r := bufio.NewReader(conn)
				for {
					v, _, err := resp.ReadReply(r)
					if err != nil {
						break
					}
					// ["pmessage", pattern, channel, payload]
					if len(v.Elems) == 4 && string(v.Elems[0].Str) == "pmessage" {
						event(string(v.Elems[2].Str), string(v.Elems[3].Str))
					}
				}
			}
			stop()
			conn.Close()
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
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

// goStrings renders a Go []string literal.
func goStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[]string{" + strings.Join(q, ", ") + "}"
}
