package node

import (
	"container/list"
	"time"

	"github.com/vigilkv/vigil/internal/resp"
)

// Blocking commands (BLPOP, BZPOPMIN, BLMOVE, ...): a handler that finds
// nothing to serve calls Ctx.Block. The client's goroutine then waits,
// without the lock, until a key it waits for becomes ready, its timeout
// passes, CLIENT UNBLOCK, or the connection closes. When a command creates
// a list or sorted set key that clients wait for, the server retries the
// waiters' commands right after it, in FIFO order per key, so no other
// client can take the data first.

type dbKey struct {
	db  int
	key string
}

type blockState struct {
	keys      []dbKey
	deadline  time.Time
	onTimeout func(w *resp.Writer)
	cmd       *Command
	args      [][]byte // a private copy: the read buffer moves on
	db        int
	wake      chan struct{}
	elems     map[dbKey]*list.Element
}

type blockingState struct {
	waiters map[dbKey]*list.List // of *Client, oldest first
	ready   []dbKey
	isReady map[dbKey]bool
	count   int
}

func (b *blockingState) init() {
	b.waiters = make(map[dbKey]*list.List)
	b.isReady = make(map[dbKey]bool)
}

// Blocked is the number of clients waiting (INFO blocked_clients).
func (b *blockingState) Blocked() int { return b.count }

// Block makes the client wait for one of keys to become ready, for at most
// timeout (0 waits forever). onTimeout writes the reply sent if the wait
// ends without data (nil writes a null array). Inside MULTI the command
// does not block: the timeout reply is sent at once.
func (c *Ctx) Block(keys []string, timeout time.Duration, onTimeout func(w *resp.Writer)) {
	if onTimeout == nil {
		onTimeout = func(w *resp.Writer) { w.NullArray() }
	}
	if c.InMulti || c.Client.Flags&ClientMulti != 0 {
		onTimeout(c.W)
		return
	}
	bs := &blockState{onTimeout: onTimeout, cmd: c.Cmd, db: c.DB.ID}
	if timeout > 0 {
		bs.deadline = c.Srv.clock().Add(timeout)
	}
	for _, k := range keys {
		bs.keys = append(bs.keys, dbKey{c.DB.ID, k})
	}
	c.blocked = bs
}

// ParseTimeout parses a blocking command's timeout argument (seconds, with
// sub-second precision), replying Redis's errors on failure.
func (c *Ctx) ParseTimeout(i int) (time.Duration, bool) {
	f, ok := ParseFloat(c.Args[i])
	if !ok || f > float64(1<<62)/1e9 {
		c.Error(ErrTimeoutNaN)
		return 0, false
	}
	if f < 0 {
		c.Error(ErrTimeoutNeg)
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// block registers a client that a handler asked to block.
func (b *blockingState) block(s *Server, cl *Client, ctx *Ctx) {
	bs := ctx.blocked
	size := 0
	for _, a := range ctx.Args {
		size += len(a)
	}
	buf := make([]byte, 0, size)
	bs.args = make([][]byte, len(ctx.Args))
	for i, a := range ctx.Args {
		start := len(buf)
		buf = append(buf, a...)
		bs.args[i] = buf[start:len(buf):len(buf)]
	}
	for i := range bs.keys {
		// The keys alias the old argument bytes: point them at the copy.
		bs.keys[i].key = string([]byte(bs.keys[i].key))
	}
	bs.wake = make(chan struct{}, 1)
	bs.elems = make(map[dbKey]*list.Element, len(bs.keys))
	for _, k := range bs.keys {
		if _, dup := bs.elems[k]; dup {
			continue
		}
		q := b.waiters[k]
		if q == nil {
			q = list.New()
			b.waiters[k] = q
		}
		bs.elems[k] = q.PushBack(cl)
	}
	cl.block = bs
	b.count++
}

// unblock removes a client from every wait queue and wakes its goroutine.
func (b *blockingState) unblock(cl *Client) {
	bs := cl.block
	if bs == nil {
		return
	}
	for k, e := range bs.elems {
		q := b.waiters[k]
		q.Remove(e)
		if q.Len() == 0 {
			delete(b.waiters, k)
		}
	}
	cl.block = nil
	b.count--
	select {
	case bs.wake <- struct{}{}:
	default:
	}
}

// signalReady is the keyspace hook: a list or sorted set key appeared.
func (b *blockingState) signalReady(db int, key string) {
	if len(b.waiters) == 0 {
		return
	}
	k := dbKey{db, key}
	if b.waiters[k] == nil || b.isReady[k] {
		return
	}
	k.key = string([]byte(key))
	b.isReady[k] = true
	b.ready = append(b.ready, k)
}

// serveReady retries the commands of clients waiting on keys that became
// ready, oldest waiter first, until the keys run dry.
func (b *blockingState) serveReady(s *Server) {
	for len(b.ready) > 0 {
		ready := b.ready
		b.ready = nil
		for _, k := range ready {
			delete(b.isReady, k)
			q := b.waiters[k]
			if q == nil {
				continue
			}
			for e := q.Front(); e != nil; {
				next := e.Next()
				cl := e.Value.(*Client)
				if k.key == waitKey {
					// WAIT: an ack arrived; the retry checks the count.
					b.retry(s, cl)
					e = next
					continue
				}
				v := s.ks.DBs[k.db].LookupWrite(k.key)
				if v == nil {
					break
				}
				if !zsetIsBlockingGroup(cl.block.cmd.Group, v.Type()) {
					e = next
					continue
				}
				b.retry(s, cl)
				e = next
			}
		}
	}
}

// retry re-runs a blocked client's command; it reports whether the client
// was served (and so unblocked).
func (b *blockingState) retry(s *Server, cl *Client) bool {
	bs := cl.block
	ctx := &Ctx{}
	ctx.Srv, ctx.Client, ctx.Cmd, ctx.Args = s, cl, bs.cmd, bs.args
	ctx.DB = s.ks.DBs[bs.db]
	ctx.W = cl.W
	ctx.Reprocessing = true
	ctx.start = time.Now()
	s.execute(ctx)
	if ctx.blocked != nil {
		return false
	}
	b.unblock(cl)
	return true
}

// expireTimeouts is a safety net: waiters normally time out on their own
// timers.
func (b *blockingState) expireTimeouts(s *Server) {}

// timeoutClient ends a client's wait with its timeout reply.
func (b *blockingState) timeoutClient(cl *Client) {
	bs := cl.block
	if bs == nil {
		return
	}
	b.unblock(cl)
	bs.onTimeout(cl.W)
}

// UnblockClient ends a wait early (CLIENT UNBLOCK): with the timeout reply,
// or with an error. It reports whether the client was blocked.
func (s *Server) UnblockClient(cl *Client, withError bool) bool {
	bs := cl.block
	if bs == nil {
		return false
	}
	s.blocking.unblock(cl)
	if withError {
		cl.W.Error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
	} else {
		bs.onTimeout(cl.W)
	}
	return true
}

// waitBlocked waits, without the lock, until the client is unblocked. It
// reports false if the client went away meanwhile.
func (s *Server) waitBlocked(cl *Client) bool {
	s.mu.Lock()
	bs := cl.block
	s.mu.Unlock()
	if bs == nil {
		return true
	}
	var timeout <-chan time.Time
	if !bs.deadline.IsZero() {
		t := time.NewTimer(bs.deadline.Sub(s.clock()))
		defer t.Stop()
		timeout = t.C
	}
	// Read in the background so a disconnect is noticed while waiting;
	// anything read stays buffered for after the wait.
	readDone := make(chan error, 1)
	reading := false
	startRead := func() {
		if cl.rd.Buffered() > 16<<20 {
			return // enough pipelined input; stop reading until served
		}
		reading = true
		go func() { readDone <- cl.rd.Fill() }()
	}
	stopRead := func() bool {
		if !reading {
			return true
		}
		cl.conn.SetReadDeadline(time.Now())
		err := <-readDone
		reading = false
		cl.conn.SetReadDeadline(time.Time{})
		return err == nil || isTimeout(err)
	}
	startRead()
	for {
		select {
		case <-bs.wake:
			return stopRead()
		case <-timeout:
			s.mu.Lock()
			if cl.block == bs {
				s.blocking.timeoutClient(cl)
			}
			s.mu.Unlock()
			timeout = nil
		case err := <-readDone:
			reading = false
			if err != nil {
				if isTimeout(err) && s.upgrade.parking.Load() {
					// An upgrade woke the reader: wait for its unblock.
					continue
				}
				return false
			}
			startRead()
		case <-cl.closedCh:
			stopRead()
			return false
		}
	}
}

func isTimeout(err error) bool {
	type timeout interface{ Timeout() bool }
	t, ok := err.(timeout)
	return ok && t.Timeout()
}

// signalAllIn marks every waited-for key of the given dbs ready (SWAPDB
// may have brought data to any of them).
func (b *blockingState) signalAllIn(dbs ...int) {
	for k := range b.waiters {
		for _, db := range dbs {
			if k.db == db && !b.isReady[k] {
				b.isReady[k] = true
				b.ready = append(b.ready, k)
			}
		}
	}
}
