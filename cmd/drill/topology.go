package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/deploy/proc"
	"github.com/vigilkv/vigil/internal/netns"
)

// masterName is the monitored group of every drill topology.
const masterName = "mymaster"

// topoOptions are the settings of one drill topology.
type topoOptions struct {
	bin             string
	downAfter       time.Duration
	failoverTimeout time.Duration
	syncReplicas    int
	// save is the data nodes' save points ("" for none); replicaSave,
	// when set, replaces it for the initial replicas.
	save, replicaSave string
	// nodeArgs are extra vigil-server arguments for every data node
	// (persistence settings).
	nodeArgs []string
	// serverCopy starts the data nodes from a copy of vigil-server in the
	// run's directory, which a drill may replace (rolling-upgrade).
	serverCopy bool
	// clientTimeout is the workload client's read and write timeout (0:
	// the default, 500 ms).
	clientTimeout time.Duration
	// dataset is the number of keys a drill loads before its fault (the
	// drills that use one).
	dataset int
	// isolateMaster runs the first data node in a network namespace of
	// its own, linked to the host by a veth pair the partition drill cuts.
	isolateMaster bool
	// reference runs redis-server and redis-sentinel (from PATH) instead
	// of the vigil binaries, with minReplicasToWrite as the data nodes'
	// min-replicas-to-write: the same drill against Redis, for comparison.
	reference          bool
	minReplicasToWrite int
	// clockJump is how far the clock drill moves the wall clock.
	clockJump time.Duration
}

// member is one process of the topology. Its port and directory stay the
// same across restarts, as a restarted production node's would.
type member struct {
	name string
	path string
	dir  string
	port int // 0 until the first start picks one
	// host is the address others reach it at (default 127.0.0.1).
	host string
	// wrap, when set, turns the command line into the one that runs it
	// (inside a network namespace).
	wrap func(path string, args ...string) (string, []string)
	// args are the arguments of every incarnation, without --port (proc
	// adds it) and without --replicaof (the role is chosen per start).
	args []string
	p    *proc.Proc
}

// start launches a new incarnation; replicaOf is "" for a master or the
// "host port" to replicate from.
func (m *member) start(ctx context.Context, replicaOf string) error {
	args := slices.Clone(m.args)
	if replicaOf != "" {
		args = append(args, "--replicaof", replicaOf)
	}
	path := m.path
	if m.wrap != nil {
		path, args = m.wrap(path, args...)
	}
	p, err := proc.Start(ctx, proc.Spec{Name: m.name, Path: path, Args: args, Port: m.port, Dir: m.dir, Host: m.hostname(),
		LogPath: filepath.Join(m.dir, m.name+".log"), ReadyTimeout: 30 * time.Second})
	if err != nil {
		return fmt.Errorf("starting %s: %w", m.name, err)
	}
	m.p, m.port = p, p.Port
	return nil
}

func (m *member) hostname() string {
	if m.host == "" {
		return "127.0.0.1"
	}
	return m.host
}

func (m *member) addr() string { return net.JoinHostPort(m.hostname(), strconv.Itoa(m.port)) }

// replicaOfArg is the --replicaof value pointing at m.
func (m *member) replicaOfArg() string { return m.hostname() + " " + strconv.Itoa(m.port) }

func (m *member) running() bool { return m.p != nil && m.p.Running() }

// kill ends the process with SIGKILL, as a crash would.
func (m *member) kill() error {
	if m.p == nil {
		return nil
	}
	if err := m.p.Kill(); err != nil {
		return fmt.Errorf("killing %s: %w", m.name, err)
	}
	return nil
}

// stop ends the process with SIGTERM (which makes a data node with save
// points write its RDB first).
func (m *member) stop() error {
	if m.p == nil {
		return nil
	}
	if err := m.p.Stop(); err != nil {
		return fmt.Errorf("stopping %s: %w", m.name, err)
	}
	return nil
}

// cluster is a drill topology: three data nodes (the first starts as the
// master) and three vigil-sentinels, with their sentinel events recorded.
type cluster struct {
	opts      topoOptions
	root      string
	nodes     []*member
	sentinels []*member
	events    *eventLog
	// ns is the first data node's network namespace (isolateMaster).
	ns *netns.NS
}

// newCluster starts a fresh topology and waits until the replicas are in
// sync and every sentinel knows both replicas and both peers.
func newCluster(ctx context.Context, o topoOptions) (*cluster, error) {
	root, err := os.MkdirTemp("", "vigil-drill-")
	if err != nil {
		return nil, fmt.Errorf("creating the drill directory: %w", err)
	}
	c := &cluster{opts: o, root: root, events: newEventLog()}
	if err := c.start(ctx); err != nil {
		c.close(false)
		return nil, err
	}
	return c, nil
}

// start starts the processes of a new cluster.
func (c *cluster) start(ctx context.Context) error {
	o, root := c.opts, c.root
	server, sentinel, err := binaries(o)
	if err != nil {
		return err
	}
	if o.isolateMaster {
		// A subnet (and namespace name) per process, so a drill and the
		// e2e partition test (subnets 20-219) can run at the same time.
		subnet := 220 + os.Getpid()%30
		if c.ns, err = netns.New(fmt.Sprint("vd", subnet), subnet); err != nil {
			return fmt.Errorf("creating the master's network namespace: %w", err)
		}
	}
	if o.serverCopy {
		if err := os.Mkdir(filepath.Join(root, "bin"), 0o755); err != nil {
			return fmt.Errorf("creating the drill's bin directory: %w", err)
		}
		cp := filepath.Join(root, "bin", "vigil-server")
		if err := copyExecutable(server, cp); err != nil {
			return err
		}
		server = cp
	}
	for i := 0; i < 3; i++ {
		m := &member{name: "node" + strconv.Itoa(i), path: server}
		m.dir = filepath.Join(root, m.name)
		save := o.save
		if i > 0 && o.replicaSave != "" {
			save = o.replicaSave
		}
		bind := []string{"--bind", "127.0.0.1"}
		if c.ns != nil && i == 0 {
			// Inside the namespace: its loopback (the pinned client) and
			// its end of the veth pair (everyone else).
			bind = []string{"--bind", "0.0.0.0", "--protected-mode", "no"}
			m.host, m.wrap = c.ns.IP, c.ns.Command
		} else if c.ns != nil {
			// The replicas announce the host's end of the veth pair: the
			// address the isolated master reaches them at once healed.
			bind = []string{"--bind", "127.0.0.1", c.ns.HostIP, "--protected-mode", "no", "--replica-announce-ip", c.ns.HostIP}
			m.host = c.ns.HostIP
		}
		m.args = append(bind, "--dir", m.dir, "--save", save, "--enable-debug-command", "yes")
		if o.reference {
			m.args = append(m.args, "--min-replicas-to-write", strconv.Itoa(o.minReplicasToWrite))
		} else {
			m.args = append(m.args, "--sync-replicas", strconv.Itoa(o.syncReplicas))
		}
		m.args = append(m.args, o.nodeArgs...)
		if err := os.Mkdir(m.dir, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", m.dir, err)
		}
		c.nodes = append(c.nodes, m)
	}
	if err := c.nodes[0].start(ctx, ""); err != nil {
		return err
	}
	for _, m := range c.nodes[1:] {
		if err := m.start(ctx, c.nodes[0].replicaOfArg()); err != nil {
			return err
		}
	}
	// Replicas linked before the sentinels start, so the sentinels' first
	// INFO of the master lists both (the next one is 10 s later).
	for _, m := range c.nodes[1:] {
		if err := waitLinkUp(ctx, m, c.nodes[0]); err != nil {
			return err
		}
	}
	gossip, err := distinctPorts(3)
	if err != nil {
		return err
	}
	for i := 0; i < 3; i++ {
		_, gp, _ := strings.Cut(gossip[i], ":")
		m := &member{name: "sentinel" + strconv.Itoa(i), path: sentinel}
		m.dir = filepath.Join(root, m.name)
		if err := os.Mkdir(m.dir, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", m.dir, err)
		}
		monitor := fmt.Sprintf("%s %s %d 2", masterName, c.nodes[0].hostname(), c.nodes[0].port)
		downAfter := strconv.FormatInt(o.downAfter.Milliseconds(), 10)
		failoverTimeout := strconv.FormatInt(o.failoverTimeout.Milliseconds(), 10)
		if o.reference {
			// redis-sentinel needs a writable config file, which it
			// rewrites with what it learns (so a restart keeps it). It
			// announces itself on loopback, where it listens: by default
			// it would announce the address it reaches the master from,
			// the host's end of the veth pair in the partition drill.
			conf := filepath.Join(m.dir, "sentinel.conf")
			text := fmt.Sprintf("bind 127.0.0.1\ndir %s\nsentinel announce-ip 127.0.0.1\nsentinel monitor %s\nsentinel down-after-milliseconds %s %s\nsentinel failover-timeout %s %s\n",
				m.dir, monitor, masterName, downAfter, masterName, failoverTimeout)
			if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", conf, err)
			}
			m.args = []string{conf}
		} else {
			m.args = []string{"--bind", "127.0.0.1", "--dir", m.dir, "--gossip-port", gp, "--join", strings.Join(gossip, ","),
				"--monitor", monitor, "--down-after-milliseconds", downAfter, "--failover-timeout", failoverTimeout}
		}
		if err := m.start(ctx, ""); err != nil {
			return err
		}
		c.sentinels = append(c.sentinels, m)
		if err := c.events.watch(ctx, i, m.addr()); err != nil {
			return err
		}
	}
	return c.waitSentinelsReady(ctx, time.Minute)
}

// binaries returns the data node's and the sentinel's executables: vigil's
// from o.bin, or redis-server and redis-sentinel from PATH for a reference
// run.
func binaries(o topoOptions) (server, sentinel string, err error) {
	if o.reference {
		if server, err = exec.LookPath("redis-server"); err != nil {
			return "", "", fmt.Errorf("the reference needs redis-server 7: %w", err)
		}
		if sentinel, err = exec.LookPath("redis-sentinel"); err != nil {
			return "", "", fmt.Errorf("the reference needs redis-sentinel 7: %w", err)
		}
		return server, sentinel, nil
	}
	if server, err = filepath.Abs(filepath.Join(o.bin, "vigil-server")); err != nil {
		return "", "", err
	}
	if sentinel, err = filepath.Abs(filepath.Join(o.bin, "vigil-sentinel")); err != nil {
		return "", "", err
	}
	return server, sentinel, nil
}

// distinctPorts returns n loopback addresses with ports free a moment
// ago. The listeners stay open until all are picked: picked one after
// the other, the kernel may hand out the same port twice (seen: two
// sentinels given one gossip port).
func distinctPorts(n int) ([]string, error) {
	var out []string
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		defer l.Close()
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// waitLinkUp waits until m replicates from master with its link up.
func waitLinkUp(ctx context.Context, m, master *member) error {
	if err := waitUntil(ctx, 30*time.Second, func() error { return linkUp(ctx, m.addr(), master.addr()) }); err != nil {
		return fmt.Errorf("%s never linked to %s: %w", m.name, master.name, err)
	}
	return nil
}

// waitSentinelsReady waits until every sentinel sees the master up, both
// replicas and both peers.
func (c *cluster) waitSentinelsReady(ctx context.Context, timeout time.Duration) error {
	return waitUntil(ctx, timeout, func() error {
		for _, s := range c.sentinels {
			info, err := query(ctx, s.addr(), "INFO", "sentinel")
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			if !strings.Contains(info, "status=ok") || !strings.Contains(info, "slaves=2,sentinels=3") {
				return fmt.Errorf("%s does not see the whole topology yet: %s", s.name, lastLine(info))
			}
		}
		return nil
	})
}

// sentinelAddrs are the sentinels' RESP addresses.
func (c *cluster) sentinelAddrs() []string {
	var out []string
	for _, s := range c.sentinels {
		out = append(out, s.addr())
	}
	return out
}

// nodeByAddr returns the data node listening on addr.
func (c *cluster) nodeByAddr(addr string) *member {
	for _, m := range c.nodes {
		if m.addr() == addr {
			return m
		}
	}
	return nil
}

// masterAddr asks the sentinels where the master is; the first running
// sentinel that answers wins.
func (c *cluster) masterAddr(ctx context.Context) (string, error) {
	var lastErr error = errors.New("no sentinel is running")
	for _, s := range c.sentinels {
		if !s.running() {
			continue
		}
		a, err := sentinelMaster(ctx, s.addr())
		if err == nil {
			return a, nil
		}
		lastErr = fmt.Errorf("%s: %w", s.name, err)
	}
	return "", lastErr
}

// all runs f on every member concurrently and joins the errors: a crash
// of the whole deployment or its restart happens at once, not one by one.
func all(ms []*member, f func(*member) error) error {
	errs := make([]error, len(ms))
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(m)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// close stops every process (sentinels first, so that they do not react
// to the data nodes going away) and removes the directory unless keep.
func (c *cluster) close(keep bool) {
	c.events.close()
	for _, s := range c.sentinels {
		if s.p != nil {
			s.p.Thaw()
			s.p.Stop()
		}
	}
	for _, m := range c.nodes {
		if m.p != nil {
			m.p.Thaw()
			m.p.Stop()
		}
	}
	if c.ns != nil {
		c.ns.Close()
	}
	if !keep {
		os.RemoveAll(c.root)
	}
}

// event is one message a sentinel published.
type event struct {
	At       time.Time
	Sentinel int
	Type     string
	Msg      string
}

// eventLog records the events of every sentinel (PSUBSCRIBE *).
type eventLog struct {
	mu   sync.Mutex
	evs  []event
	subs map[int]*redis.PubSub
	cls  []*redis.Client
	// more is closed (and replaced) when an event arrives, so a drill
	// reacts within a millisecond: the leader-kill drill must strike
	// before the leader's next 25 ms step.
	more chan struct{}
}

func newEventLog() *eventLog {
	return &eventLog{subs: map[int]*redis.PubSub{}, more: make(chan struct{})}
}

// watch subscribes to sentinel i's events and returns once the
// subscription is in place. A later watch of the same sentinel (after a
// restart) replaces the earlier subscription.
func (l *eventLog) watch(ctx context.Context, i int, addr string) error {
	cl := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, DialTimeout: time.Second})
	ps := cl.PSubscribe(ctx, "*")
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := ps.Receive(rctx); err != nil {
		ps.Close()
		cl.Close()
		return fmt.Errorf("subscribing to the events of sentinel %d: %w", i, err)
	}
	l.mu.Lock()
	if old := l.subs[i]; old != nil {
		old.Close()
	}
	l.subs[i] = ps
	l.cls = append(l.cls, cl)
	l.mu.Unlock()
	ch := ps.Channel()
	go func() {
		for m := range ch {
			l.mu.Lock()
			l.evs = append(l.evs, event{At: time.Now(), Sentinel: i, Type: m.Channel, Msg: m.Payload})
			close(l.more)
			l.more = make(chan struct{})
			l.mu.Unlock()
		}
	}()
	return nil
}

// unwatch drops the subscription to sentinel i (before it is killed, so
// the client does not keep redialling a dead port).
func (l *eventLog) unwatch(i int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ps := l.subs[i]; ps != nil {
		ps.Close()
		delete(l.subs, i)
	}
}

// find returns the first event at or after since that matches, and a
// channel closed when another event arrives.
func (l *eventLog) find(since time.Time, match func(event) bool) (event, bool, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.evs {
		if !e.At.Before(since) && match(e) {
			return e, true, l.more
		}
	}
	return event{}, false, l.more
}

// wait waits up to timeout for an event at or after since that matches.
func (l *eventLog) wait(ctx context.Context, since time.Time, timeout time.Duration, match func(event) bool) (event, error) {
	deadline := time.After(timeout)
	for {
		e, ok, more := l.find(since, match)
		if ok {
			return e, nil
		}
		select {
		case <-more:
		case <-deadline:
			return event{}, fmt.Errorf("none within %v", timeout)
		case <-ctx.Done():
			return event{}, ctx.Err()
		}
	}
}

// all returns a copy of every recorded event.
func (l *eventLog) all() []event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.evs)
}

func (l *eventLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, ps := range l.subs {
		ps.Close()
		delete(l.subs, i)
	}
	for _, cl := range l.cls {
		cl.Close()
	}
	l.cls = nil
}

// isType matches events of one type.
func isType(typ string) func(event) bool {
	return func(e event) bool { return e.Type == typ }
}

// waitUntil calls f every 50 ms until it returns nil, and returns f's
// last error if that does not happen within timeout.
func waitUntil(ctx context.Context, timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
