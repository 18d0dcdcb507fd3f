package node

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/vigilkv/vigil/internal/resp"
	"github.com/vigilkv/vigil/node/keyspace"
)

// The replica side of replication: REPLICAOF starts a link goroutine
// that connects to the master, does the handshake (PING, AUTH, REPLCONF
// listening-port and capa eof psync2, PSYNC), loads a full resync's RDB
// or continues from where it was, then applies the master's stream as a
// master client. The stream's bytes are appended verbatim to this node's
// own replication stream, so its offsets equal the master's and chained
// replicas and the AOF see exactly what the master sent.

// replicaLink is a replica's connection to its master.
type replicaLink struct {
	state     string // connect, connecting, sync, connected
	cancel    context.CancelFunc
	done      chan struct{}
	lastIO    time.Time
	downSince time.Time
	syncStart time.Time
	// syncRead counts the payload bytes read so far (master_sync_read_bytes);
	// syncTotal is its announced length (0 for the $EOF: framing, as in
	// Redis).
	syncRead   atomic.Int64
	syncTotal  int64
	connMu     sync.Mutex
	conn       net.Conn
	masterLink *Client
	// pendingStream is stream data read along with a full sync's
	// payload, parsed before reading more.
	pendingStream []byte
	// failover makes the PSYNC ask the master to promote itself first
	// (we are the old master of a coordinated FAILOVER).
	failover bool
	// ackNow asks for a REPLCONF ACK at once (the AOF fsynced more).
	ackNow chan struct{}
	// dial, if set, replaces the TCP connection to the master (an
	// upgrade's private socket pair).
	dial func(ctx context.Context) (net.Conn, error)
}

func cmdReplicaof(c *Ctx) {
	s := c.Srv
	if c.ArgIs(1, "no") && c.ArgIs(2, "one") {
		if s.repl.isReplica() {
			s.promote()
		}
		c.W.OK()
		return
	}
	port, ok := ParseInt(c.Args[2])
	if !ok || port < 0 || port > 65535 {
		c.Error("ERR Invalid master port")
		return
	}
	host := c.Str(1)
	if s.repl.masterHost == host && s.repl.masterPort == int(port) {
		s.log.Info("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.")
		c.W.Simple("OK Already connected to specified master")
		return
	}
	s.setMaster(host, int(port))
	c.W.OK()
}

// promote makes this replica a master (REPLICAOF NO ONE): it keeps its
// data and starts a new replication history, keeping the old one as
// replid2 so its former siblings and old master can continue with a
// partial resync. Under the lock.
func (s *Server) promote() {
	r := &s.repl
	s.stopLink()
	s.log.Info("promoted to master", zap.String("former_master", net.JoinHostPort(r.masterHost, strconv.Itoa(r.masterPort))))
	r.masterHost, r.masterPort = "", 0
	s.cfg.ReplicaOf = ""
	s.ks.Config.ReplicaMode = false
	r.replID2 = r.replID
	r.secondOffset = r.offset + 1
	r.replID = newRunID()
	r.lastDB = -1
	// A new master is unmanaged until its sentinels renew a lease, unless
	// a sentinel promoted it (LEASE REQUIRE first): then it takes no
	// write before a majority of them renewed.
	require := s.leaseOnPromotion
	s.resetLease()
	if require {
		s.lease.Require()
	}
}

// setMaster starts replicating from host:port; under the lock.
func (s *Server) setMaster(host string, port int) {
	s.setMasterVia(host, port, nil)
}

// setMasterVia is setMaster with a custom connection to the master.
func (s *Server) setMasterVia(host string, port int, dial func(context.Context) (net.Conn, error)) {
	r := &s.repl
	s.stopLink()
	r.masterHost, r.masterPort = host, port
	s.cfg.ReplicaOf = host + " " + strconv.Itoa(port)
	s.unblockAllForRoleChange()
	s.resetLease()
	s.ks.Config.ReplicaMode = true
	s.log.Info("connecting to master", zap.String("master", net.JoinHostPort(host, strconv.Itoa(port))))
	ctx, cancel := context.WithCancel(context.Background())
	l := &replicaLink{state: "connect", cancel: cancel, done: make(chan struct{}), downSince: s.clock(), dial: dial, ackNow: make(chan struct{}, 1)}
	r.link = l
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(l.done)
		s.runLink(ctx, l, host, port)
	}()
}

// unblockAllForRoleChange ends every blocked client's wait (WAIT,
// WAITAOF, blocking pops) with Redis's error and closes it after the
// reply, as Redis does when a node becomes a replica: what they wait for
// will not happen on it. Under the lock.
func (s *Server) unblockAllForRoleChange() {
	for _, cl := range s.clients {
		if cl.block == nil {
			continue
		}
		s.blocking.unblock(cl)
		cl.W.Error("UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)")
		cl.Flags |= ClientCloseAfterReply
	}
}

// stopLink ends the link to the master, if any; under the lock.
func (s *Server) stopLink() {
	l := s.repl.link
	if l == nil {
		return
	}
	l.cancel()
	l.connMu.Lock()
	if l.conn != nil {
		l.conn.Close()
	}
	l.connMu.Unlock()
	s.repl.link = nil
}

// runLink keeps the link up: connect, sync, stream, and again after a
// failure, until ctx ends.
func (s *Server) runLink(ctx context.Context, l *replicaLink, host string, port int) {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	// Our own dataset (and the replication position it records) loads
	// first.
	for s.persist.loading.Load() && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	// The first retry after a link that was up comes quickly (a master
	// restarting in place, an upgrade handing its listener over, is back
	// in milliseconds and its sync-replicas writers wait for us); then
	// the delay doubles up to Redis's one second.
	backoff := time.Second
	for ctx.Err() == nil {
		err := s.linkOnce(ctx, l, addr)
		s.mu.Lock()
		if l.state != "connect" {
			l.downSince = s.clock()
		}
		if l.state == "connected" {
			backoff = 20 * time.Millisecond
		}
		l.state = "connect"
		l.masterLink = nil
		s.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("replication link with the master is down", zap.String("master", addr), zap.Error(err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// linkOnce connects, syncs and streams until the connection fails.
func (s *Server) linkOnce(ctx context.Context, l *replicaLink, addr string) error {
	s.mu.Lock()
	l.state = "connecting"
	timeout := time.Duration(s.cfg.ReplTimeout) * time.Second
	s.mu.Unlock()
	d := net.Dialer{Timeout: timeout}
	dial := func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	if l.dial != nil {
		dial = l.dial
	}
	conn, err := dial(ctx)
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	l.connMu.Lock()
	l.conn = conn
	l.connMu.Unlock()
	defer conn.Close()
	// The stream from the master is read without scheduler hand-offs, as
	// clients are (see connIO).
	br := bufio.NewReaderSize(newConnIO(conn), 64<<10)
	cmd := func(args ...string) (string, error) {
		conn.SetDeadline(time.Now().Add(timeout))
		if _, err := conn.Write(resp.AppendCommandStrings(nil, args...)); err != nil {
			return "", err
		}
		line, err := br.ReadString('\n')
		return strings.TrimRight(line, "\r\n"), err
	}
	reply, err := cmd("PING")
	if err != nil {
		return fmt.Errorf("PING: %w", err)
	}
	if strings.HasPrefix(reply, "-") && !strings.HasPrefix(reply, "-NOAUTH") {
		return fmt.Errorf("master replied to PING: %s", reply)
	}
	s.mu.Lock()
	user, pass, myPort := s.cfg.MasterUser, s.cfg.MasterAuth, s.cfg.Port
	announceIP, announcePort := s.cfg.ReplicaAnnounceIP, s.cfg.ReplicaAnnouncePort
	s.mu.Unlock()
	if pass != "" {
		args := []string{"AUTH", pass}
		if user != "" {
			args = []string{"AUTH", user, pass}
		}
		if reply, err := cmd(args...); err != nil || !strings.HasPrefix(reply, "+") {
			return fmt.Errorf("AUTH with the master failed: %s %v", reply, err)
		}
	}
	if announcePort > 0 {
		myPort = announcePort
	}
	if reply, err := cmd("REPLCONF", "listening-port", strconv.Itoa(myPort)); err != nil {
		return fmt.Errorf("REPLCONF listening-port: %w", err)
	} else if strings.HasPrefix(reply, "-") {
		s.log.Info("master does not understand REPLCONF listening-port", zap.String("reply", reply))
	}
	if announceIP != "" {
		cmd("REPLCONF", "ip-address", announceIP)
	}
	if _, err := cmd("REPLCONF", "capa", "eof", "capa", "psync2"); err != nil {
		return fmt.Errorf("REPLCONF capa: %w", err)
	}
	s.mu.Lock()
	replid, offset := s.repl.replID, s.repl.offset
	psync := []string{"PSYNC", replid, strconv.FormatInt(offset+1, 10)}
	if l.failover {
		psync = append(psync, "FAILOVER")
	}
	s.mu.Unlock()
	reply, err = cmd(psync...)
	for err == nil && reply == "" {
		// A master delaying the sync (repl-diskless-sync-delay) sends
		// newlines meanwhile.
		conn.SetReadDeadline(time.Now().Add(timeout))
		var line string
		line, err = br.ReadString('\n')
		reply = strings.TrimRight(line, "\r\n")
	}
	if err != nil {
		return fmt.Errorf("PSYNC: %w", err)
	}
	switch {
	case strings.HasPrefix(reply, "+FULLRESYNC"):
		f := strings.Fields(reply)
		if len(f) != 3 {
			return fmt.Errorf("bad FULLRESYNC reply %q", reply)
		}
		off, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return fmt.Errorf("bad FULLRESYNC offset %q", reply)
		}
		if err := s.receiveFullSync(ctx, l, conn, br, f[1], off, timeout); err != nil {
			return err
		}
	case strings.HasPrefix(reply, "+CONTINUE"):
		f := strings.Fields(reply)
		s.mu.Lock()
		if len(f) == 2 && f[1] != s.repl.replID {
			// The master's history has a new id (it was promoted): ours
			// continues under it, the old one kept as replid2.
			s.repl.replID2 = s.repl.replID
			s.repl.secondOffset = s.repl.offset + 1
			s.repl.replID = f[1]
			s.disconnectReplicas("master replication id changed")
		}
		s.mu.Unlock()
		s.log.Info("partial resynchronization with the master succeeded", zap.String("master", addr), zap.Int64("offset", offset))
	default:
		return fmt.Errorf("master refused PSYNC: %s", reply)
	}
	return s.streamFromMaster(ctx, l, conn, br, timeout)
}

// receiveFullSync reads the RDB payload and installs it in place of the
// current dataset, the way repl-diskless-load says (as Redis 7 does):
//
//   - disabled (the default), or on-empty-db with data: the payload goes
//     to a temporary file while the old dataset keeps answering
//     (replica-serve-stale-data yes); once it is complete the file
//     becomes the RDB file and is loaded in place of the dataset
//     (clients get -LOADING meanwhile). A transfer cut short leaves the
//     old dataset as it was.
//   - on-empty-db with no data: loaded from the socket (-LOADING
//     meanwhile); a failure leaves the dataset empty.
//   - swapdb: loaded from the socket into a separate dataset, swapped in
//     once complete; a failure discards it and the old one stays. When
//     the master's replication id is ours (the same history, later),
//     the old dataset answers reads during the load (async_loading:1),
//     otherwise clients get -LOADING until the swap.
//
// Clients never see a half-loaded dataset.
func (s *Server) receiveFullSync(ctx context.Context, l *replicaLink, conn net.Conn, br *bufio.Reader, replid string, offset int64, timeout time.Duration) error {
	s.mu.Lock()
	l.state = "sync"
	l.syncStart = s.clock()
	l.lastIO = l.syncStart
	l.syncTotal = 0
	l.syncRead.Store(0)
	s.mu.Unlock()
	var header string
	for {
		// The master may send newlines to keep the link alive while it
		// prepares the payload.
		conn.SetReadDeadline(time.Now().Add(timeout))
		line, err := br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("reading the sync payload header: %w", err)
		}
		header = strings.TrimRight(line, "\r\n")
		if header != "" {
			break
		}
	}
	if !strings.HasPrefix(header, "$") {
		return fmt.Errorf("bad sync payload header %q", header)
	}
	var body io.Reader
	var mark []byte
	if eof, ok := strings.CutPrefix(header, "$EOF:"); ok {
		if len(eof) != 40 {
			return fmt.Errorf("bad EOF mark %q", header)
		}
		mark = []byte(eof)
		body = br
	} else {
		n, err := strconv.ParseInt(header[1:], 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("bad sync payload length %q", header)
		}
		body = io.LimitReader(br, n)
		s.mu.Lock()
		l.syncTotal = n
		s.mu.Unlock()
	}
	// Reading the payload is bounded by repl-timeout of silence.
	dr := &deadlineReader{conn: conn, r: body, timeout: timeout, read: &l.syncRead}
	s.mu.Lock()
	mode := s.cfg.ReplDisklessLoad
	empty := s.dbSizeAll() == 0
	sameHistory := replid == s.repl.replID
	s.mu.Unlock()
	// An upgrade's link feeds a new, empty process: always from the socket.
	swapdb := mode == "swapdb" && l.dial == nil
	diskless := swapdb || l.dial != nil || (mode == "on-empty-db" && empty)
	var leftover []byte
	var err error
	switch {
	case !diskless:
		leftover, err = s.fullSyncViaDisk(ctx, dr, mark, l.syncTotal, replid, offset)
	case swapdb:
		leftover, err = s.fullSyncSwapdb(ctx, dr, mark, l.syncTotal, replid, offset, sameHistory)
	default:
		leftover, err = s.fullSyncInPlace(ctx, dr, mark, l.syncTotal, replid, offset)
	}
	if err != nil {
		return err
	}
	if len(leftover) > 0 {
		// Stream bytes read along with the payload: parse them first.
		s.mu.Lock()
		l.pendingStream = leftover
		s.mu.Unlock()
	}
	s.mu.Lock()
	aofOn := s.aof.on
	s.mu.Unlock()
	if aofOn {
		s.mu.Lock()
		if err := s.startAOFRewrite("full resync with the master"); err != nil {
			s.aof.scheduled = true
		}
		s.mu.Unlock()
	}
	s.log.Info("full resync done: streaming from the master", zap.Int64("offset", offset))
	return nil
}

// dbSizeAll is the number of keys in every database; under the lock.
func (s *Server) dbSizeAll() int {
	n := 0
	for _, db := range s.ks.DBs {
		n += db.Len()
	}
	return n
}

// flushAllForSync empties every database before a full sync's load;
// under the lock.
func (s *Server) flushAllForSync() {
	for _, db := range s.ks.DBs {
		s.TouchAllInDB(db, nil)
		db.Flush()
	}
}

// adoptMasterHistory records the master's replication id and offset after
// a full sync was installed, and drops this node's own replicas (their
// history is not ours any more); under the lock.
func (s *Server) adoptMasterHistory(replid string, offset int64) {
	r := &s.repl
	r.replID = replid
	r.replID2 = "0000000000000000000000000000000000000000"
	r.secondOffset = -1
	r.offset = offset
	r.lastDB = -1
	if r.backlog != nil {
		// In place: the stream consumer feeding it is bound to this
		// backlog (a new one would stay empty and serve partial resyncs
		// nothing).
		r.backlog.reset(offset)
	}
	if a := &s.aof; a.on {
		// The offsets jump to the master's, and nothing of the new
		// dataset counts as fsynced before the rewrite that follows has
		// put it in the AOF (WAITAOF must not count this replica early).
		a.mu.Lock()
		a.markOffset(offset)
		a.holdDurable()
		a.mu.Unlock()
	}
	s.disconnectReplicas("full resync with the master")
}

// checkEOFMark reads the 40-byte mark that must follow a diskless RDB
// ($EOF: framing), starting with what the RDB reader read beyond the
// RDB's end, and returns the bytes after the mark.
func checkEOFMark(r io.Reader, mark, leftover []byte) ([]byte, error) {
	if mark == nil {
		if len(leftover) > 0 {
			return nil, errors.New("the sync payload has data after the RDB")
		}
		return nil, nil
	}
	got := make([]byte, 0, len(mark))
	got = append(got, leftover[:min(len(leftover), len(mark))]...)
	leftover = leftover[len(got):]
	if len(got) < len(mark) {
		rest := make([]byte, len(mark)-len(got))
		if _, err := io.ReadFull(r, rest); err != nil {
			return nil, fmt.Errorf("reading the EOF mark: %w", err)
		}
		got = append(got, rest...)
	}
	if !bytes.Equal(got, mark) {
		return nil, errors.New("the sync payload does not end with its EOF mark")
	}
	return leftover, nil
}

// fullSyncInPlace loads the payload from the socket straight into the
// (emptied) dataset, with -LOADING meanwhile; a failure leaves it empty
// rather than half-loaded.
func (s *Server) fullSyncInPlace(ctx context.Context, r io.Reader, mark []byte, total int64, replid string, offset int64) ([]byte, error) {
	p := &s.persist
	s.log.Info("full resync from the master: loading its RDB from the socket", zap.String("replid", replid), zap.Int64("offset", offset))
	s.mu.Lock()
	if err := ctx.Err(); err != nil {
		// REPLICAOF ran meanwhile: this link is over.
		s.mu.Unlock()
		return nil, err
	}
	// Flagged in the same critical section as the flush: no client sees
	// the empty dataset as if it were the master's.
	p.loading.Store(true)
	s.flushAllForSync()
	s.mu.Unlock()
	leftover, err := s.loadRDBStream(r, total, "the master's payload", false)
	if err == nil {
		leftover, err = checkEOFMark(r, mark, leftover)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer p.loading.Store(false)
	if err != nil {
		s.flushAllForSync()
		return nil, err
	}
	s.adoptMasterHistory(replid, offset)
	return leftover, nil
}

// fullSyncSwapdb loads the payload from the socket into a separate
// keyspace and swaps it in once complete. With async (the master's
// history is ours) the old dataset answers reads meanwhile; otherwise
// clients get -LOADING until the swap. A failure discards the new one.
func (s *Server) fullSyncSwapdb(ctx context.Context, r io.Reader, mark []byte, total int64, replid string, offset int64, async bool) ([]byte, error) {
	p := &s.persist
	flag := &p.loading
	if async {
		flag = &p.asyncLoading
	}
	s.log.Info("full resync from the master: loading its RDB from the socket into a separate dataset",
		zap.String("replid", replid), zap.Int64("offset", offset), zap.Bool("async_loading", async))
	s.mu.Lock()
	flag.Store(true)
	// A keyspace of its own (no hooks: nothing here is visible to
	// clients until the swap), with the live one's settings.
	tmp := keyspace.New(len(s.ks.DBs), s.ksClock, nil)
	tmp.Config = s.ks.Config
	s.mu.Unlock()
	leftover, err := s.loadRDBInto(r, total, "the master's payload", rdbLoadOpts{into: tmp, async: async})
	if err == nil {
		leftover, err = checkEOFMark(r, mark, leftover)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer flag.Store(false)
	if err == nil {
		// REPLICAOF may have run during an async load (it is not
		// refused then): the link is over and its dataset is not ours.
		err = ctx.Err()
	}
	if err != nil {
		s.log.Warn("full resync failed: discarding the partly loaded dataset, the old one stays", zap.Error(err))
		return nil, err
	}
	s.log.Info("full resync: swapping the loaded dataset in")
	ids := make([]int, len(s.ks.DBs))
	for i, db := range s.ks.DBs {
		s.TouchAllInDB(db, nil)
		db.SwapContents(tmp.DBs[i])
		ids[i] = i
	}
	s.blocking.signalAllIn(ids...)
	s.adoptMasterHistory(replid, offset)
	return leftover, nil
}

// fullSyncViaDisk is repl-diskless-load disabled: the payload goes to a
// temporary file while the old dataset keeps answering; once complete
// the file replaces the RDB file and is loaded in place of the dataset
// (-LOADING meanwhile). A transfer cut short removes the file and leaves
// the dataset as it was.
func (s *Server) fullSyncViaDisk(ctx context.Context, r io.Reader, mark []byte, total int64, replid string, offset int64) ([]byte, error) {
	s.mu.Lock()
	dir, rdbPath := s.cfg.Dir, s.rdbPath()
	s.mu.Unlock()
	s.log.Info("full resync from the master: receiving its RDB to disk", zap.String("replid", replid), zap.Int64("offset", offset))
	tmpPath := filepath.Join(dir, fmt.Sprintf("temp-%d.%d.rdb", time.Now().Unix(), os.Getpid()))
	leftover, err := receiveToFile(r, tmpPath, mark)
	if err != nil {
		os.Remove(tmpPath)
		return nil, fmt.Errorf("receiving the sync payload to %s: %w", tmpPath, err)
	}
	p := &s.persist
	s.mu.Lock()
	if err := ctx.Err(); err != nil {
		// REPLICAOF ran during the transfer: this link is over.
		s.mu.Unlock()
		os.Remove(tmpPath)
		return nil, err
	}
	p.loading.Store(true)
	s.flushAllForSync()
	s.mu.Unlock()
	defer p.loading.Store(false)
	// A background save of the old dataset still running would rename
	// its file over the payload's; none starts while loading.
	s.waitBgsave()
	if err := os.Rename(tmpPath, rdbPath); err != nil {
		os.Remove(tmpPath)
		s.mu.Lock()
		defer s.mu.Unlock()
		return nil, fmt.Errorf("renaming the sync payload to %s: %w", rdbPath, err)
	}
	if err := syncDir(dir); err != nil {
		s.log.Warn("fsync of the data directory failed", zap.Error(err))
	}
	s.log.Info("full resync: loading the received RDB", zap.String("file", rdbPath))
	err = s.loadRDB(rdbPath, false)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.flushAllForSync()
		return nil, fmt.Errorf("loading the master's payload from %s: %w", rdbPath, err)
	}
	s.adoptMasterHistory(replid, offset)
	return leftover, nil
}

// receiveToFile copies a sync payload to a new file at path and fsyncs
// it. With a mark ($EOF: framing) the payload ends at the mark and what
// follows it is returned; without, r ends with the payload.
func receiveToFile(r io.Reader, path string, mark []byte) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var leftover []byte
	if mark == nil {
		if _, err := io.Copy(f, r); err != nil {
			return nil, err
		}
	} else {
		// The last len(mark) bytes are held back until more arrive: they
		// may be the start of the mark.
		buf := make([]byte, 64<<10)
		var pending []byte
		for {
			n, err := r.Read(buf)
			pending = append(pending, buf[:n]...)
			if i := bytes.Index(pending, mark); i >= 0 {
				if _, err := f.Write(pending[:i]); err != nil {
					return nil, err
				}
				leftover = bytes.Clone(pending[i+len(mark):])
				break
			}
			if keep := len(mark) - 1; len(pending) > keep {
				if _, err := f.Write(pending[:len(pending)-keep]); err != nil {
					return nil, err
				}
				pending = append(pending[:0], pending[len(pending)-keep:]...)
			}
			if err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return nil, err
			}
		}
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	return leftover, f.Close()
}

// deadlineReader extends the connection's read deadline before each read.
// It counts what it read for INFO's master_sync_read_bytes.
type deadlineReader struct {
	conn    net.Conn
	r       io.Reader
	timeout time.Duration
	read    *atomic.Int64
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	d.conn.SetReadDeadline(time.Now().Add(d.timeout))
	n, err := d.r.Read(p)
	if d.read != nil {
		d.read.Add(int64(n))
	}
	return n, err
}

// disconnectReplicas closes this node's own replicas (their history no
// longer matches ours); under the lock.
func (s *Server) disconnectReplicas(why string) {
	for _, ri := range s.repl.replicas {
		s.log.Info("disconnecting replica", zap.String("addr", ri.cl.Addr()), zap.String("why", why))
		ri.cl.kill()
	}
}

// streamFromMaster applies the master's command stream until the link
// fails, acknowledging the offset every second.
func (s *Server) streamFromMaster(ctx context.Context, l *replicaLink, conn net.Conn, br *bufio.Reader, timeout time.Duration) error {
	cl := newClient(s, conn)
	cl.Authenticated = true
	cl.Flags |= ClientMaster
	cl.ID = s.nextID.Add(1)
	cl.rd = resp.NewRequestReader(br)
	cl.rd.MaxBulkLen = 1 << 40
	cl.rd.MaxQueryBuf = 0
	s.mu.Lock()
	if l.pendingStream != nil {
		cl.rd.Prime(l.pendingStream)
		l.pendingStream = nil
	}
	l.state = "connected"
	l.lastIO = s.clock()
	l.masterLink = cl
	s.mu.Unlock()
	sendAck := func() error {
		s.mu.Lock()
		off := s.repl.offset
		fack := s.aof.FsyncedOffset()
		s.mu.Unlock()
		args := []string{"REPLCONF", "ACK", strconv.FormatInt(off, 10)}
		if fack >= 0 {
			// With the AOF on, what it has fsynced (Redis 7.2's FACK,
			// for WAITAOF on the master).
			args = append(args, "FACK", strconv.FormatInt(fack, 10))
		}
		l.connMu.Lock()
		defer l.connMu.Unlock()
		conn.SetWriteDeadline(time.Now().Add(timeout))
		_, err := conn.Write(resp.AppendCommandStrings(nil, args...))
		return err
	}
	if err := sendAck(); err != nil {
		return err
	}
	ackDone := make(chan struct{})
	defer close(ackDone)
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ackDone:
				return
			case <-t.C:
			case <-l.ackNow:
				// The AOF fsynced more: tell the master now, a WAITAOF
				// may be waiting for it.
			}
			if sendAck() != nil {
				conn.Close()
				return
			}
		}
	}()
	needInput := false // a primed stream may hold whole commands
	for ctx.Err() == nil {
		if needInput {
			conn.SetReadDeadline(time.Now().Add(timeout))
			if err := cl.rd.Fill(); err != nil {
				return fmt.Errorf("reading from the master: %w", err)
			}
		}
		// Apply what is buffered as one batch under the lock, the way a
		// client's pipeline runs, reading its keys ahead.
		getack, more, err := s.applyFromMaster(ctx, l, cl)
		if err != nil {
			return err
		}
		needInput = !more
		if getack {
			if err := sendAck(); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// applyFromMaster applies the whole commands buffered from the master, up
// to a batch, forwarding each verbatim to this node's own stream. It
// reports whether a REPLCONF GETACK was among them (one ack, sent after
// the lock is released, answers every GETACK of the batch with the offset
// after it: a master waiting on sync-replicas asks once per waiting
// client, and an ack each cost the replica as much as applying the
// writes), whether it stopped at the batch's end with whole commands
// left, and returns ctx's error once the link is stopped.
func (s *Server) applyFromMaster(ctx context.Context, l *replicaLink, cl *Client) (getack, more bool, err error) {
	s.mu.Lock()
	cl.batching, cl.batchClock = true, time.Time{}
	defer func() {
		cl.batching = false
		s.mu.Unlock()
	}()
	l.lastIO = s.clock()
	for n := 0; n < maxBatch; n++ {
		if ctx.Err() != nil {
			// The link was stopped (REPLICAOF, an upgrade's commit): what
			// was read after that is not applied.
			return false, false, ctx.Err()
		}
		before := cl.rd.Unread()
		args, err := cl.rd.Next()
		if err == resp.ErrIncomplete {
			return getack, false, nil
		}
		if err != nil {
			return false, false, fmt.Errorf("bad data from the master: %w", err)
		}
		raw := before[:len(before)-cl.rd.Buffered()]
		isGetack := len(args) >= 2 && strings.EqualFold(string(args[0]), "replconf") && strings.EqualFold(string(args[1]), "getack")
		if len(args) > 0 && !isGetack {
			s.readAhead(cl)
			s.processCommand(cl, args)
			cl.W.Reset()
		}
		// Forwarded verbatim: offsets match the master's.
		s.repl.append(raw)
		getack = getack || isGetack
	}
	return getack, true, nil
}

// replicaLinkCron: nothing periodic yet beyond the link goroutine's own
// timers; kept as the hook for repl-timeout checks of a silent master.
func (s *Server) replicaLinkCron() {}

// writeInfoLink is the replica part of INFO replication.
func (s *Server) writeInfoLink(field func(string, any)) {
	r := &s.repl
	l := r.link
	field("role", "slave")
	field("master_host", r.masterHost)
	field("master_port", r.masterPort)
	up := l != nil && l.state == "connected"
	if up {
		field("master_link_status", "up")
		field("master_last_io_seconds_ago", int64(s.clock().Sub(l.lastIO).Seconds()))
	} else {
		field("master_link_status", "down")
		field("master_last_io_seconds_ago", -1)
	}
	syncing := l != nil && l.state == "sync"
	field("master_sync_in_progress", boolInt(syncing))
	if syncing {
		// Redis's transfer progress: the total is 0 with the $EOF:
		// framing (unknown), and the left bytes are not clamped.
		read := l.syncRead.Load()
		pct := 0.0
		if l.syncTotal > 0 {
			pct = float64(read) * 100 / float64(l.syncTotal)
		}
		field("master_sync_total_bytes", l.syncTotal)
		field("master_sync_read_bytes", read)
		field("master_sync_left_bytes", l.syncTotal-read)
		field("master_sync_perc", fmt.Sprintf("%.2f", pct))
		field("master_sync_last_io_seconds_ago", int64(s.clock().Sub(l.lastIO).Seconds()))
	}
	field("slave_read_repl_offset", r.offset)
	field("slave_repl_offset", r.offset)
	if !up && l != nil {
		field("master_link_down_since_seconds", int64(s.clock().Sub(l.downSince).Seconds()))
	}
	field("slave_priority", s.cfg.ReplicaPriority)
	field("slave_read_only", boolInt(s.cfg.ReplicaReadOnly))
	field("replica_announced", 1)
}
