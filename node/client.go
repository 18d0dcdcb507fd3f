package node

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/vigilkv/vigil/internal/resp"
	"github.com/vigilkv/vigil/node/dict"
)

// Client flags, for CLIENT LIST and dispatch decisions.
const (
	ClientMulti     = 1 << iota // inside MULTI
	ClientDirtyCAS              // a WATCHed key changed
	ClientDirtyExec             // a queued command was rejected
	ClientMonitor
	ClientReplica
	ClientMaster
	ClientPubSub
	ClientNoEvict
	ClientNoTouch
	ClientCloseAfterReply
	ClientReadonly
	// CLIENT REPLY OFF / SKIP: replies are discarded.
	ClientReplyOff
	ClientReplySkip
	ClientReplySkipNext
	// ClientAOFLoader is the connectionless client replaying the AOF: it
	// bypasses loading and write checks and its writes are not propagated.
	ClientAOFLoader
)

const (
	// maxBatch bounds how many pipelined commands run under one lock
	// acquisition, so one deep pipeline cannot starve other clients.
	maxBatch = 256
	// flushThreshold flushes a batch early once this much reply data is
	// buffered.
	flushThreshold = 64 << 10
)

// Client is one connection and its protocol state. Fields are owned by the
// connection's goroutine or guarded by the server lock, as noted.
type Client struct {
	ID   int64
	srv  *Server
	conn net.Conn
	// io reads and writes conn (see connIO).
	io *connIO
	rd *resp.RequestReader
	// W is the reply buffer. Written by the client's goroutine while it
	// executes, or under the server lock while the client waits blocked.
	W   *resp.Writer
	ctx Ctx

	// Under the server lock.
	DB            int
	Name          string
	LibName       string
	LibVer        string
	Authenticated bool
	User          string
	Flags         int
	LastCmd       string

	Created         time.Time
	lastInteraction atomic.Int64 // unix ms
	// Query buffer sizes after the last read, for other clients' CLIENT
	// LIST (the buffer itself belongs to this client's goroutine).
	qbufUsed, qbufCap atomic.Int32

	tx    clientTx
	ps    clientPubSub
	block *blockState

	// async output for clients that receive pushes from other clients
	// (pub/sub, MONITOR): after enableAsync every reply goes through out
	// and a writer goroutine.
	async    bool
	outMu    sync.Mutex
	outCond  *sync.Cond
	out      []byte
	outSpare []byte
	outDone  bool

	killed   atomic.Bool
	closedCh chan struct{}
	killOnce sync.Once
	// aofWait is the stream offset that must be durable before this
	// client's pending replies go out (appendfsync always).
	aofWait int64
	// waitMarks locate the replies of the writes waiting for the AOF or
	// for replicas: replies that become errors if the wait fails.
	waitMarks []replyMark
	// lastWriteOffset is the stream offset after this client's last
	// write (WAIT).
	lastWriteOffset int64
	// repl is the master's view of a replica connection.
	repl *replicaInfo
	// syncWait is the offset N replicas must acknowledge before the
	// pending replies go out (sync-replicas).
	syncWait int64
	// writerDone is closed when the async writer goroutine exits.
	writerDone chan struct{}
	// upgradeLink marks the new process's replication link during an
	// in-place upgrade: a hidden replica.
	upgradeLink bool
	// requeue is a blocked command given back for the new process to run
	// again (an upgrade's commit); under the lock.
	requeue []byte
	// adopted is the state an upgrade handed over, until the commit.
	adopted *handedClient
	// batching is set while the connection runs a batch of requests under
	// the lock; batchClock is then where the last command ended, for the
	// next one to start at (see beginCommand), zero when there is none.
	batching   bool
	batchClock time.Time
	// peek and peekMembers hold the keys, and the arguments after them,
	// of pipelined requests read ahead; aheadLeft is how many of those
	// requests are still to run (see readAhead).
	peek, peekMembers [][]byte
	aheadLeft         int
}

func newClient(s *Server, conn net.Conn) *Client {
	cio := newConnIO(conn)
	cl := &Client{
		ID:       s.nextID.Add(1),
		srv:      s,
		conn:     conn,
		io:       cio,
		rd:       resp.NewRequestReader(cio),
		W:        resp.NewWriter(),
		Created:  s.clock(),
		User:     "default",
		closedCh: make(chan struct{}),
	}
	cl.rd.MaxBulkLen = s.cfg.ProtoMaxBulkLen
	cl.rd.MaxQueryBuf = int(s.cfg.ClientQueryBufferLimit)
	cl.Authenticated = s.cfg.RequirePass == ""
	cl.rd.Unauthenticated = !cl.Authenticated
	cl.outCond = sync.NewCond(&cl.outMu)
	cl.touch()
	return cl
}

func (cl *Client) touch() { cl.lastInteraction.Store(cl.srv.clock().UnixMilli()) }

// Addr is the client's remote address.
func (cl *Client) Addr() string {
	if cl.conn == nil {
		return ""
	}
	return cl.conn.RemoteAddr().String()
}

// LocalAddr is the server side of the connection.
func (cl *Client) LocalAddr() string {
	if cl.conn == nil {
		return ""
	}
	return cl.conn.LocalAddr().String()
}

// Idle is how long the client has been idle.
func (cl *Client) Idle() time.Duration {
	return time.Duration(cl.srv.clock().UnixMilli()-cl.lastInteraction.Load()) * time.Millisecond
}

// QueryBuf reports the query buffer's used and free bytes.
func (cl *Client) QueryBuf() (used, free int) {
	return cl.rd.Buffered(), cl.rd.BufferCap() - cl.rd.Buffered()
}

// OutputBuffered is the number of reply bytes waiting to be written.
func (cl *Client) OutputBuffered() int {
	cl.outMu.Lock()
	n := len(cl.out)
	cl.outMu.Unlock()
	return n + cl.W.Len()
}

// Proto is the client's protocol version (2 or 3).
func (cl *Client) Proto() int { return cl.W.Proto }

func (cl *Client) isLocal() bool {
	switch a := cl.conn.RemoteAddr().(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	}
	return false
}

// kill closes the connection from any goroutine; the client's goroutine
// notices and cleans up.
func (cl *Client) kill() {
	cl.killOnce.Do(func() {
		cl.killed.Store(true)
		close(cl.closedCh)
		cl.conn.Close()
		cl.outMu.Lock()
		cl.outDone = true
		cl.outCond.Broadcast()
		cl.outMu.Unlock()
	})
}

// Kill disconnects the client (CLIENT KILL, output buffer limits).
func (cl *Client) Kill() { cl.kill() }

// awaitWrites holds the client's pending replies until its writes are as
// durable as configured: on disk (appendfsync always; one fsync covers
// every client waiting: group commit) and acknowledged by sync-replicas
// replicas. Replies of writes that cannot be made so become errors.
// Called without the lock, before replies are flushed.
func (s *Server) awaitWrites(cl *Client) {
	if cl.aofWait > 0 {
		if synced, err := s.aof.waitDurable(cl.aofWait); err != nil {
			s.log.Debug("writes not made durable: the AOF failed", zap.Int64("id", cl.ID), zap.Error(err))
			cl.failReplies(synced, "-NOTCONFIRMED The write was applied in memory but not written to the AOF: "+errnoText(err)+"\r\n")
		}
		cl.aofWait = 0
	}
	if cl.syncWait > 0 {
		s.waitReplicaAcks(cl)
	}
	cl.waitMarks = cl.waitMarks[:0]
}

// serveClient is the connection's read-execute-reply loop.
func (s *Server) serveClient(cl *Client) {
	defer s.closeClient(cl)
	for {
		batch := 0
		locked := false
		more := false
		parkNow := false
		for !cl.killed.Load() {
			before := cl.rd.Buffered()
			args, err := cl.rd.Next()
			if err == resp.ErrIncomplete {
				break
			}
			if err != nil {
				if locked {
					s.mu.Unlock()
				}
				var perr *resp.ProtocolError
				if errors.As(err, &perr) {
					s.log.Debug("protocol error from client", zap.Int64("id", cl.ID), zap.String("addr", cl.Addr()), zap.Error(err))
					cl.W.Error(perr.Error())
				}
				s.awaitWrites(cl)
				cl.flush()
				return
			}
			if len(args) == 0 {
				continue
			}
			if !locked {
				s.mu.Lock()
				locked = true
				cl.batchClock = time.Time{}
			}
			if s.upgrade.parking.Load() && s.parkable(cl) {
				// An upgrade is committing: this request runs in the new
				// process.
				cl.rd.Unconsume(before - cl.rd.Buffered())
				parkNow = true
				break
			}
			s.readAhead(cl)
			cl.batching = true
			st := s.processCommand(cl, args)
			cl.batching = false
			batch++
			if st == cmdPaused {
				s.mu.Unlock()
				locked = false
				if !s.waitUnpaused(cl) {
					return
				}
				s.mu.Lock()
				locked = true
				if s.upgrade.parking.Load() && s.parkable(cl) {
					cl.rd.Unconsume(before - cl.rd.Buffered())
					parkNow = true
					break
				}
				st = s.processCommand(cl, args)
				if st == cmdPaused {
					// Paused again; retry on the next round.
					continue
				}
			}
			if st == cmdBlocked {
				s.mu.Unlock()
				locked = false
				s.awaitWrites(cl)
				if err := cl.flush(); err != nil {
					return
				}
				if !s.waitBlocked(cl) {
					return
				}
				s.mu.Lock()
				if cl.requeue != nil {
					cl.rd.Unshift(cl.requeue)
					cl.requeue = nil
				}
				s.mu.Unlock()
				continue
			}
			if cl.Flags&ClientCloseAfterReply != 0 {
				break
			}
			if batch >= maxBatch || cl.W.Len() >= flushThreshold {
				more = true
				break
			}
		}
		if locked {
			s.mu.Unlock()
		}
		s.awaitWrites(cl)
		if cl.W.Len() > 0 {
			// Replies go out once every client ready now has been served,
			// as Redis's event loop sends them after its round: flushed
			// at once, the first clients of a round got theirs in
			// microseconds and the last waited the whole round, which
			// spread latencies evenly up to twice the mean (-P 16 p99
			// 1.3-1.4x redis's; about 1.0x yielding here).
			runtime.Gosched()
		}
		if err := cl.flush(); err != nil {
			return
		}
		if cl.Flags&ClientCloseAfterReply != 0 || cl.killed.Load() {
			return
		}
		if parkNow {
			if !s.park(cl) {
				return
			}
			continue
		}
		if more {
			// The batch was cut short: more requests may be buffered.
			continue
		}
		if err := s.fillClient(cl); err != nil {
			if isTimeout(err) && s.upgrade.parking.Load() {
				if !s.park(cl) {
					return
				}
				continue
			}
			return
		}
	}
}

// prefetchMinBuffered is how much unparsed input makes reading ahead worth
// it: about one more small request.
const prefetchMinBuffered = 32

// readAhead is called before each request of a batch runs. When the
// requests read ahead last time are used up and more are buffered, it
// reads ahead the memory the keys (and members or fields) of the next
// ones will need (keyspace.DB.Prefetch, PrefetchMembers). Under the lock.
func (s *Server) readAhead(cl *Client) {
	if cl.aheadLeft > 0 {
		cl.aheadLeft--
		return
	}
	if cl.rd.Buffered() < prefetchMinBuffered {
		return
	}
	cl.peek, cl.peekMembers = cl.rd.PeekKeys(cl.peek[:0], cl.peekMembers[:0], dict.PrefetchMax)
	if len(cl.peek) == 0 {
		return
	}
	db := s.ks.DBs[cl.DB]
	s.prefetchSink += db.Prefetch(cl.peek)
	s.prefetchSink += db.PrefetchMembers(cl.peek, cl.peekMembers)
	cl.aheadLeft = len(cl.peek)
}

// fillClient reads more input, applying the idle timeout.
func (s *Server) fillClient(cl *Client) error {
	timeout := time.Duration(s.cfg.Timeout) * time.Second
	if timeout > 0 && cl.Flags&(ClientPubSub|ClientMaster|ClientReplica|ClientMonitor) == 0 {
		cl.conn.SetReadDeadline(s.clock().Add(timeout))
	}
	if s.upgrade.parking.Load() && !cl.upgradeLink && cl.Flags&(ClientMaster|ClientReplica|ClientMonitor) == 0 {
		// An upgrade is committing: do not wait for input, park.
		cl.conn.SetReadDeadline(time.Unix(1, 0))
	}
	before := cl.rd.Buffered()
	err := cl.rd.Fill()
	if err != nil {
		var qe *resp.QueryBufferLimitError
		var ne net.Error
		switch {
		case errors.As(err, &qe):
			s.log.Warn("closing client that reached max query buffer length", zap.Int64("id", cl.ID), zap.String("addr", cl.Addr()), zap.Int("qbuf", qe.Size))
		case errors.As(err, &ne) && ne.Timeout():
			s.log.Debug("closing idle client", zap.Int64("id", cl.ID))
		case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrDeadlineExceeded):
		default:
			s.log.Debug("reading from client", zap.Int64("id", cl.ID), zap.Error(err))
		}
		return err
	}
	s.stats.NetInputBytes.Add(int64(cl.rd.Buffered() - before))
	cl.qbufUsed.Store(int32(cl.rd.Buffered()))
	cl.qbufCap.Store(int32(cl.rd.BufferCap()))
	cl.touch()
	return nil
}

// flush writes buffered replies (or hands them to the async writer).
func (cl *Client) flush() error {
	if cl.W.Len() == 0 {
		return nil
	}
	if cl.async {
		cl.push(cl.W.Buf)
		cl.W.Reset()
		return nil
	}
	n, err := cl.io.Write(cl.W.Buf)
	cl.srv.stats.NetOutputBytes.Add(int64(n))
	cl.W.Reset()
	return err
}

// enableAsync switches the client to writer-goroutine output, so other
// clients can push messages to it. Called under the server lock.
func (cl *Client) enableAsync() {
	if cl.async {
		return
	}
	cl.async = true
	// Replies written so far in this batch go first, in order.
	cl.push(cl.W.Buf)
	cl.W.Reset()
	cl.startWriter()
}

func (cl *Client) startWriter() {
	cl.outMu.Lock()
	cl.outDone = false
	cl.writerDone = make(chan struct{})
	cl.outMu.Unlock()
	go cl.asyncWriter()
}

// stopWriter waits until the async writer has written what is queued and
// exited, leaving the connection open (an upgrade hands it over).
func (cl *Client) stopWriter() {
	cl.outMu.Lock()
	cl.outDone = true
	cl.outCond.Broadcast()
	done := cl.writerDone
	cl.outMu.Unlock()
	if done != nil {
		<-done
	}
}

// push queues bytes for the async writer, enforcing the output buffer
// limit for pub/sub clients. Called under the server lock.
func (cl *Client) push(b []byte) {
	if len(b) == 0 {
		return
	}
	cl.outMu.Lock()
	limit := cl.srv.cfg.ClientOutputBufferLimitPubSubHard
	if cl.Flags&ClientReplica != 0 {
		limit = cl.srv.cfg.ClientOutputBufferLimitReplica
	}
	if limit > 0 && int64(len(cl.out)+len(b)) > limit {
		cl.outMu.Unlock()
		cl.srv.log.Warn("client scheduled to be closed ASAP for overcoming of output buffer limits", zap.Int64("id", cl.ID), zap.String("addr", cl.Addr()))
		cl.kill()
		return
	}
	cl.out = append(cl.out, b...)
	cl.outCond.Signal()
	cl.outMu.Unlock()
}

func (cl *Client) asyncWriter() {
	defer close(cl.writerDone)
	for {
		cl.outMu.Lock()
		if len(cl.out) == 0 && !cl.outDone {
			for len(cl.out) == 0 && !cl.outDone {
				cl.outCond.Wait()
			}
			// Woken by a push: let the clients ready now push theirs
			// too, so that one write carries the round's stream (a
			// replica's feed: a write per client batch otherwise).
			cl.outMu.Unlock()
			runtime.Gosched()
			cl.outMu.Lock()
		}
		if len(cl.out) == 0 {
			cl.outMu.Unlock()
			return
		}
		buf := cl.out
		cl.out = cl.outSpare[:0]
		cl.outMu.Unlock()
		n, err := cl.io.Write(buf)
		cl.srv.stats.NetOutputBytes.Add(int64(n))
		cl.outMu.Lock()
		if cap(buf) <= 1<<20 {
			cl.outSpare = buf[:0]
		} else {
			cl.outSpare = nil
		}
		cl.outMu.Unlock()
		if err != nil {
			cl.kill()
			return
		}
	}
}

// closeClient releases everything the client holds.
func (s *Server) closeClient(cl *Client) {
	s.mu.Lock()
	delete(s.clients, cl.ID)
	s.numConns.Add(-1)
	s.blocking.unblock(cl)
	s.tx.unwatchAll(cl)
	s.pubsub.removeClient(cl)
	s.diag.removeClient(cl)
	if cl.Flags&ClientReplica != 0 {
		s.removeReplica(cl)
	}
	s.mu.Unlock()
	if cl.async {
		// Let the writer drain what is queued (e.g. the reply to QUIT).
		cl.outMu.Lock()
		cl.outDone = true
		cl.outCond.Broadcast()
		cl.outMu.Unlock()
	}
	cl.kill()
}
