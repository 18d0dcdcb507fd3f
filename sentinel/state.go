package sentinel

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

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

// saveState writes the state file atomically: temp file, fsync, rename,
// fsync of the directory. The file may hold auth-pass, so only its owner
// reads it.
func saveState(path string, p *persisted) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the state: %w", err)
	}
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
