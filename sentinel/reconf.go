package sentinel

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/vigilkv/vigil/failover"
)

// reconfRun is the leader's last failover phase: re-pointing the other
// replicas at the promoted one, parallel-syncs at a time (the choice is
// failover.NextReconf). Vigil publishes +switch-master as soon as the
// promotion is seen, before this phase (Redis publishes it after
// +failover-end), so clients move at once; the events keep Redis's texts,
// naming the old master after the "@" as Redis does during the phase.
type reconfRun struct {
	promoted *instance
	oldHost  string
	oldPort  int
	started  time.Time
	replicas []*reconfReplica // by address
	// announced is set once the new configuration is durable: no
	// replica is re-pointed before.
	announced bool
}

type reconfReplica struct {
	in     *instance
	state  failover.ReconfState
	sentAt time.Time
}

// startReconf begins the phase after p was promoted; under the lock,
// before switchMaster. The old master is left out: it is down (or, after
// a coordinated failover, follows p already) and is converted when it
// answers again.
func (s *Sentinel) startReconf(g *group, p *instance, oldHost string, oldPort int, now time.Time) {
	r := &reconfRun{promoted: p, oldHost: oldHost, oldPort: oldPort, started: now}
	oldAddr := g.master.addr()
	for addr, in := range g.replicas {
		if in == p || addr == oldAddr {
			continue
		}
		r.replicas = append(r.replicas, &reconfReplica{in: in})
	}
	sort.Slice(r.replicas, func(i, j int) bool { return r.replicas[i].in.addr() < r.replicas[j].in.addr() })
	g.reconf = r
}

// stepReconf advances the phase; under the lock, every tick.
func (s *Sentinel) stepReconf(g *group, now time.Time) {
	r := g.reconf
	if !r.announced {
		return
	}
	p := r.promoted
	slaveEvent := func(typ string, in *instance) {
		s.event(typ, fmt.Sprintf("slave %s %s %d @ %s %s %d", in.addr(), in.host, in.port, g.cfg.Name, r.oldHost, r.oldPort))
	}
	// What the replicas' INFO (polled at the fast period meanwhile) says
	// since REPLICAOF was sent.
	for _, rr := range r.replicas {
		in := rr.in
		if rr.state == failover.ReconfPending || rr.state == failover.ReconfDone || !in.infoTime.After(rr.sentAt) {
			continue
		}
		follows := in.role == "slave" && in.mHost == p.host && in.mPort == p.port
		if rr.state == failover.ReconfSent && follows {
			rr.state = failover.ReconfInProgress
			slaveEvent("+slave-reconf-inprog", in)
		}
		if rr.state == failover.ReconfInProgress && follows && in.linkUp {
			rr.state = failover.ReconfDone
			slaveEvent("+slave-reconf-done", in)
			// go-redis v9 listens for this name (and refreshes its
			// replica list); Redis itself never sends it.
			slaveEvent("+replica-reconf-done", in)
		}
	}
	facts := make([]failover.ReconfReplica, len(r.replicas))
	for i, rr := range r.replicas {
		facts[i] = failover.ReconfReplica{State: rr.state, SinceSent: now.Sub(rr.sentAt),
			Down: rr.in.lastOK.IsZero() || now.Sub(rr.in.lastOK) > g.cfg.DownAfter}
	}
	plan := failover.NextReconf(facts, failover.ReconfParams{ParallelSyncs: g.cfg.ParallelSyncs, SentTimeout: s.tm.get(paramReconfTimeout),
		FailoverTimeout: g.cfg.FailoverTimeout, Elapsed: now.Sub(r.started)})
	for _, i := range plan.TimedOut {
		r.replicas[i].state = failover.ReconfDone
		slaveEvent("-slave-reconf-sent-timeout", r.replicas[i].in)
	}
	if plan.EndForTimeout {
		s.event("+failover-end-for-timeout", fmt.Sprintf("master %s %s %d", g.cfg.Name, r.oldHost, r.oldPort))
	}
	for _, i := range plan.Send {
		rr := r.replicas[i]
		go rr.in.client.SlaveOf(g.ctx, p.host, strconv.Itoa(p.port))
		rr.state, rr.sentAt = failover.ReconfSent, now
		slaveEvent("+slave-reconf-sent", rr.in)
	}
	if plan.Finished {
		s.event("+failover-end", fmt.Sprintf("master %s %s %d", g.cfg.Name, r.oldHost, r.oldPort))
		g.reconf = nil
	}
}
