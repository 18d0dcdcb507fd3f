package failover

import (
	"net"
	"time"
)

// A replica that follows another master than its group's (it was down
// while the others were re-pointed, or someone ran REPLICAOF by hand) is
// re-pointed, as Redis Sentinel's +fix-slave-config does, but only once
// things are calm: the group's master is healthy, no failover runs, the
// replica's configuration has been the same for failover-timeout and the
// replica has been up for twice that. Those waits keep sentinels from
// fighting a failover still settling.

// WrongMaster is what a sentinel knows of one replica of a group.
type WrongMaster struct {
	// FollowsHost/FollowsPort are master_host/master_port from its INFO;
	// MasterHost/MasterPort the group's current master.
	FollowsHost              string
	FollowsPort              int
	MasterHost               string
	MasterPort               int
	MasterSane, Failing      bool // master up and reporting role:master; a failover (or its re-pointing) in progress
	SinceConfigChange, UpFor time.Duration
	// SinceLastFix is how long ago this sentinel last re-pointed it
	// (a large value if never).
	SinceLastFix    time.Duration
	FailoverTimeout time.Duration
}

// NeedsFixSlaveConfig reports whether to send the replica REPLICAOF
// the group's master.
func NeedsFixSlaveConfig(w WrongMaster) bool {
	if w.FollowsHost == "" || w.Failing || !w.MasterSane || !followsOther(w) {
		return false
	}
	return w.SinceConfigChange > w.FailoverTimeout && w.UpFor > 2*w.FailoverTimeout && w.SinceLastFix > w.FailoverTimeout
}

// followsOther compares addresses without resolving names: an IP and a
// hostname cannot be told apart here, so they never count as different
// (a wrong "fix" would be repeated forever).
func followsOther(w WrongMaster) bool {
	if w.FollowsPort != w.MasterPort {
		return true
	}
	a, b := net.ParseIP(w.FollowsHost), net.ParseIP(w.MasterHost)
	switch {
	case a != nil && b != nil:
		return !a.Equal(b)
	case a == nil && b == nil:
		return w.FollowsHost != w.MasterHost
	}
	return false
}

// ConvertWait is how long a replica that turned master while it was up is
// left alone before it is converted back into a replica: another sentinel
// may have promoted it in a newer epoch, and that configuration is on its
// way through the gossip (Redis Sentinel waits 8 s). A returning old
// master, which has reported role:master all along, is converted at once,
// so it stops taking writes quickly.
const ConvertWait = 2 * time.Second

// ShouldConvertToReplica reports whether to send REPLICAOF the group's
// master to a node the group knows as a replica but that reports
// role:master since sinceMasterRole. masterSane: the group's master is up
// and reports role:master; failing: a failover of the group runs here.
func ShouldConvertToReplica(masterSane, failing bool, sinceMasterRole time.Duration) bool {
	return masterSane && !failing && sinceMasterRole > ConvertWait
}
