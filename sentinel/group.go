package sentinel

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// A group's life: built by newGroup, monitored from startGroup until
// stopGroup. Groups come from the start-up configuration or from
// SENTINEL MONITOR, and SENTINEL REMOVE ends them while the sentinel runs,
// so every goroutine of a group (one probe per instance) stops on the
// group's context and is counted in its WaitGroup.

// newGroup builds the live state of a group whose master is at the
// address gc records; under the lock (or before Run).
func (s *Sentinel) newGroup(cfg Group, gc *groupConfig) *group {
	g := &group{cfg: cfg, replicas: map[string]*instance{}, downVotes: map[string]time.Time{}}
	g.master = s.newInstance(gc.Host, gc.Port, g)
	// The replicas the state file remembers are probed from the start;
	// their INFO tells the rest (role, offset, priority).
	for _, kr := range gc.Replicas {
		host, port, err := net.SplitHostPort(kr.Addr)
		p, perr := strconv.Atoi(port)
		if err != nil || perr != nil || kr.Addr == g.master.addr() || g.replicas[kr.Addr] != nil {
			continue
		}
		r := s.newInstance(host, p, g)
		r.runID = kr.RunID
		g.replicas[kr.Addr] = r
	}
	return g
}

// recordReplicas copies g's replicas into its durable state and reports
// whether that changed (the caller persists); under the lock.
func (s *Sentinel) recordReplicas(g *group) bool {
	gc := s.st.Groups[g.cfg.Name]
	if gc == nil {
		return false
	}
	list := make([]knownReplica, 0, len(g.replicas))
	for _, r := range sortedReplicas(g) {
		list = append(list, knownReplica{Addr: r.addr(), RunID: r.runID})
	}
	if slices.Equal(list, gc.Replicas) || (len(list) == 0 && len(gc.Replicas) == 0) {
		return false
	}
	gc.Replicas = list
	return true
}

// startGroup starts monitoring g: its context derives from the
// sentinel's, so the end of Run stops it too. Under the lock, once Run
// has set s.ctx.
func (s *Sentinel) startGroup(g *group) {
	g.ctx, g.cancel = context.WithCancel(s.ctx)
	s.startProbe(g, g.master)
	for _, r := range g.replicas {
		s.startProbe(g, r)
	}
}

// stopGroup ends g's monitoring: its probes return at their next wake-up
// (the closed clients fail any call in flight), and g.wg.Wait returns
// once they all have. Under the lock.
func (s *Sentinel) stopGroup(g *group) {
	if g.cancel != nil {
		g.cancel()
	}
	g.master.client.Close()
	for _, r := range g.replicas {
		r.client.Close()
	}
	g.failing, g.reconf, g.votes = nil, nil, nil
}

// addGroup monitors a new group at runtime (SENTINEL MONITOR); under the
// lock. The state file records it before the caller replies.
func (s *Sentinel) addGroup(cfg Group) error {
	gc := &groupConfig{Host: cfg.Host, Port: cfg.Port,
		Monitor: &monitorSpec{Host: cfg.Host, Port: cfg.Port, Quorum: cfg.Quorum}}
	// Defaults changed with SENTINEL DEBUG are kept, so the group starts
	// with them again after a restart.
	if cfg.DownAfter != DefaultDownAfter {
		gc.Monitor.DownAfterMs = cfg.DownAfter.Milliseconds()
	}
	if cfg.FailoverTimeout != DefaultFailoverTimeout {
		gc.Monitor.FailoverTimeoutMs = cfg.FailoverTimeout.Milliseconds()
	}
	// A group of this name may have voted before it was removed: it votes
	// only in epochs above the current one.
	gc.Ballot.Epoch, gc.Ballot.LeaderEpoch = s.st.CurrentEpoch, s.st.CurrentEpoch
	s.st.Groups[cfg.Name] = gc
	delete(s.st.Removed, cfg.Name)
	if err := s.saveLocked(); err != nil {
		delete(s.st.Groups, cfg.Name)
		return fmt.Errorf("saving the state file: %w", err)
	}
	g := s.newGroup(cfg, gc)
	s.grps[cfg.Name] = g
	s.startGroup(g)
	s.event("+monitor", fmt.Sprintf("master %s %s %d quorum %d", cfg.Name, cfg.Host, cfg.Port, cfg.Quorum))
	return nil
}

// removeGroup stops monitoring a group (SENTINEL REMOVE) and forgets its
// state; under the lock. A group of the start-up configuration is
// remembered as removed, so a restart with the same flags does not bring
// it back.
func (s *Sentinel) removeGroup(g *group) error {
	name := g.cfg.Name
	gc := s.st.Groups[name]
	delete(s.st.Groups, name)
	startup := false
	for _, c := range s.cfg.Groups {
		startup = startup || c.Name == name
	}
	if startup {
		s.st.Removed[name] = true
	}
	if err := s.saveLocked(); err != nil {
		s.st.Groups[name] = gc
		delete(s.st.Removed, name)
		return fmt.Errorf("saving the state file: %w", err)
	}
	delete(s.grps, name)
	s.stopGroup(g)
	s.event("-monitor", fmt.Sprintf("master %s %s %d", name, g.master.host, g.master.port))
	s.gossipConfig("")
	return nil
}

// setAuth rebuilds the clients of g's instances after auth-pass or
// auth-user changed: a pooled connection keeps the credentials it was
// opened with, and one that got NOAUTH would keep failing. Under the lock.
func (s *Sentinel) setAuth(g *group) {
	for _, in := range g.instances() {
		old := in.client
		in.client = s.newClient(in.addr(), g)
		old.Close()
	}
}

// instances lists the master and the replicas of g; under the lock.
func (g *group) instances() []*instance {
	out := []*instance{g.master}
	for _, r := range g.replicas {
		out = append(out, r)
	}
	return out
}

// newClient is the client of a data node of g; under the lock.
func (s *Sentinel) newClient(addr string, g *group) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, Username: g.cfg.AuthUser, Password: g.cfg.AuthPass, Protocol: 2,
		DisableIdentity: true, DialTimeout: 500 * time.Millisecond, ReadTimeout: 500 * time.Millisecond,
		WriteTimeout: 500 * time.Millisecond, MaxRetries: -1, PoolSize: 2})
}
