package sentinel

import (
	"fmt"
	"net"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

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
	wmu      sync.Mutex
	proto    int
	channels map[string]bool
	patterns map[string]bool
}

func (s *Sentinel) serve(ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		c := &conn{s: s, nc: nc, proto: 2, channels: map[string]bool{}, patterns: map[string]bool{}}
		go c.run()
	}
}

func (c *conn) write(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
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
		if ok, _ := path.Match(p, channel); ok {
			w.Push(4)
			w.BulkString("pmessage")
			w.BulkString(p)
			w.BulkString(channel)
			w.BulkString(msg)
		}
	}
	if w.Len() > 0 {
		c.write(w.Buf)
	}
}

func (c *conn) run() {
	defer func() {
		c.s.subs.mu.Lock()
		delete(c.s.subs.subs, c)
		c.s.subs.mu.Unlock()
		c.nc.Close()
	}()
	rd := resp.NewRequestReader(c.nc)
	for {
		args, err := rd.Next()
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
		quit := c.exec(w, args)
		if w.Len() > 0 {
			c.write(w.Buf)
		}
		if quit {
			return
		}
	}
}

func argIs(a []byte, s string) bool { return strings.EqualFold(string(a), s) }

// exec runs one command and reports whether to close the connection.
func (c *conn) exec(w *resp.Writer, args [][]byte) bool {
	s := c.s
	cmd := strings.ToLower(string(args[0]))
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
		proto := 2
		if len(args) > 1 {
			n, err := strconv.Atoi(string(args[1]))
			if err != nil || n < 2 || n > 3 {
				w.Error("NOPROTO unsupported protocol version")
				return false
			}
			proto = n
		}
		s.subs.mu.Lock()
		c.proto = proto
		s.subs.mu.Unlock()
		w.Proto = proto
		w.Map(7)
		for _, kv := range [][2]string{{"server", "redis"}, {"version", "7.0.15"}, {"mode", "sentinel"}, {"role", "sentinel"}} {
			w.BulkString(kv[0])
			w.BulkString(kv[1])
		}
		w.BulkString("proto")
		w.Int(int64(proto))
		w.BulkString("id")
		w.Int(1)
		w.BulkString("modules")
		w.Array(0)
	case "client", "auth", "select":
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
	default:
		w.Error(fmt.Sprintf("ERR unknown command '%s', with args beginning with: ", args[0]))
	}
	return false
}

func (c *conn) sentinelCmd(w *resp.Writer, args [][]byte) {
	s := c.s
	if len(args) < 2 {
		w.Error("ERR wrong number of arguments for 'sentinel' command")
		return
	}
	sub := strings.ToLower(string(args[1]))
	group := func() *group {
		if len(args) < 3 {
			w.Error("ERR wrong number of arguments for 'sentinel|" + sub + "' command")
			return nil
		}
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
		alive := s.aliveSentinels() // before the lock: see aliveSentinels
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(args) != 3 {
			w.Error("ERR wrong number of arguments for 'sentinel|get-master-addr-by-name' command")
			return
		}
		g := s.grps[string(args[2])]
		if g == nil {
			w.NullArray()
			return
		}
		if s.tilted(time.Now()) {
			w.Error("TILT This sentinel is in TILT mode (its timer stalled or its clock jumped); ask another one")
			return
		}
		if !s.inMajority(alive) {
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
		w.Array(len(s.grps))
		for _, g := range s.grps {
			s.writeMaster(w, g)
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
		for _, r := range g.replicas {
			flags := "slave"
			if now.Sub(r.lastOK) > g.cfg.DownAfter {
				flags += ",s_down"
			}
			fields := [][2]string{{"name", r.addr()}, {"ip", r.host}, {"port", strconv.Itoa(r.port)}, {"runid", r.runID},
				{"flags", flags}, {"role-reported", "slave"}, {"master-host", r.mHost}, {"master-port", strconv.Itoa(r.mPort)},
				{"slave-priority", strconv.Itoa(r.priority)}, {"slave-repl-offset", strconv.FormatInt(r.offset, 10)}}
			writeFields(w, fields)
		}
	case "sentinels":
		s.mu.Lock()
		defer s.mu.Unlock()
		if g := group(); g == nil {
			return
		}
		peers := s.peerList()
		w.Array(len(peers))
		for _, p := range peers {
			host, port, _ := net.SplitHostPort(p.addr)
			writeFields(w, [][2]string{{"name", p.id}, {"ip", host}, {"port", port}, {"runid", p.id}, {"flags", "sentinel"}})
		}
	case "is-master-down-by-addr":
		if len(args) != 6 {
			w.Error("ERR wrong number of arguments for 'sentinel|is-master-down-by-addr' command")
			return
		}
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
		alive := s.aliveSentinels() // before the lock: see aliveSentinels
		s.mu.Lock()
		defer s.mu.Unlock()
		g := group()
		if g == nil {
			return
		}
		voters := len(s.st.Peers) + 1
		switch {
		case alive < g.cfg.Quorum:
			w.Error(fmt.Sprintf("NOQUORUM %d usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master", alive))
		case alive < voters/2+1:
			w.Error(fmt.Sprintf("NOQUORUM %d usable Sentinels. Not enough available Sentinels to reach the majority and authorize a failover", alive))
		default:
			w.Simple(fmt.Sprintf("OK %d usable Sentinels. Quorum and failover authorization can be reached", alive))
		}
	case "reset":
		// Forget the replicas and the sentinels not alive now; they are
		// rediscovered from INFO and gossip.
		if len(args) != 3 {
			w.Error("ERR wrong number of arguments for 'sentinel|reset' command")
			return
		}
		// The live members are read before the lock: see aliveSentinels.
		alive := map[string]bool{}
		if s.ml != nil {
			for _, m := range s.ml.Members() {
				alive[m.Name] = true
			}
		}
		s.mu.Lock()
		n := 0
		for name, g := range s.grps {
			if ok, _ := path.Match(string(args[2]), name); !ok {
				continue
			}
			n++
			for a, r := range g.replicas {
				close(r.stop)
				r.client.Close()
				delete(g.replicas, a)
			}
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
		s.mu.Unlock()
		w.Int(int64(n))
	case "failover":
		s.mu.Lock()
		defer s.mu.Unlock()
		g := group()
		if g == nil {
			return
		}
		if g.failing != nil {
			w.Error("INPROG Failover already in progress")
			return
		}
		g.forced = true
		g.nextAttempt = time.Now()
		w.OK()
	default:
		w.Error("ERR unknown subcommand '" + string(args[1]) + "'. Try SENTINEL HELP.")
	}
}

// writeMaster writes SENTINEL MASTER's flat field/value array; under the
// lock.
func (s *Sentinel) writeMaster(w *resp.Writer, g *group) {
	m := g.master
	flags := "master"
	if !g.sdownSince.IsZero() {
		flags += ",s_down"
	}
	if g.odown {
		flags += ",o_down"
	}
	if g.failing != nil {
		flags += ",failover_in_progress"
	}
	gc := s.st.Groups[g.cfg.Name]
	writeFields(w, [][2]string{{"name", g.cfg.Name}, {"ip", m.host}, {"port", strconv.Itoa(m.port)}, {"runid", m.runID},
		{"flags", flags}, {"role-reported", "master"}, {"config-epoch", strconv.FormatUint(gc.ConfigEpoch, 10)},
		{"num-slaves", strconv.Itoa(len(g.replicas))}, {"num-other-sentinels", strconv.Itoa(len(s.peers))},
		{"quorum", strconv.Itoa(g.cfg.Quorum)}, {"down-after-milliseconds", strconv.FormatInt(g.cfg.DownAfter.Milliseconds(), 10)},
		{"failover-timeout", strconv.FormatInt(g.cfg.FailoverTimeout.Milliseconds(), 10)}, {"parallel-syncs", strconv.Itoa(g.cfg.ParallelSyncs)}})
}

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
	fmt.Fprintf(&b, "# Sentinel\r\nsentinel_masters:%d\r\nsentinel_tilt:%d\r\nsentinel_running_scripts:0\r\nsentinel_scripts_queue_length:0\r\nsentinel_simulate_failure_flags:0\r\n", len(s.grps), boolInt(s.tilted(time.Now())))
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
