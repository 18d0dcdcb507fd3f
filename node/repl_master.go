package node

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/vigilkv/vigil/internal/resp"
	"github.com/vigilkv/vigil/node/procs"
)

// The master side of replication (Redis's PSYNC protocol). A replica is a
// client that sent PSYNC (or SYNC). It becomes a consumer of the
// replication stream at an exact offset: for a full resync, the offset at
// which its snapshot begins (the RDB is streamed first, diskless, and the
// writes made meanwhile wait in its pending buffer); for a partial one,
// the offset it asked for, served from the backlog. After that every
// write reaches it through its client's output queue, bounded by
// client-output-buffer-limit replica.

// replicaInfo is the master's view of one replica.
type replicaInfo struct {
	cl *Client
	// releaseProc gives back the processor held for feeding replicas.
	releaseProc func()
	consumer    int
	state       string // wait_bgsave, send_bulk, online
	syncing     bool   // the RDB is being sent; the stream waits in pending
	pending     []byte
	listenPort  int
	ip          string
	capaEOF     bool
	capaPsync2  bool
	ackOffset   int64
	// aofAckOffset is what the replica's AOF has fsynced (REPLCONF ACK
	// ... FACK, for WAITAOF); -1 until it says (its AOF is off).
	aofAckOffset int64
	ackTime      time.Time
	syncStarted  time.Time
	// ackedPayload: an ACK arrived before the transfer's goroutine marked
	// the payload sent (the replica had it all already).
	ackedPayload bool
	// hidden is an upgrade's new process: it gets the stream but is not
	// listed, counted for WAIT or min-replicas, or chosen by FAILOVER.
	hidden bool
}

// backlog is the ring buffer of the most recent stream bytes that partial
// resyncs are served from.
type backlog struct {
	buf   []byte
	start int64 // stream offset of the first byte held (0-based)
	n     int64 // bytes held
	pos   int   // where the next byte goes
}

func newBacklog(size int64, offset int64) *backlog {
	return &backlog{buf: make([]byte, size), start: offset}
}

func (b *backlog) add(p []byte) {
	for len(p) > 0 {
		n := copy(b.buf[b.pos:], p)
		p = p[n:]
		b.pos = (b.pos + n) % len(b.buf)
		b.n += int64(n)
		if b.n > int64(len(b.buf)) {
			b.start += b.n - int64(len(b.buf))
			b.n = int64(len(b.buf))
		}
	}
}

// reset empties the backlog to restart at offset (after a full resync
// the old history no longer applies).
func (b *backlog) reset(offset int64) { b.start, b.n, b.pos = offset, 0, 0 }

// from returns the bytes from stream offset off (0-based) to the end.
func (b *backlog) from(off int64) []byte {
	skip := off - b.start
	if skip < 0 || skip > b.n {
		return nil
	}
	out := make([]byte, 0, b.n-skip)
	first := (b.pos - int(b.n) + len(b.buf)) % len(b.buf)
	begin := (first + int(skip)) % len(b.buf)
	remain := int(b.n - skip)
	for remain > 0 {
		n := min(remain, len(b.buf)-begin)
		out = append(out, b.buf[begin:begin+n]...)
		begin = (begin + n) % len(b.buf)
		remain -= n
	}
	return out
}

// visibleReplicas counts the replicas users see (not an upgrade's new
// process).
func (r *replStream) visibleReplicas() int {
	n := 0
	for _, ri := range r.replicas {
		if !ri.hidden {
			n++
		}
	}
	return n
}

// ensureBacklog creates the backlog when the first replica arrives; under
// the lock.
func (r *replStream) ensureBacklog() {
	if r.backlog == nil {
		r.backlog = newBacklog(max(r.s.cfg.ReplBacklogSize, 16<<10), r.offset)
		r.backlogConsumer = r.addConsumer(r.backlog.add)
	}
}

// canPartial reports whether a replica asking for replid at offset (the
// next byte it wants, 1-based as in PSYNC) can continue from the backlog.
func (r *replStream) canPartial(replid string, offset int64) bool {
	if r.backlog == nil {
		return false
	}
	if replid != r.replID && (replid != r.replID2 || offset > r.secondOffset) {
		return false
	}
	first := r.backlog.start + 1
	return offset >= first && offset <= r.offset+1
}

func replicationCommands() []*Command {
	adm := []string{"admin", "slow", "dangerous"}
	return []*Command{
		{Name: "psync", Arity: -3, Flags: FlagAdmin | FlagNoScript | FlagNoMulti, Categories: adm, Group: "server", Since: "2.8.0",
			Summary: "An internal command used in replication", Complexity: "", Handler: cmdPsync},
		{Name: "sync", Arity: 1, Flags: FlagAdmin | FlagNoScript | FlagNoMulti, Categories: adm, Group: "server", Since: "1.0.0",
			Summary: "An internal command used in replication", Complexity: "", Handler: cmdPsync},
		{Name: "replconf", Arity: -1, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale, Categories: adm, Group: "server", Since: "3.0.0",
			Summary: "An internal command for configuring the replication stream", Complexity: "O(1)", Handler: cmdReplconf},
		{Name: "replicaof", Arity: 3, Flags: FlagAdmin | FlagNoScript | FlagStale, Categories: adm, Group: "server", Since: "5.0.0",
			Summary: "Make the server a replica of another instance, or promote it as master.", Complexity: "O(1)", Handler: cmdReplicaof},
		{Name: "slaveof", Arity: 3, Flags: FlagAdmin | FlagNoScript | FlagStale, Categories: adm, Group: "server", Since: "1.0.0",
			Summary: "Make the server a replica of another instance, or promote it as master.", Complexity: "O(1)", Handler: cmdReplicaof},
		{Name: "waitaof", Arity: 4, Flags: FlagNoScript | FlagBlocking, Categories: []string{"slow", "blocking", "connection"}, Group: "generic", Since: "7.2.0",
			Summary: "Blocks until all of the preceding write commands sent by the connection are written to the append-only file of the primary and/or replicas.", Complexity: "O(1)", Handler: cmdWaitaof},
		{Name: "wait", Arity: 3, Flags: FlagNoScript, Categories: []string{"slow", "connection"}, Group: "generic", Since: "3.0.0",
			Summary: "Wait for the synchronous replication of all the write commands sent in the context of the current connection", Complexity: "O(1)", Handler: cmdWait},
	}
}

// replicaOf returns the replica state of a client, creating it.
func (s *Server) replicaOf(cl *Client) *replicaInfo {
	if cl.repl == nil {
		cl.repl = &replicaInfo{cl: cl, ackTime: s.clock(), aofAckOffset: -1}
	}
	return cl.repl
}

func cmdReplconf(c *Ctx) {
	s := c.Srv
	if (len(c.Args)-1)%2 != 0 {
		c.SyntaxError()
		return
	}
	ri := s.replicaOf(c.Client)
	for i := 1; i < len(c.Args); i += 2 {
		switch {
		case c.ArgIs(i, "listening-port"):
			n, ok := c.Int(i + 1)
			if !ok {
				return
			}
			ri.listenPort = int(n)
		case c.ArgIs(i, "ip-address"):
			ri.ip = c.Str(i + 1)
		case c.ArgIs(i, "capa"):
			switch strings.ToLower(c.Str(i + 1)) {
			case "eof":
				ri.capaEOF = true
			case "psync2":
				ri.capaPsync2 = true
			}
		case c.ArgIs(i, "ack"), c.ArgIs(i, "fack"):
			// Acks get no reply. FACK comes after ACK in the same
			// command: record it before the ACK wakes the waiters.
			if c.ArgIs(i, "ack") && i+3 < len(c.Args) && c.ArgIs(i+2, "fack") {
				if n, ok := ParseInt(c.Args[i+3]); ok && n > ri.aofAckOffset {
					ri.aofAckOffset = n
				}
			}
			if c.ArgIs(i, "ack") {
				if n, ok := ParseInt(c.Args[i+1]); ok && n > ri.ackOffset {
					ri.ackOffset = n
				}
				ri.ackTime = s.clock()
				switch ri.state {
				case "send_bulk_done":
					// The replica has loaded the RDB: stream from here.
					s.startStreaming(ri)
				case "send_bulk":
					// It can only ack once it has read the whole payload:
					// the transfer's goroutine has not caught up yet.
					ri.ackedPayload = true
				}
				s.waitAcked()
				s.failoverCron()
			}
			c.Client.Flags |= ClientReplySkip
			return
		case c.ArgIs(i, "getack"):
			// Only masters are asked; a replica answers on its link.
			return
		case c.ArgIs(i, "rdb-only"), c.ArgIs(i, "rdb-filter-only"):
		default:
			c.Error("ERR Unrecognized REPLCONF option: " + c.Str(i))
			return
		}
	}
	c.W.OK()
}

// cmdPsync is PSYNC replid offset (and the old SYNC): a replica asks for
// the stream.
func cmdPsync(c *Ctx) {
	s := c.Srv
	cl := c.Client
	if cl.Flags&ClientReplica != 0 {
		return // already a replica: ignore, as Redis does
	}
	if len(c.Args) > 3 && c.ArgIs(3, "failover") {
		// Our master hands over (FAILOVER): promote first, then serve it.
		if !s.repl.isReplica() || c.Str(1) != s.repl.replID {
			c.Error(errFailoverReplid.Error())
			return
		}
		s.log.Info("failover request received from our master: promoting", zap.String("addr", cl.Addr()))
		s.promote()
	}
	if s.repl.isReplica() && (s.repl.link == nil || s.repl.link.state != "connected") {
		c.Error("NOMASTERLINK Can't SYNC while not connected with my master")
		return
	}
	ri := s.replicaOf(cl)
	ri.hidden = cl.upgradeLink
	cl.Flags |= ClientReplica
	s.repl.ensureBacklog()
	if len(c.Args) >= 3 {
		replid := c.Str(1)
		offset, ok := ParseInt(c.Args[2])
		if ok && s.repl.canPartial(replid, offset) {
			s.partialResync(ri, offset)
			return
		}
		if replid != "?" && !ri.hidden {
			s.stats.SyncPartialErr.Add(1)
		}
		s.log.Info("replica asks for a full resync", zap.String("addr", cl.Addr()), zap.String("replid", replid), zap.Int64("offset", offset))
	}
	if !ri.hidden {
		s.stats.SyncFull.Add(1)
	}
	ri.state = "wait_bgsave"
	ri.syncStarted = s.clock()
	s.addReplica(ri)
	s.tryStartFullSyncs()
}

// partialResync continues a replica from the backlog; under the lock.
func (s *Server) partialResync(ri *replicaInfo, offset int64) {
	r := &s.repl
	cl := ri.cl
	line := "+CONTINUE\r\n"
	if ri.capaPsync2 {
		line = "+CONTINUE " + r.replID + "\r\n"
	}
	cl.enableAsync()
	cl.push([]byte(line))
	cl.push(r.backlog.from(offset - 1))
	ri.state = "online"
	ri.ackOffset = offset - 1
	ri.consumer = r.addConsumer(func(chunk []byte) { cl.push(chunk) })
	s.addReplica(ri)
	s.stats.SyncPartialOK.Add(1)
	s.log.Info("partial resynchronization accepted", zap.String("addr", cl.Addr()), zap.Int64("offset", offset), zap.Int64("bytes", r.offset-offset+1))
}

// tryStartFullSyncs starts the transfer for replicas waiting for one, when
// no other snapshot is running; under the lock (the cron retries).
func (s *Server) tryStartFullSyncs() {
	r := &s.repl
	var waiting []*replicaInfo
	for _, ri := range r.replicas {
		if ri.state == "wait_bgsave" {
			waiting = append(waiting, ri)
		}
	}
	if len(waiting) == 0 || s.ks.SnapshotRunning() {
		return
	}
	// One snapshot serves every replica waiting now.
	rs := s.beginSnapshot(false)
	offset := r.offset
	for _, ri := range waiting {
		ri.state = "send_bulk"
		ri.syncing = true
		ri.pending = ri.pending[:0]
		ri := ri
		ri.consumer = r.addConsumer(func(chunk []byte) {
			if ri.syncing {
				ri.pending = append(ri.pending, chunk...)
				if limit := s.cfg.ClientOutputBufferLimitReplica; limit > 0 && int64(len(ri.pending)) > limit {
					s.log.Warn("replica fell too far behind during its full sync: disconnecting it", zap.String("addr", ri.cl.Addr()))
					ri.syncing = false
					ri.pending = nil
					ri.cl.kill()
				}
				return
			}
			ri.cl.push(chunk)
		})
	}
	replid := r.replID
	s.log.Info("starting a full resync", zap.Int("replicas", len(waiting)), zap.Int64("offset", offset))
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := s.sendFullSync(rs, replid, offset, waiting)
		s.mu.Lock()
		defer s.mu.Unlock()
		rs.abort()
		for _, ri := range waiting {
			if err != nil || ri.cl.killed.Load() {
				ri.cl.kill()
				continue
			}
			// The RDB is out. The writes made since wait for the replica's
			// first REPLCONF ACK: a replica loading to disk looks for the
			// EOF mark at the end of what it has read, so nothing may
			// follow the mark until it has finished (as Redis 7 does).
			ri.state = "send_bulk_done"
			if ri.ackedPayload {
				s.startStreaming(ri)
			}
		}
		if err != nil {
			s.log.Warn("full resync failed", zap.Error(err))
		} else {
			s.log.Info("full resync sent", zap.Int("replicas", len(waiting)))
		}
		s.tryStartFullSyncs()
	}()
}

// multiWriter writes to every replica still connected, dropping those
// whose connection fails.
type replicaWriter struct {
	conns []io.Writer
	ok    []bool
}

func (w *replicaWriter) Write(p []byte) (int, error) {
	alive := false
	for i, c := range w.conns {
		if !w.ok[i] {
			continue
		}
		if _, err := c.Write(p); err != nil {
			w.ok[i] = false
			continue
		}
		alive = true
	}
	if !alive {
		return 0, io.ErrClosedPipe
	}
	return len(p), nil
}

// sendFullSync writes +FULLRESYNC and the RDB payload, diskless
// ($EOF:<mark> framing), to the replicas (no lock held).
func (s *Server) sendFullSync(rs *rdbSnapshot, replid string, offset int64, replicas []*replicaInfo) error {
	var markBytes [20]byte
	rand.Read(markBytes[:])
	mark := hex.EncodeToString(markBytes[:])
	w := &replicaWriter{}
	for _, ri := range replicas {
		w.conns = append(w.conns, ri.cl.conn)
		w.ok = append(w.ok, true)
	}
	diskless := s.cfg.ReplDisklessSync
	for _, ri := range replicas {
		// A replica that cannot read the EOF framing needs the length
		// first, so the payload goes through a file.
		diskless = diskless && ri.capaEOF
	}
	if !diskless {
		return s.sendFullSyncFromDisk(rs, replid, offset, replicas, w)
	}
	header := fmt.Sprintf("+FULLRESYNC %s %d\r\n$EOF:%s\r\n", replid, offset, mark)
	if _, err := io.WriteString(w, header); err != nil {
		return err
	}
	cw := &countWriter{w: w}
	if err := rs.stream(cw, false, nil); err != nil {
		return err
	}
	_, err := io.WriteString(w, mark)
	s.log.Info("full resync payload written", zap.Int64("rdb_bytes", cw.n))
	for i, ok := range w.ok {
		if !ok {
			replicas[i].cl.kill()
		}
	}
	return err
}

// sendFullSyncFromDisk is the disk-based full sync (repl-diskless-sync no,
// or a replica without capa eof): the snapshot goes to a temporary file
// first, then to the replicas with its length ($len framing).
func (s *Server) sendFullSyncFromDisk(rs *rdbSnapshot, replid string, offset int64, replicas []*replicaInfo, w *replicaWriter) error {
	f, err := os.CreateTemp(s.cfg.Dir, "temp-repl-*.rdb")
	if err != nil {
		return fmt.Errorf("creating the sync file: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := rs.stream(bw, false, nil); err != nil {
		return fmt.Errorf("writing the sync file: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing the sync file: %w", err)
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	header := fmt.Sprintf("+FULLRESYNC %s %d\r\n$%d\r\n", replid, offset, size)
	if _, err := io.WriteString(w, header); err != nil {
		return err
	}
	if _, err := io.Copy(w, f); err != nil {
		return err
	}
	s.log.Info("full resync payload sent from disk", zap.Int64("rdb_bytes", size))
	for i, ok := range w.ok {
		if !ok {
			replicas[i].cl.kill()
		}
	}
	return nil
}

// startStreaming sends a replica the writes buffered during its full sync,
// then the live stream; under the lock.
func (s *Server) startStreaming(ri *replicaInfo) {
	ri.state = "online"
	ri.syncing = false
	ri.cl.enableAsync()
	ri.cl.push(ri.pending)
	ri.pending = nil
}

// addReplica starts feeding a replica, which holds a processor until
// removeReplica; under the lock. A replica on this host holds none: it
// shares this host's cores, and a master serving from one more thread
// takes them from it, so it falls behind (two replicas on two cores, SET
// -P 16: p99 lag 3 MB with the processor, 170 KB without, redis 830 KB).
func (s *Server) addReplica(ri *replicaInfo) {
	ri.releaseProc = func() {}
	if !ri.cl.isLocal() {
		ri.releaseProc = s.procs.Hold(procs.Replicas)
	}
	s.repl.replicas = append(s.repl.replicas, ri)
}

// removeReplica forgets a disconnected replica; under the lock.
func (s *Server) removeReplica(cl *Client) {
	r := &s.repl
	for i, ri := range r.replicas {
		if ri.cl == cl {
			if ri.consumer != 0 {
				r.removeConsumer(ri.consumer)
			}
			r.replicas = append(r.replicas[:i], r.replicas[i+1:]...)
			ri.releaseProc()
			s.log.Info("replica disconnected", zap.String("addr", cl.Addr()))
			return
		}
	}
}

// replicationCron pings replicas every repl-ping-replica-period (the PING
// goes into the stream, as in Redis) and starts pending full syncs; under
// the lock.
func (s *Server) replicationCron() {
	r := &s.repl
	now := s.clock()
	if r.lastPing.IsZero() {
		// The period runs from the first cron, as Redis's cron-loop
		// count, not from a replica's arrival: a PING sent the moment a
		// replica attaches lands in the stream at a time no test or
		// sibling can foresee.
		r.lastPing = now
	}
	if len(r.replicas) > 0 && !r.isReplica() && now.Sub(r.lastPing) >= time.Duration(s.cfg.ReplPingPeriod)*time.Second {
		r.lastPing = now
		r.append(resp.AppendCommandStrings(nil, "PING"))
	}
	timeout := time.Duration(s.cfg.ReplTimeout) * time.Second
	for _, ri := range r.replicas {
		if ri.state == "online" && now.Sub(ri.ackTime) > timeout {
			s.log.Warn("disconnecting timedout replica", zap.String("addr", ri.cl.Addr()))
			ri.cl.kill()
		}
	}
	s.tryStartFullSyncs()
	s.replicaLinkCron()
	s.failoverCron()
}

// writeInfoReplicas lists the replicas for INFO replication.
func (s *Server) writeInfoReplicas(field func(string, any)) {
	r := &s.repl
	field("connected_slaves", r.visibleReplicas())
	now := s.clock()
	i := -1
	for _, ri := range r.replicas {
		if ri.hidden {
			continue
		}
		i++
		ip := ri.ip
		if ip == "" {
			ip = hostOf(ri.cl.Addr())
		}
		state := ri.state
		if state == "send_bulk_done" {
			state = "online"
		}
		field("slave"+strconv.Itoa(i), fmt.Sprintf("ip=%s,port=%d,state=%s,offset=%d,lag=%d",
			ip, ri.listenPort, state, ri.ackOffset, int64(now.Sub(ri.ackTime).Seconds())))
	}
}

func hostOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return strings.Trim(addr[:i], "[]")
	}
	return addr
}

// cmdWait is WAIT numreplicas timeout: block until that many replicas
// acknowledged this client's last write, or the timeout.
func cmdWait(c *Ctx) {
	s := c.Srv
	if s.repl.isReplica() {
		c.Error("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.")
		return
	}
	n, ok := c.Int(1)
	if !ok {
		return
	}
	// Redis keeps numreplicas in an int: WAIT 2147483648 asks for a
	// negative count and answers at once.
	n = int64(int32(n))
	ms, ok := c.Int(2)
	if !ok {
		return
	}
	if ms < 0 {
		c.Error("ERR timeout is negative")
		return
	}
	target := c.Client.lastWriteOffset
	acked := s.replicasAcked(target)
	if int64(acked) >= n || c.InMulti {
		c.W.Int(int64(acked))
		return
	}
	// Ask for fresh acks (once), then wait as a client blocked on a
	// pseudo key that acks make ready.
	if !c.Reprocessing {
		s.repl.append(resp.AppendCommandStrings(nil, "REPLCONF", "GETACK", "*"))
	}
	c.Block([]string{waitKey}, time.Duration(ms)*time.Millisecond, func(w *resp.Writer) {
		w.Int(int64(s.replicasAcked(target)))
	})
}

// cmdWaitaof is WAITAOF numlocal numreplicas timeout (Redis 7.2): block
// until this client's last write is fsynced to the local AOF (numlocal 1)
// and to the AOF of numreplicas replicas, or the timeout; the reply is
// both counts. Replicas report what their AOF fsynced with REPLCONF ACK
// <offset> FACK <aof offset>.
func cmdWaitaof(c *Ctx) {
	s := c.Srv
	numlocal, ok := ParseInt(c.Args[1])
	if !ok {
		c.Error(ErrNotInt)
		return
	}
	if numlocal < 0 || numlocal > 1 {
		c.Error("ERR value is out of range, value must between 0 and 1")
		return
	}
	numreplicas, ok := ParseInt(c.Args[2])
	if !ok {
		c.Error(ErrNotInt)
		return
	}
	if numreplicas < 0 {
		c.Error("ERR value is out of range, must be positive")
		return
	}
	ms, ok := ParseInt(c.Args[3])
	if !ok {
		c.Error("ERR timeout is not an integer or out of range")
		return
	}
	if ms < 0 {
		c.Error("ERR timeout is negative")
		return
	}
	if s.repl.isReplica() {
		c.Error("ERR WAITAOF cannot be used with replica instances. Please also note that writes to replicas are just local and are not propagated.")
		return
	}
	// Checked again when a waiting client is retried: turning the AOF
	// off ends the wait with this error, as in Redis.
	if numlocal > 0 && s.aof.FsyncedOffset() < 0 {
		c.Error("ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.")
		return
	}
	target := c.Client.lastWriteOffset
	counts := func(w *resp.Writer) (local, replicas int64) {
		if s.aof.FsyncedOffset() >= target {
			local = 1
		}
		for _, ri := range s.repl.replicas {
			if ri.aofAckOffset >= target && !ri.hidden {
				replicas++
			}
		}
		if w != nil {
			w.Array(2)
			w.Int(local)
			w.Int(replicas)
		}
		return local, replicas
	}
	if local, replicas := counts(nil); (local >= numlocal && replicas >= numreplicas) || c.InMulti {
		counts(c.W)
		return
	}
	if !c.Reprocessing && numreplicas > 0 {
		s.repl.append(resp.AppendCommandStrings(nil, "REPLCONF", "GETACK", "*"))
	}
	c.Block([]string{waitKey}, time.Duration(ms)*time.Millisecond, func(w *resp.Writer) { counts(w) })
}

// waitKey is the pseudo key WAITing clients block on.
const waitKey = "\x00wait"

// replicasAcked counts replicas whose ack reached offset.
func (s *Server) replicasAcked(offset int64) int {
	n := 0
	for _, ri := range s.repl.replicas {
		if ri.ackOffset >= offset && !ri.hidden {
			n++
		}
	}
	return n
}

// waitAcked wakes WAITing clients and sync-replicas writers after an ack
// or a change of what counts; under the lock. (WAIT blocks on a pseudo
// key in its client's database.)
func (s *Server) waitAcked() {
	for db := range s.ks.DBs {
		s.blocking.signalReady(db, waitKey)
	}
	s.releaseSyncWriters()
}

// releaseSyncWriters lets go the sync-replicas writers whose writes enough
// replicas have acked; under the lock. Only those: waking every writer on
// every ack had each of them take the lock again to find out.
func (s *Server) releaseSyncWriters() {
	r := &s.repl
	if len(r.syncWriters) == 0 {
		return
	}
	confirmed := s.confirmedOffset(s.cfg.SyncReplicas)
	keep := r.syncWriters[:0]
	for _, w := range r.syncWriters {
		if w.target <= confirmed {
			close(w.done)
		} else {
			keep = append(keep, w)
		}
	}
	clear(r.syncWriters[len(keep):])
	r.syncWriters = keep
}

// replyMark locates the reply of one write in a client's output, for
// appendfsync always and sync-replicas: a reply whose offset is not made
// durable, or not confirmed in time, is replaced by an error.
type replyMark struct {
	start, end int
	offset     int64
}

// failReplies replaces the replies of the writes past confirmed with msg
// (a whole RESP error line). The marks of the replies left are moved with
// the output; those replaced are dropped, so a later wait does not
// replace them again.
func (cl *Client) failReplies(confirmed int64, msg string) {
	buf := cl.W.Buf
	out := make([]byte, 0, len(buf))
	last := 0 // buf is copied up to here
	keep := cl.waitMarks[:0]
	for _, m := range cl.waitMarks {
		if m.start < last || m.end > len(buf) {
			continue // not a reply in this output: forget it
		}
		out = append(out, buf[last:m.start]...)
		last = m.end
		if m.offset > confirmed && m.start < m.end { // (none: CLIENT REPLY OFF)
			out = append(out, msg...)
			continue
		}
		start := len(out)
		out = append(out, buf[m.start:m.end]...)
		keep = append(keep, replyMark{start, len(out), m.offset})
	}
	cl.waitMarks = keep
	out = append(out, buf[last:]...)
	cl.W.Buf = out
}

// waitReplicaAcks is the no-loss mode (sync-replicas N): it blocks,
// without the lock, until N replicas acknowledged the client's writes,
// asking for acks at once, and turns the replies of writes still not
// confirmed at the timeout into errors.
func (s *Server) waitReplicaAcks(cl *Client) {
	target := cl.syncWait
	cl.syncWait = 0
	s.mu.Lock()
	n := s.cfg.SyncReplicas
	timeout := time.Duration(s.cfg.SyncReplicasTimeout) * time.Millisecond
	r := &s.repl
	if s.confirmedOffset(n) >= target {
		s.mu.Unlock()
		return
	}
	if r.getackOffset < target {
		// One GETACK covers every write before it: writers waiting
		// together share it.
		r.append(resp.AppendCommandStrings(nil, "REPLCONF", "GETACK", "*"))
		r.getackOffset = r.offset
	}
	// Registered under the lock, which acks are taken under too: none
	// can slip by between the check above and the wait.
	done := make(chan struct{})
	r.syncWriters = append(r.syncWriters, syncWriter{target, done})
	s.mu.Unlock()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	select {
	case <-done:
		return
	case <-deadline.C:
	}
	s.mu.Lock()
	select {
	case <-done:
		// Released just as the time ran out.
		s.mu.Unlock()
		return
	default:
	}
	r.syncWriters = slices.DeleteFunc(r.syncWriters, func(w syncWriter) bool { return w.done == done })
	confirmed := s.confirmedOffset(s.cfg.SyncReplicas)
	s.mu.Unlock()
	s.log.Debug("writes not confirmed by enough replicas in time", zap.Int64("id", cl.ID), zap.Int("sync_replicas", n))
	cl.failReplies(confirmed, fmt.Sprintf("-NOTCONFIRMED The write was applied on the master but not confirmed by %d replica(s) within %d ms\r\n", n, timeout.Milliseconds()))
}

// confirmedOffset is the highest offset at least n replicas acked.
func (s *Server) confirmedOffset(n int) int64 {
	if n <= 0 {
		return s.repl.offset
	}
	var buf [8]int64
	acks := buf[:0]
	for _, ri := range s.repl.replicas {
		if !ri.hidden {
			acks = append(acks, ri.ackOffset)
		}
	}
	if len(acks) < n {
		return -1
	}
	slices.Sort(acks)
	return acks[len(acks)-n]
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
