package sentinel

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/vigilkv/vigil/failover"
)

// persisted is what the state file holds: enough that a restarted
// sentinel never votes twice in an epoch and never forgets a newer
// configuration.
type persisted struct {
	MyID         string                  `json:"myid"`
	CurrentEpoch uint64                  `json:"current_epoch"`
	Groups       map[string]*groupConfig `json:"groups"`
	// Peers are every sentinel ever seen (id -> RESP address): the
	// electorate, which a partition must not shrink.
	Peers map[string]string `json:"peers"`
	// Config holds what SENTINEL CONFIG SET changed (name -> value); it is
	// re-applied over the flags and the sentinel.conf at start.
	Config map[string]string `json:"config,omitempty"`
	// Removed names the groups of the start-up configuration that SENTINEL
	// REMOVE dropped: they stay unmonitored after a restart, as if Redis
	// Sentinel had rewritten its configuration file, until SENTINEL
	// MONITOR adds them again.
	Removed map[string]bool `json:"removed,omitempty"`
}

// groupConfig is one group's durable state.
type groupConfig struct {
	ConfigEpoch uint64          `json:"config_epoch"`
	Host        string          `json:"host"`
	Port        int             `json:"port"`
	Ballot      failover.Ballot `json:"ballot"`
	// Monitor is set for a group added with SENTINEL MONITOR, so it is
	// monitored again after a restart without any --monitor flag.
	Monitor *monitorSpec `json:"monitor,omitempty"`
	// Set holds what SENTINEL SET changed (option -> value), re-applied
	// over the start-up configuration.
	Set map[string]string `json:"set,omitempty"`
	// Replicas are the group's known replicas, restored at start so a
	// restarted sentinel probes them at once instead of waiting for the
	// master's INFO: a master that died while every sentinel was down
	// could not be failed over otherwise. Absent in older files.
	Replicas []knownReplica `json:"replicas,omitempty"`
	// LeaseHolder is the node (host:port) this sentinel renews the lease
	// of: written, durably, before the first renewal of a node, and only
	// once every lease granted to the previous one has run out. So after a
	// restart only grants to LeaseHolder can still be in force, and it can
	// be renewed at once (see grantedElsewhere). Absent in older files.
	LeaseHolder string `json:"lease_holder,omitempty"`
}

// knownReplica is a replica as the state file remembers it.
type knownReplica struct {
	Addr string `json:"addr"` // host:port, as the master's INFO named it
	// RunID is the replica's id as last seen in its INFO, if any (for
	// operators; it is learned again from the first INFO).
	RunID string `json:"runid,omitempty"`
}

// monitorSpec is SENTINEL MONITOR's arguments.
type monitorSpec struct {
	Host   string `json:"host"`
	Port   int    `json:"port"`
	Quorum int    `json:"quorum"`
	// DownAfterMs and FailoverTimeoutMs are the defaults the group
	// started with when SENTINEL DEBUG had changed them (0: Redis's).
	DownAfterMs       int64 `json:"down_after_ms,omitempty"`
	FailoverTimeoutMs int64 `json:"failover_timeout_ms,omitempty"`
}

// loadState reads the state file, if any.
func loadState(path string) (*persisted, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var p persisted
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &p, nil
}

// Writing the state file. The file is rewritten with an fsync on every
// change that matters for safety; a slow disk must not stall everything
// else the sentinel does under its lock (PING replies, probes, gossip),
// so the hot paths only mark the state changed (persist, under the lock)
// and the file is written outside the lock. What must never happen is
// announcing something before it is durable: a vote, a new epoch, a new
// configuration. So:
//
//   - every change bumps s.ver (under s.mu); s.saved is the highest
//     version known to be on disk;
//   - syncState (outside s.mu) encodes the state under s.mu, then writes
//     it under saveMu alone; a write never goes back to an older version
//     (a writer that finds saved >= its version skips), so concurrent
//     writers cannot reorder the file;
//   - an announcement that depends on a change is queued with whenDurable
//     and run by flushLoop once saved has reached the version of that
//     change; the vote reply (isMasterDown) waits for syncState itself and
//     replies without the vote if the write failed;
//   - gossip metadata (NodeMeta) carries the configurations of the last
//     durable version only.
//
// Lock order: s.mu, then saveMu; never s.mu while holding saveMu. The
// operator commands (MONITOR, REMOVE, SET, CONFIG SET, FLUSHCONFIG) keep
// writing under s.mu (saveLocked): they are rare, reply with an error and
// undo the change when the write fails, which needs the lock held.

// deferred is an announcement waiting for version ver to be durable.
type deferred struct {
	ver uint64
	f   func()
}

// persist marks the state changed and wakes the writer; under the lock.
func (s *Sentinel) persist() {
	s.ver++
	s.kickWriter()
}

func (s *Sentinel) kickWriter() {
	select {
	case s.kick <- struct{}{}:
	default: // already pending (or no writer: unit tests)
	}
}

// whenDurable runs f (without the lock) once the state as it is now is
// on disk; under the lock. Queued functions run in order.
func (s *Sentinel) whenDurable(f func()) {
	s.afterSave = append(s.afterSave, deferred{ver: s.ver, f: f})
	s.kickWriter()
}

// snapshot encodes the state; under the lock.
func (s *Sentinel) snapshot() ([]byte, map[string]groupSummary, error) {
	data, err := json.MarshalIndent(s.st, "", "  ")
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the state: %w", err)
	}
	meta := map[string]groupSummary{}
	for name, gc := range s.st.Groups {
		meta[name] = groupSummary{gc.ConfigEpoch, gc.Host, gc.Port}
	}
	return data, meta, nil
}

// writeVersion writes version v of the state unless a newer one is on
// disk already. Takes saveMu; may be called under s.mu.
func (s *Sentinel) writeVersion(data []byte, meta map[string]groupSummary, v uint64) error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	if s.saved.Load() >= v {
		return nil
	}
	write := s.writeFile
	if write == nil {
		write = writeStateFile
	}
	if err := write(s.path, data); err != nil {
		return err
	}
	s.durableMeta.Store(&meta)
	s.saved.Store(v)
	return nil
}

// syncState makes the current state durable; without the lock. It
// returns at once when it is already.
func (s *Sentinel) syncState() error {
	s.mu.Lock()
	v := s.ver
	if s.saved.Load() >= v {
		s.mu.Unlock()
		return nil
	}
	data, meta, err := s.snapshot()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.writeVersion(data, meta, v)
}

// saveLocked writes the state now, under the lock (the operator
// commands, and New before anything runs).
func (s *Sentinel) saveLocked() error {
	s.ver++
	data, meta, err := s.snapshot()
	if err != nil {
		return err
	}
	return s.writeVersion(data, meta, s.ver)
}

// flushLoop writes the state whenever it changed and then runs the
// announcements that waited for it, until ctx ends (with a last write).
// A failed write is logged and retried every second; what waits for it
// stays unannounced meanwhile.
func (s *Sentinel) flushLoop(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			if err := s.syncState(); err != nil {
				s.log.Error("saving the state file", zap.Error(err))
			}
			return
		case <-s.kick:
		case <-retry:
		}
		retry = nil
		if err := s.syncState(); err != nil {
			s.log.Error("saving the state file", zap.Error(err))
			retry = time.After(time.Second)
			continue
		}
		saved := s.saved.Load()
		s.mu.Lock()
		n := 0
		for n < len(s.afterSave) && s.afterSave[n].ver <= saved {
			n++
		}
		ready := s.afterSave[:n:n]
		s.afterSave = s.afterSave[n:]
		s.mu.Unlock()
		for _, d := range ready {
			d.f()
		}
		if n > 0 {
			// The state machines may go on at once (votes counted only
			// once the election is announced, replicas re-pointed only
			// once the new configuration is durable).
			select {
			case s.tickNow <- struct{}{}:
			default:
			}
		}
	}
}

// writeStateFile writes the state file atomically: temp file, fsync,
// rename, fsync of the directory. The file may hold auth-pass, so only
// its owner reads it.
func writeStateFile(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("creating %s: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming %s: %w", tmp, err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("opening the state directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync of %s: %w", filepath.Dir(path), err)
	}
	return nil
}
