package sentinel

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/vigilkv/vigil/failover"
	"github.com/vigilkv/vigil/internal/glob"
	"github.com/vigilkv/vigil/internal/resp"
)

// The Redis Sentinel API on the sentinel's port: what go-redis's
// FailoverClient, redis-cli and operators use.

// pubsub fans events out to subscribed connections.
type pubsub struct {
	mu   sync.Mutex
	subs map[*conn]bool
}

func newPubsub() *pubsub { return &pubsub{subs: map[*conn]bool{}} }

func (p *pubsub) publish(channel, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.subs {
		c.deliver(channel, msg)
	}
}

// conn is one client connection.
type conn struct {
	s        *Sentinel
	nc       net.Conn
	proto    int
	channels map[string]bool
	patterns map[string]bool
	// meta is guarded by s.clients.mu.
	meta clientMeta
	// out queues everything written to a subscribed connection (see
	// outqueue.go); out and drained are set under s.subs.mu.
	out     chan []byte
	drained chan struct{}
	// authed is set by a successful AUTH or HELLO ... AUTH; without a
	// requirepass no command needs it.
	authed atomic.Bool
}

func (s *Sentinel) serve(ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		c := &conn{s: s, nc: nc, proto: 2, channels: map[string]bool{}, patterns: map[string]bool{}}
		s.clients.add(c)
		go c.run()
	}
}

// write sends a reply; only the connection's own goroutine calls it. A
// subscribed connection's replies go through its queue, behind the
// events queued before them; waiting there is fine, the queue drains.
func (c *conn) write(b []byte) {
	c.s.subs.mu.Lock()
	out := c.out
	c.s.subs.mu.Unlock()
	if out != nil {
		out <- b
		return
	}
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	c.nc.Write(b)
}

func (c *conn) deliver(channel, msg string) {
	w := resp.NewWriter()
	w.Proto = c.proto
	if c.channels[channel] {
		w.Push(3)
		w.BulkString("message")
		w.BulkString(channel)
		w.BulkString(msg)
	}
	for p := range c.patterns {
		if glob.MatchString(p, channel, false) {
			w.Push(4)
			w.BulkString("pmessage")
			w.BulkString(p)
			w.BulkString(channel)
			w.BulkString(msg)
		}
	}
	if w.Len() > 0 {
		c.enqueue(w.Buf)
	}
}

func (c *conn) run() {
	defer func() {
		c.s.subs.mu.Lock()
		delete(c.s.subs.subs, c)
		c.s.subs.mu.Unlock()
		c.stopQueue()
		c.s.clients.remove(c)
		c.nc.Close()
	}()
	var args [][]byte
	defer func() {
		// Commands let their locks go by defer (where one is held over
		// more than a map read), so a bug costs this connection, not the
		// process and its votes.
		if r := recover(); r != nil {
			name := ""
			if len(args) > 0 {
				name = string(args[0])
			}
			c.s.log.Error("a command panicked: its connection is closed (a bug in vigil-sentinel)",
				zap.String("command", name), zap.Any("panic", r), zap.Stack("stack"))
		}
	}()
	rd := resp.NewRequestReader(c.nc)
	for {
		var err error
		args, err = rd.Next()
		if err == resp.ErrIncomplete {
			if rd.Fill() != nil {
				return
			}
			continue
		}
		if err != nil {
			return
		}
		if len(args) == 0 {
			continue
		}
		w := resp.NewWriter()
		c.s.subs.mu.Lock()
		w.Proto = c.proto
		c.s.subs.mu.Unlock()
		c.s.clients.touch(c, args)
		quit := c.exec(w, args)
		if w.Len() > 0 {
			c.write(w.Buf)
		}
		c.s.clients.mu.Lock()
		quit = quit || c.meta.closeAfterReply
		c.s.clients.mu.Unlock()
		if quit {
			return
		}
	}
}

func argIs(a []byte, s string) bool { return strings.EqualFold(string(a), s) }

// reset is SENTINEL RESET: the groups matching pattern forget their
// replicas and the sentinels not alive now (they are rediscovered from
// INFO and gossip). It returns how many groups matched.
func (s *Sentinel) reset(pattern string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	alive := s.alive
	for name, g := range s.grps {
		if !glob.MatchString(pattern, name, false) {
			continue
		}
		n++
		for a, r := range g.replicas {
			close(r.stop)
			r.client.Close()
			delete(g.replicas, a)
		}
		s.recordReplicas(g)
		// As Redis's reset, this ends a failover in progress.
		g.failing, g.reconf, g.votes = nil, nil, nil
		s.event("+reset-master", fmt.Sprintf("master %s %s %d", name, g.master.host, g.master.port))
	}
	if n > 0 {
		for id := range s.st.Peers {
			if !alive[id] {
				delete(s.st.Peers, id)
				if p := s.peers[id]; p != nil {
					p.client.Close()
					delete(s.peers, id)
				}
			}
		}
		s.persist()
	}
	return n
}

// exec runs one command and reports whether to close the connection.
func (c *conn) exec(w *resp.Writer, args [][]byte) bool {
	s := c.s
	cmd := strings.ToLower(string(args[0]))
	var e string
	if !c.authed.Load() && s.requirePass() != "" {
		e = preAuthError(args)
	} else {
		e = commandError(args)
	}
	if e != "" {
		w.Error(e)
		return false
	}
	switch cmd {
	case "ping":
		if len(args) > 1 {
			w.Bulk(args[1])
		} else {
			w.Simple("PONG")
		}
	case "quit":
		w.OK()
		return true
	case "hello":
		c.helloCmd(w, args)
	case "client":
		c.clientCmd(w, args)
	case "auth":
		c.authCmd(w, args)
	case "select":
		w.OK()
	case "info":
		w.BulkString(s.info())
	case "role":
		w.Array(2)
		w.BulkString("sentinel")
		s.mu.Lock()
		names := make([]string, 0, len(s.grps))
		for n := range s.grps {
			names = append(names, n)
		}
		s.mu.Unlock()
		sort.Strings(names)
		w.BulkStrings(names)
	case "subscribe", "psubscribe":
		s.subs.mu.Lock()
		for _, a := range args[1:] {
			if cmd == "subscribe" {
				c.channels[string(a)] = true
			} else {
				c.patterns[string(a)] = true
			}
			w.Push(3)
			w.BulkString(cmd)
			w.Bulk(a)
			w.Int(int64(len(c.channels) + len(c.patterns)))
		}
		s.subs.subs[c] = true
		// The confirmation is queued before any event can be, as Redis
		// sends it first.
		c.startQueue()
		c.enqueue(append([]byte(nil), w.Buf...))
		w.Reset()
		s.subs.mu.Unlock()
	case "unsubscribe", "punsubscribe":
		s.subs.mu.Lock()
		set := c.channels
		if cmd == "punsubscribe" {
			set = c.patterns
		}
		names := args[1:]
		if len(names) == 0 {
			for k := range set {
				names = append(names, []byte(k))
			}
		}
		for _, a := range names {
			delete(set, string(a))
			w.Push(3)
			w.BulkString(cmd)
			w.Bulk(a)
			w.Int(int64(len(c.channels) + len(c.patterns)))
		}
		s.subs.mu.Unlock()
	case "sentinel":
		c.sentinelCmd(w, args)
	case "publish":
		if string(args[1]) != "__sentinel__:hello" {
			w.Error("ERR Only HELLO messages are accepted by Sentinel instances.")
			return false
		}
		// Accepted and ignored: vigil sentinels learn each other through
		// gossip, not through hello messages.
		w.Int(1)
	default:
		w.Error(unknownCommand(args))
	}
	return false
}

// helloCmd is HELLO [protover [AUTH user pass] [SETNAME name]]: the
// options are applied in order, as Redis does (an AUTH before a bad
// option has authenticated), and without a version the protocol stays
// as it is.
func (c *conn) helloCmd(w *resp.Writer, args [][]byte) {
	s := c.s
	s.subs.mu.Lock()
	proto := c.proto
	s.subs.mu.Unlock()
	if len(args) > 1 {
		n, err := strconv.ParseInt(string(args[1]), 10, 64)
		if err != nil {
			w.Error("ERR Protocol version is not an integer or out of range")
			return
		}
		if n < 2 || n > 3 {
			w.Error("NOPROTO unsupported protocol version")
			return
		}
		proto = int(n)
	}
	for i := 2; i < len(args); i++ {
		more := len(args) - 1 - i
		switch {
		case argIs(args[i], "auth") && more >= 2:
			if !s.checkPassword(string(args[i+1]), string(args[i+2])) {
				w.Error(errWrongPass)
				return
			}
			c.authed.Store(true)
			i += 2
		case argIs(args[i], "setname") && more >= 1:
			if !validClientName(string(args[i+1])) {
				w.Error("ERR Client names cannot contain spaces, newlines or special characters.")
				return
			}
			s.clients.mu.Lock()
			c.meta.name = string(args[i+1])
			s.clients.mu.Unlock()
			i++
		default:
			w.Error(fmt.Sprintf("ERR Syntax error in HELLO option '%s'", args[i]))
			return
		}
	}
	if !c.authed.Load() && s.requirePass() != "" {
		w.Error(errHelloNoAuth)
		return
	}
	s.subs.mu.Lock()
	c.proto = proto
	s.subs.mu.Unlock()
	w.Proto = proto
	// Redis Sentinel 7's HELLO: no "role" field.
	w.Map(6)
	for _, kv := range [][2]string{{"server", "redis"}, {"version", "7.0.15"}} {
		w.BulkString(kv[0])
		w.BulkString(kv[1])
	}
	w.BulkString("proto")
	w.Int(int64(proto))
	w.BulkString("id")
	s.clients.mu.Lock()
	w.Int(c.meta.id)
	s.clients.mu.Unlock()
	w.BulkString("mode")
	w.BulkString("sentinel")
	w.BulkString("modules")
	w.Array(0)
}

// unknownCommand is Redis's error for a command it does not know,
// quoting the first arguments.
func unknownCommand(args [][]byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ERR unknown command '%s', with args beginning with: ", trunc(args[0]))
	for _, a := range args[1:] {
		if b.Len() > 512 {
			break
		}
		fmt.Fprintf(&b, "'%s' ", trunc(a))
	}
	return b.String()
}

func trunc(a []byte) []byte {
	if len(a) > 128 {
		return a[:128]
	}
	return a
}

func (c *conn) sentinelCmd(w *resp.Writer, args [][]byte) {
	s := c.s
	sub := strings.ToLower(string(args[1]))
	group := func() *group {
		g := s.grps[string(args[2])]
		if g == nil {
			w.Error("ERR No such master with that name")
		}
		return g
	}
	switch sub {
	case "myid":
		w.BulkString(s.st.MyID)
	case "get-master-addr-by-name":
		s.mu.Lock()
		defer s.mu.Unlock()
		g := s.grps[string(args[2])]
		if g == nil {
			w.NullArray()
			return
		}
		if s.tilted(time.Now()) {
			w.Error("TILT This sentinel is in TILT mode (its timer stalled or its clock jumped); ask another one")
			return
		}
		if !s.inMajority() || !s.confirmedByMajority(g, time.Now()) {
			// On the minority side of a partition our answer may be stale:
			// say so rather than send a client to an old master.
			w.Error("NOQUORUM This sentinel cannot reach a majority of the known sentinels; ask another one")
			return
		}
		w.Array(2)
		w.BulkString(g.master.host)
		w.BulkString(strconv.Itoa(g.master.port))
	case "masters":
		s.mu.Lock()
		defer s.mu.Unlock()
		// By name, so the order is stable across calls.
		names := make([]string, 0, len(s.grps))
		for n := range s.grps {
			names = append(names, n)
		}
		sort.Strings(names)
		w.Array(len(names))
		for _, n := range names {
			s.writeMaster(w, s.grps[n])
		}
	case "master":
		s.mu.Lock()
		defer s.mu.Unlock()
		if g := group(); g != nil {
			s.writeMaster(w, g)
		}
	case "replicas", "slaves":
		s.mu.Lock()
		defer s.mu.Unlock()
		g := group()
		if g == nil {
			return
		}
		w.Array(len(g.replicas))
		now := time.Now()
		for _, r := range sortedReplicas(g) {
			s.writeReplica(w, g, r, now)
		}
	case "sentinels":
		s.mu.Lock()
		defer s.mu.Unlock()
		if g := group(); g == nil {
			return
		}
		peers := s.peerList()
		w.Array(len(peers))
		now := time.Now()
		for _, p := range peers {
			host, port, _ := net.SplitHostPort(p.addr)
			// A peer gossip sees gone is listed with how long, as Redis
			// lists a sentinel in s_down (forget-after, RESET forget it).
			down := s.peerDownFor(p.id, now)
			flags := "sentinel"
			if down > 0 {
				flags = "s_down,sentinel"
			}
			fields := [][2]string{{"name", p.id}, {"ip", host}, {"port", port}, {"runid", p.id}, {"flags", flags}}
			if down > 0 {
				fields = append(fields, [2]string{"s-down-time", ms(down)})
			}
			writeFields(w, fields)
		}
	case "is-master-down-by-addr":
		port, err1 := strconv.Atoi(string(args[3]))
		epoch, err2 := strconv.ParseUint(string(args[4]), 10, 64)
		if err1 != nil || err2 != nil {
			w.Error("ERR value is not an integer or out of range")
			return
		}
		down, leader, le := s.isMasterDown(string(args[2]), port, epoch, string(args[5]))
		w.Array(3)
		w.Int(down)
		w.BulkString(leader)
		w.Int(int64(le))
	case "ckquorum":
		s.mu.Lock()
		defer s.mu.Unlock()
		g := group()
		if g == nil {
			return
		}
		voters := len(s.st.Peers) + 1
		alive := s.aliveCount()
		switch {
		case alive < g.cfg.Quorum:
			w.Error(fmt.Sprintf("NOQUORUM %d usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master", alive))
		case alive < voters/2+1:
			w.Error(fmt.Sprintf("NOQUORUM %d usable Sentinels. Not enough available Sentinels to reach the majority and authorize a failover", alive))
		default:
			w.Simple(fmt.Sprintf("OK %d usable Sentinels. Quorum and failover authorization can be reached", alive))
		}
	case "reset":
		w.Int(int64(s.reset(string(args[2]))))
	case "failover":
		s.mu.Lock()
		defer s.mu.Unlock()
		g := group()
		if g == nil {
			return
		}
		if g.failing != nil || g.reconf != nil {
			w.Error("INPROG Failover already in progress")
			return
		}
		// Said now, as Redis says it, rather than OK and then an abort
		// the operator sees only as an event; a replica left out only for
		// an old INFO may still qualify once the failover polls it.
		if p, excluded := s.selectReplica(g, time.Now()); p == nil && !failover.InfoPending(excluded) {
			w.Error("NOGOODSLAVE No suitable replica to promote")
			return
		}
		g.forced = true
		g.nextAttempt = time.Now()
		w.OK()
	case "help":
		helpCmd(w)
	case "pending-scripts":
		// vigil runs no notification or reconfiguration scripts.
		w.Array(0)
	case "debug":
		s.mu.Lock()
		defer s.mu.Unlock()
		s.debugCmd(w, args)
	case "monitor":
		s.monitorCmd(w, args) // takes the lock after its DNS lookup
	case "remove", "set", "config", "flushconfig", "info-cache", "simulate-failure":
		s.mu.Lock()
		defer s.mu.Unlock()
		map[string]func(*resp.Writer, [][]byte){"remove": s.removeCmd, "set": s.setCmd,
			"config": s.configCmd, "flushconfig": s.flushConfigCmd, "info-cache": s.infoCacheCmd,
			"simulate-failure": s.simulateCmd}[sub](w, args)
	default:
		w.Error("ERR unknown subcommand '" + string(args[1]) + "'. Try SENTINEL HELP.")
	}
}

// sortedReplicas lists g's replicas by address, for stable replies; under
// the lock.
func sortedReplicas(g *group) []*instance {
	out := make([]*instance, 0, len(g.replicas))
	for _, r := range g.replicas {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].addr() < out[j].addr() })
	return out
}

// writeMaster writes SENTINEL MASTER's flat field/value array, with
// Redis Sentinel 7's fields in its order; under the lock.
func (s *Sentinel) writeMaster(w *resp.Writer, g *group) {
	m := g.master
	now := time.Now()
	// Redis's order: s_down, o_down, then the role.
	flags := ""
	if !g.sdownSince.IsZero() {
		flags += "s_down,"
	}
	if g.odown {
		flags += "o_down,"
	}
	flags += "master"
	if g.failing != nil || g.reconf != nil {
		flags += ",failover_in_progress"
	}
	gc := s.st.Groups[g.cfg.Name]
	fields := [][2]string{{"name", g.cfg.Name}, {"ip", m.host}, {"port", strconv.Itoa(m.port)}, {"runid", m.runID}, {"flags", flags}}
	fields = append(fields, linkFields(m, now)...)
	if !g.sdownSince.IsZero() {
		fields = append(fields, [2]string{"s-down-time", ms(now.Sub(g.sdownSince))})
	}
	if g.odown {
		fields = append(fields, [2]string{"o-down-time", ms(now.Sub(g.odownSince))})
	}
	fields = append(fields, [][2]string{{"down-after-milliseconds", ms(g.cfg.DownAfter)}}...)
	fields = append(fields, infoFields(m, "master", now)...)
	fields = append(fields, [][2]string{{"config-epoch", strconv.FormatUint(gc.ConfigEpoch, 10)},
		{"num-slaves", strconv.Itoa(len(g.replicas))}, {"num-other-sentinels", strconv.Itoa(len(s.peers))},
		{"quorum", strconv.Itoa(g.cfg.Quorum)}, {"failover-timeout", ms(g.cfg.FailoverTimeout)},
		{"parallel-syncs", strconv.Itoa(g.cfg.ParallelSyncs)}}...)
	writeFields(w, fields)
}

// writeReplica writes one entry of SENTINEL REPLICAS, Redis Sentinel 7's
// fields in its order; under the lock.
func (s *Sentinel) writeReplica(w *resp.Writer, g *group, r *instance, now time.Time) {
	// Redis's order: s_down, the role, disconnected.
	flags := "slave"
	down := downFor(g, r, now)
	if down > 0 {
		flags = "s_down,slave"
	}
	if r.lastOK.IsZero() {
		flags += ",disconnected"
	}
	fields := [][2]string{{"name", r.addr()}, {"ip", r.host}, {"port", strconv.Itoa(r.port)}, {"runid", r.runID}, {"flags", flags}}
	fields = append(fields, linkFields(r, now)...)
	if down > 0 {
		// How long it has been unreachable (forget-after, RESET forget
		// it), where Redis puts it.
		fields = append(fields, [2]string{"s-down-time", ms(down)})
	}
	fields = append(fields, [2]string{"down-after-milliseconds", ms(g.cfg.DownAfter)})
	fields = append(fields, infoFields(r, "slave", now)...)
	status := "err"
	if r.linkUp {
		status = "ok"
	}
	fields = append(fields, [][2]string{{"master-link-down-time", ms(r.linkDown)}, {"master-link-status", status},
		{"master-host", r.mHost}, {"master-port", strconv.Itoa(r.mPort)}, {"slave-priority", strconv.Itoa(r.priority)},
		{"slave-repl-offset", strconv.FormatInt(r.offset, 10)}, {"replica-announced", "1"}}...)
	writeFields(w, fields)
}

// linkFields are the link fields of an instance. Pings are not tracked
// one by one, so last-ping-sent is 0 (no ping pending) and both reply
// ages are the age of the last valid reply.
func linkFields(in *instance, now time.Time) [][2]string {
	age := "0"
	if !in.lastOK.IsZero() {
		age = ms(now.Sub(in.lastOK))
	}
	return [][2]string{{"link-pending-commands", "0"}, {"link-refcount", "1"}, {"last-ping-sent", "0"},
		{"last-ok-ping-reply", age}, {"last-ping-reply", age}}
}

// infoFields are the INFO-derived fields of an instance; role is what
// the group expects it to be until INFO says.
func infoFields(in *instance, role string, now time.Time) [][2]string {
	refresh, roleAge := "0", "0"
	if !in.infoTime.IsZero() {
		refresh = ms(now.Sub(in.infoTime))
	}
	if in.role != "" {
		role = in.role
		roleAge = ms(now.Sub(in.roleTime))
	}
	return [][2]string{{"info-refresh", refresh}, {"role-reported", role}, {"role-reported-time", roleAge}}
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

func writeFields(w *resp.Writer, fields [][2]string) {
	if w.Proto >= 3 {
		w.Map(len(fields))
	} else {
		w.Array(2 * len(fields))
	}
	for _, f := range fields {
		w.BulkString(f[0])
		w.BulkString(f[1])
	}
}

// info is INFO: the server fields and Redis Sentinel's # Sentinel section.
func (s *Sentinel) info() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "# Server\r\nredis_version:7.0.15\r\nredis_mode:sentinel\r\nrun_id:%s\r\ntcp_port:%d\r\n\r\n", s.st.MyID, s.cfg.Port)
	fmt.Fprintf(&b, "# Sentinel\r\nsentinel_masters:%d\r\nsentinel_tilt:%d\r\nsentinel_running_scripts:0\r\nsentinel_scripts_queue_length:0\r\nsentinel_simulate_failure_flags:%d\r\n", len(s.grps), boolInt(s.tilted(time.Now())), s.simulate)
	// vigil's own: how many sentinels the gossip reaches (this one
	// included), and whether it is encrypted.
	fmt.Fprintf(&b, "sentinel_gossip_alive:%d\r\nsentinel_gossip_encrypted:%d\r\n", s.aliveCount(), boolInt(len(s.cfg.GossipKeys) > 0))
	names := make([]string, 0, len(s.grps))
	for n := range s.grps {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		g := s.grps[n]
		status := "ok"
		if g.odown {
			status = "odown"
		} else if !g.sdownSince.IsZero() {
			status = "sdown"
		}
		fmt.Fprintf(&b, "master%d:name=%s,status=%s,address=%s,slaves=%d,sentinels=%d\r\n", i, n, status, g.master.addr(), len(g.replicas), len(s.peers)+1)
	}
	return b.String()
}
