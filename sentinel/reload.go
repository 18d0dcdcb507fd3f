package sentinel

import (
	"bytes"
	"fmt"
	"slices"

	"go.uber.org/zap"
)

// Reload applies a re-read configuration (SIGHUP): groups new to it are
// monitored, and the settings of the others (quorum, down-after,
// failover-timeout, parallel-syncs, auth) take the new values, with
// SENTINEL SET's changes still winning, as at start-up. The state file is
// kept: epochs, votes and the current master of each group do not come
// from the configuration. A group the configuration no longer names goes
// on being monitored (SENTINEL REMOVE ends it). requirepass,
// sentinel-user, sentinel-pass, forget-after and the gossip keys change
// too; the listener and the other gossip settings need a restart. It
// returns what changed.
func (s *Sentinel) Reload(cfg Config) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var changed []string
	// Authentication: requirepass applies to the next command of every
	// connection not yet authenticated; the peers' credentials, unless
	// SENTINEL CONFIG SET changed them, reconnect the peer links.
	oldUser, oldPass := s.peerAuth()
	if cfg.RequirePass != s.cfg.RequirePass {
		s.cfg.RequirePass = cfg.RequirePass
		pass := cfg.RequirePass
		s.reqPass.Store(&pass)
		changed = append(changed, "requirepass")
	}
	if _, ok := s.st.Config["sentinel-user"]; !ok {
		s.cfg.SentinelUser = cfg.SentinelUser
	}
	if _, ok := s.st.Config["sentinel-pass"]; !ok {
		s.cfg.SentinelPass = cfg.SentinelPass
	}
	if user, pass := s.peerAuth(); user != oldUser || pass != oldPass {
		s.resetPeerClients()
		changed = append(changed, "peer credentials")
	}
	if cfg.ForgetAfter != s.cfg.ForgetAfter {
		s.cfg.ForgetAfter = cfg.ForgetAfter
		changed = append(changed, "forget-after")
	}
	if s.reloadGossipKeys(cfg.GossipKeys) {
		changed = append(changed, "gossip-key")
	}
	for _, fc := range cfg.Groups {
		if s.st.Removed[fc.Name] {
			continue
		}
		eff := fc
		if gc := s.st.Groups[fc.Name]; gc != nil {
			for opt, v := range gc.Set {
				if err := setGroupOption(&eff, opt, v); err != nil {
					return changed, fmt.Errorf("group %s: set %s: %w", fc.Name, opt, err)
				}
			}
		}
		g := s.grps[fc.Name]
		if g == nil {
			if err := s.addGroup(eff); err != nil {
				return changed, fmt.Errorf("monitoring %s: %w", fc.Name, err)
			}
			changed = append(changed, "+monitor "+fc.Name)
			continue
		}
		// Where the master is comes from the state, not the file.
		eff.Host, eff.Port = g.cfg.Host, g.cfg.Port
		if eff == g.cfg {
			continue
		}
		authChanged := eff.AuthPass != g.cfg.AuthPass || eff.AuthUser != g.cfg.AuthUser
		g.cfg = eff
		if authChanged {
			s.setAuth(g)
		}
		changed = append(changed, "settings "+fc.Name)
	}
	for name := range s.grps {
		if !hasGroup(cfg.Groups, name) && hasGroup(s.cfg.Groups, name) {
			s.log.Warn("a group left the configuration but is still monitored (SENTINEL REMOVE ends it)", zap.String("group", name))
		}
	}
	s.log.Info("configuration reloaded", zap.Strings("changed", changed))
	return changed, nil
}

// reloadGossipKeys installs a new list of gossip keys, the first to
// encrypt with, and reports whether it did; under the lock. Rotating
// takes three reloads across the sentinels, each applied on every one
// before the next: add the new key second ("old,new"), make it first
// ("new,old"), drop the old ("new"). A first key turns encryption on
// (the sentinels hear each other again once all have it); turning it off
// needs a restart, as memberlist will not let go of its last key.
func (s *Sentinel) reloadGossipKeys(keys [][]byte) bool {
	if slices.EqualFunc(keys, s.cfg.GossipKeys, bytes.Equal) {
		return false
	}
	if s.keyring == nil {
		return false // not gossiping yet
	}
	if len(keys) == 0 {
		s.log.Warn("turning gossip encryption off needs a restart: the gossip keys are unchanged")
		return false
	}
	for _, k := range keys {
		if err := s.keyring.AddKey(k); err != nil {
			s.log.Error("adding a gossip key: the gossip keys are unchanged", zap.Error(err))
			return false
		}
	}
	if err := s.keyring.UseKey(keys[0]); err != nil {
		s.log.Error("switching the gossip key", zap.Error(err))
		return false
	}
	for _, old := range s.cfg.GossipKeys {
		if !slices.ContainsFunc(keys, func(k []byte) bool { return bytes.Equal(k, old) }) {
			s.keyring.RemoveKey(old)
		}
	}
	s.cfg.GossipKeys = keys
	s.log.Info("gossip keys reloaded", zap.Int("keys", len(keys)))
	return true
}
