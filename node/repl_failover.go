package node

import (
	"errors"
	"net"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/vigilkv/vigil/internal/resp"
)

// FAILOVER (Redis 6.2's coordinated failover): the master pauses writes,
// waits until the target replica has every byte of its stream, then
// becomes that replica's replica, asking it (PSYNC ... FAILOVER) to
// promote itself first. The old master continues with a partial resync
// and no acknowledged write is lost.

// failoverState is a running FAILOVER; under the lock.
type failoverState struct {
	state    string // no-failover, waiting-for-sync, failover-in-progress
	target   *replicaInfo
	host     string
	port     int
	deadline time.Time // zero: no timeout
	force    bool
}

func failoverCommands() []*Command {
	return []*Command{
		{Name: "failover", Arity: -1, Flags: FlagAdmin | FlagNoScript | FlagStale, Categories: []string{"admin", "slow", "dangerous"}, Group: "server", Since: "6.2.0",
			Summary: "Start a coordinated failover between this server and one of its replicas.", Complexity: "O(1)", Handler: cmdFailover},
	}
}

func cmdFailover(c *Ctx) {
	s := c.Srv
	r := &s.repl
	var host string
	port, timeoutMs := -1, int64(0)
	force, abort := false, false
	for i := 1; i < len(c.Args); i++ {
		switch {
		case c.ArgIs(i, "to") && i+2 < len(c.Args) && host == "":
			host = c.Str(i + 1)
			n, ok := ParseInt(c.Args[i+2])
			if !ok || n < 0 || n > 65535 {
				c.Error("ERR Invalid port")
				return
			}
			port = int(n)
			i += 2
		case c.ArgIs(i, "timeout") && i+1 < len(c.Args) && timeoutMs == 0:
			n, ok := c.Int(i + 1)
			if !ok {
				return
			}
			if n <= 0 {
				c.Error("ERR FAILOVER timeout must be greater than 0")
				return
			}
			timeoutMs = n
			i++
		case c.ArgIs(i, "force"):
			force = true
		case c.ArgIs(i, "abort"):
			abort = true
		default:
			c.SyntaxError()
			return
		}
	}
	if abort {
		if host != "" || force || timeoutMs != 0 {
			c.SyntaxError()
			return
		}
		if r.failover.state == "" || r.failover.state == "no-failover" {
			c.Error("ERR FAILOVER is not in progress.")
			return
		}
		s.abortFailover("failover aborted by user")
		c.W.OK()
		return
	}
	if force && (timeoutMs == 0 || host == "") {
		c.Error("ERR FAILOVER with force option requires both a timeout and target HOST and IP.")
		return
	}
	if r.isReplica() {
		c.Error("ERR FAILOVER is not valid when server is a replica.")
		return
	}
	if r.visibleReplicas() == 0 {
		c.Error("ERR FAILOVER requires connected replicas.")
		return
	}
	if r.failover.state == "waiting-for-sync" || r.failover.state == "failover-in-progress" {
		c.Error("ERR FAILOVER already in progress.")
		return
	}
	var target *replicaInfo
	for _, ri := range r.replicas {
		if ri.hidden {
			continue
		}
		ip := ri.ip
		if ip == "" {
			ip = hostOf(ri.cl.Addr())
		}
		if host != "" {
			if ip == host && ri.listenPort == port {
				target = ri
			}
			continue
		}
		if (ri.state == "online" || ri.state == "send_bulk_done") && (target == nil || ri.ackOffset > target.ackOffset) {
			target = ri
		}
	}
	if target == nil {
		if host != "" {
			c.Error("ERR FAILOVER target HOST and PORT is not a replica.")
		} else {
			c.Error("ERR FAILOVER requires connected replicas.")
		}
		return
	}
	if target.state != "online" && target.state != "send_bulk_done" {
		c.Error("ERR FAILOVER target replica is not online.")
		return
	}
	f := &r.failover
	f.state, f.target, f.force = "waiting-for-sync", target, force
	f.host = target.ip
	if f.host == "" {
		f.host = hostOf(target.cl.Addr())
	}
	f.port = target.listenPort
	f.deadline = time.Time{}
	if timeoutMs > 0 {
		f.deadline = s.clock().Add(time.Duration(timeoutMs) * time.Millisecond)
	}
	// Writes wait until the roles have swapped (or the failover ends).
	s.Pause(24*time.Hour, false)
	r.append(resp.AppendCommandStrings(nil, "REPLCONF", "GETACK", "*"))
	s.log.Info("FAILOVER requested", zap.String("target", net.JoinHostPort(f.host, strconv.Itoa(f.port))))
	c.W.OK()
}

// abortFailover ends a failover that has not swapped roles; under the
// lock.
func (s *Server) abortFailover(why string) {
	f := &s.repl.failover
	if f.state == "failover-in-progress" && s.repl.isReplica() {
		// Already pointed at the target: point back to being a master.
		s.promote()
	}
	f.state, f.target = "no-failover", nil
	s.Unpause()
	s.log.Warn("FAILOVER ended without a role change", zap.String("why", why))
}

// failoverCron drives a running FAILOVER; under the lock, from the cron
// and after every ack.
func (s *Server) failoverCron() {
	r := &s.repl
	f := &r.failover
	switch f.state {
	case "waiting-for-sync":
		timedOut := !f.deadline.IsZero() && s.clock().After(f.deadline)
		if f.target == nil || f.target.cl.killed.Load() {
			s.abortFailover("the target replica disconnected")
			return
		}
		if f.target.ackOffset < r.offset && !(timedOut && f.force) {
			if timedOut {
				s.abortFailover("the target replica did not catch up in time")
			}
			return
		}
		// The target has everything: swap roles.
		f.state = "failover-in-progress"
		host, port := f.host, f.port
		s.log.Info("FAILOVER: target in sync, demoting to its replica", zap.String("target", net.JoinHostPort(host, strconv.Itoa(port))))
		s.setMaster(host, port)
		r.link.failover = true
	case "failover-in-progress":
		if r.link != nil && r.link.state == "connected" {
			f.state, f.target = "no-failover", nil
			s.Unpause()
			s.log.Info("FAILOVER complete: now a replica of the promoted target")
		} else if !f.deadline.IsZero() && s.clock().After(f.deadline.Add(10*time.Second)) {
			s.abortFailover("the target never accepted us as its replica")
		}
	}
}

// errFailoverReplid is the target's refusal of a PSYNC FAILOVER from a
// master it does not follow.
var errFailoverReplid = errors.New("ERR PSYNC FAILOVER replid must match my replid.")
