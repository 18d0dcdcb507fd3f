package node

import (
	"strconv"
	"time"

	"github.com/vigilkv/vigil/internal/resp"
)

// replStream is the ordered log of every write, RESP-encoded and addressed
// by byte offset (master_repl_offset). Writes are appended under the
// keyspace lock in execution order; the AOF writer and replica senders
// read it from their own offsets. Until a consumer attaches, nothing is
// buffered and the offset does not move, as in Redis (no backlog until the
// first replica).
type replStream struct {
	s       *Server
	replID  string
	replID2 string
	offset  int64
	// lastDB is the db of the last command in the stream; a SELECT is
	// emitted when it changes. -1 forces one.
	lastDB int
	// consumers are called with each appended chunk.
	consumers  []func(chunk []byte)
	consumerID []int
	nextID     int
	inExec     bool
	execFed    bool
	scratch    []byte
	// role
	masterHost string
	masterPort int
	link       *replicaLink
	// master side
	replicas        []*replicaInfo
	backlog         *backlog
	backlogConsumer int
	secondOffset    int64 // second_repl_offset: where replID2's history ends
	lastPing        time.Time
	failover        failoverState
	// syncWriters are the sync-replicas writers waiting for acks;
	// getackOffset is where the last GETACK went.
	syncWriters  []syncWriter
	getackOffset int64
}

// syncWriter is a client waiting, without the lock, for enough replicas
// to ack the stream up to target (sync-replicas); done is closed when
// they have.
type syncWriter struct {
	target int64
	done   chan struct{}
}

func (r *replStream) init(s *Server) {
	r.s = s
	r.replID = newRunID()
	r.replID2 = "0000000000000000000000000000000000000000"
	r.secondOffset = -1
	r.lastDB = -1
}

// feed appends one command executed against db to the stream.
func (r *replStream) feed(db int, args [][]byte) {
	if len(r.consumers) == 0 {
		return
	}
	buf := r.scratch[:0]
	if r.inExec && !r.execFed {
		r.execFed = true
		buf = resp.AppendCommandStrings(buf, "MULTI")
	}
	if db != r.lastDB {
		buf = resp.AppendCommandStrings(buf, "SELECT", strconv.Itoa(db))
		r.lastDB = db
	}
	buf = resp.AppendCommand(buf, args...)
	r.append(buf)
	r.scratch = buf[:0]
}

func (r *replStream) append(chunk []byte) {
	r.offset += int64(len(chunk))
	for _, c := range r.consumers {
		c(chunk)
	}
}

// addConsumer attaches fn to the stream and returns its id.
func (r *replStream) addConsumer(fn func(chunk []byte)) int {
	r.nextID++
	r.consumers = append(r.consumers, fn)
	r.consumerID = append(r.consumerID, r.nextID)
	return r.nextID
}

// removeConsumer detaches the consumer with the given id.
func (r *replStream) removeConsumer(id int) {
	for i, c := range r.consumerID {
		if c == id {
			r.consumers = append(r.consumers[:i], r.consumers[i+1:]...)
			r.consumerID = append(r.consumerID[:i], r.consumerID[i+1:]...)
			return
		}
	}
}

// beginExec and endExec wrap the commands an EXEC propagates in
// MULTI/EXEC, so replicas apply them atomically too.
func (r *replStream) beginExec() { r.inExec, r.execFed = true, false }

func (r *replStream) endExec() {
	if r.execFed && len(r.consumers) > 0 {
		r.append(resp.AppendCommandStrings(nil, "EXEC"))
	}
	r.inExec, r.execFed = false, false
}

// isReplica reports whether this node replicates from a master.
func (r *replStream) isReplica() bool { return r.masterHost != "" }

// writeRefusal gives the error for writes refused by replication safety
// settings (min-replicas-to-write), or "".
func (r *replStream) writeRefusal() string {
	if n := r.s.cfg.MinReplicasToWrite; n > 0 && !r.isReplica() && r.goodReplicas() < n {
		return ErrNoReplicas
	}
	return ""
}

// goodReplicas counts online replicas that acked within
// min-replicas-max-lag seconds.
func (r *replStream) goodReplicas() int {
	n := 0
	now := r.s.clock()
	for _, ri := range r.replicas {
		if ri.hidden {
			continue
		}
		if (ri.state == "online" || ri.state == "send_bulk_done") && now.Sub(ri.ackTime) <= time.Duration(r.s.cfg.MinReplicasMaxLag)*time.Second {
			n++
		}
	}
	return n
}

// staleRefusal refuses commands on a replica whose link is down when
// replica-serve-stale-data is off.
func (r *replStream) staleRefusal(cl *Client, cmd *Command) string {
	if !r.isReplica() || r.s.cfg.ReplicaServeStale || cmd.Flags&FlagStale != 0 || cl.Flags&ClientMaster != 0 {
		return ""
	}
	if r.link == nil || r.link.state != "connected" {
		return ErrMasterDown
	}
	return ""
}

// Offset is master_repl_offset.
func (r *replStream) Offset() int64 { return r.offset }

// linkState is ROLE's replica link state.
func (r *replStream) linkState() string {
	if r.link == nil {
		return "connect"
	}
	return r.link.state
}

// changeReplID starts a new replication history (DEBUG CHANGE-REPL-ID).
func (r *replStream) changeReplID() {
	r.replID2 = r.replID
	r.secondOffset = r.offset + 1
	r.replID = newRunID()
}
