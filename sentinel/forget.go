package sentinel

import (
	"time"

	"go.uber.org/zap"

	"github.com/vigilkv/vigil/failover"
)

// forget-after: replicas and sentinels unreachable for longer than
// Config.ForgetAfter are forgotten, as SENTINEL RESET forgets them; the
// decision is failover.ForgetReplicas / ForgetSentinels.

// downFor is how long instance in of g has been unreachable, counted
// once it is subjectively down (0 before): since its last valid reply,
// or since it was first known if it never answered.
func downFor(g *group, in *instance, now time.Time) time.Duration {
	since := in.lastOK
	if since.IsZero() {
		since = in.seen
	}
	if since.IsZero() || now.Sub(since) <= g.cfg.DownAfter {
		return 0
	}
	return now.Sub(since)
}

// peerDownFor is how long memberlist has seen peer id gone (0: alive):
// since it left or failed, or since this process started for a peer
// known from the state file and not seen since. Under the lock.
func (s *Sentinel) peerDownFor(id string, now time.Time) time.Duration {
	if s.alive[id] {
		return 0
	}
	since, ok := s.peerDown[id]
	if !ok {
		since = s.started
	}
	if since.IsZero() {
		return 0
	}
	return now.Sub(since)
}

// forget applies forget-after; under the lock, from tick.
func (s *Sentinel) forget(now time.Time, tilt bool) {
	after := s.cfg.ForgetAfter
	if after <= 0 {
		return
	}
	changed := false
	electing := false
	for _, g := range s.grps {
		busy := g.votes != nil || g.failing != nil || g.reconf != nil
		electing = electing || busy
		var absent []failover.Absent
		for a, r := range g.replicas {
			if d := downFor(g, r, now); d > 0 {
				absent = append(absent, failover.Absent{ID: a, For: d})
			}
		}
		for _, a := range failover.ForgetReplicas(absent, failover.ForgetParams{After: after, Busy: busy || tilt}) {
			r := g.replicas[a]
			close(r.stop)
			r.client.Close()
			delete(g.replicas, a)
			s.recordReplicas(g)
			changed = true
			s.log.Info("forgetting a replica unreachable for longer than forget-after", zap.String("group", g.cfg.Name),
				zap.String("replica", a), zap.Duration("unreachable", downFor(g, r, now)))
		}
	}
	var absent []failover.Absent
	for id := range s.st.Peers {
		if d := s.peerDownFor(id, now); d > 0 {
			absent = append(absent, failover.Absent{ID: id, For: d})
		}
	}
	voters := len(s.st.Peers) + 1
	for _, id := range failover.ForgetSentinels(absent, s.aliveCount(), voters, failover.ForgetParams{After: after, Busy: electing || tilt}) {
		s.log.Info("forgetting a sentinel unreachable for longer than forget-after", zap.String("id", id),
			zap.String("addr", s.st.Peers[id]), zap.Duration("unreachable", s.peerDownFor(id, now)))
		s.forgetPeer(id)
		changed = true
	}
	if changed {
		s.persist()
	}
}

// forgetPeer drops a sentinel from the electorate and closes its link;
// gossip brings it back if it returns. Under the lock.
func (s *Sentinel) forgetPeer(id string) {
	delete(s.st.Peers, id)
	delete(s.peerDown, id)
	if p := s.peers[id]; p != nil {
		p.client.Close()
		delete(s.peers, id)
	}
}
