package node

import "time"

// pauseState is CLIENT PAUSE: until a deadline, hold either every command
// or only the ones that could change the dataset, from normal clients.
type pauseState struct {
	until   time.Time
	all     bool
	release chan struct{}
}

// Pause starts or extends a pause (CLIENT PAUSE). A later pause can only
// lengthen the current one or widen it from WRITE to ALL, as in Redis.
func (s *Server) Pause(d time.Duration, all bool) {
	p := &s.pause
	until := s.clock().Add(d)
	if p.release == nil {
		p.release = make(chan struct{})
		p.until = until
		p.all = all
		return
	}
	if until.After(p.until) {
		p.until = until
	}
	if all {
		p.all = true
	}
}

// Unpause ends a pause (CLIENT UNPAUSE).
func (s *Server) Unpause() {
	p := &s.pause
	if p.release != nil {
		close(p.release)
		p.release = nil
	}
}

func (p *pauseState) expire(s *Server) {
	if p.release != nil && !s.clock().Before(p.until) {
		s.Unpause()
	}
}

// holds reports whether the pause holds this command back.
func (p *pauseState) holds(cl *Client, cmd *Command) bool {
	if p.release == nil || cl.Flags&(ClientMaster|ClientReplica) != 0 {
		return false
	}
	if p.all {
		return true
	}
	if cmd.Flags&(FlagWrite|FlagMayReplicate) != 0 {
		return true
	}
	return cmd.Name == "exec" && cl.tx.flags&(FlagWrite|FlagMayReplicate) != 0
}

// waitUnpaused waits, without the lock, for the pause to end. It reports
// false if the client went away.
func (s *Server) waitUnpaused(cl *Client) bool {
	for {
		s.mu.Lock()
		p := s.pause
		if p.release != nil && !s.clock().Before(p.until) {
			s.Unpause()
			p = s.pause
		}
		s.mu.Unlock()
		if p.release == nil {
			return true
		}
		t := time.NewTimer(p.until.Sub(s.clock()))
		select {
		case <-p.release:
		case <-t.C:
		case <-cl.closedCh:
			t.Stop()
			return false
		}
		t.Stop()
	}
}
