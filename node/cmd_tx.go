package node

import "github.com/vigilkv/vigil/node/keyspace"

// Transactions: MULTI queues commands, EXEC runs them atomically (under
// the one lock, with nothing interleaved), WATCH makes EXEC fail if a
// watched key changed (including by expiry) after WATCH.

type queuedCmd struct {
	cmd  *Command
	args [][]byte
}

type watchedKey struct {
	key dbKey
	// expired records that the key was already logically expired at WATCH
	// time, so its later deletion does not count as a change.
	expired bool
}

// clientTx is a client's transaction state.
type clientTx struct {
	queued  []queuedCmd
	flags   Flag // union of queued commands' flags
	watched []watchedKey
}

func (t *clientTx) queue(cmd *Command, args [][]byte) {
	size := 0
	for _, a := range args {
		size += len(a)
	}
	buf := make([]byte, 0, size)
	cp := make([][]byte, len(args))
	for i, a := range args {
		start := len(buf)
		buf = append(buf, a...)
		cp[i] = buf[start:len(buf):len(buf)]
	}
	t.queued = append(t.queued, queuedCmd{cmd: cmd, args: cp})
	t.flags |= cmd.Flags
}

// len is the number of queued commands (CLIENT LIST multi=).
func (t *clientTx) len() int { return len(t.queued) }

func (t *clientTx) discard() {
	t.queued = nil
	t.flags = 0
}

// txState maps watched keys to the clients watching them.
type txState struct {
	watchers map[dbKey][]*Client
}

func (t *txState) init() { t.watchers = make(map[dbKey][]*Client) }

// touchKey marks every client watching key as dirty.
func (t *txState) touchKey(db int, key string) {
	if len(t.watchers) == 0 {
		return
	}
	for _, cl := range t.watchers[dbKey{db, key}] {
		cl.Flags |= ClientDirtyCAS
	}
}

// TouchAllInDB marks clients watching keys of db as dirty when the key
// exists there or in other (FLUSHDB, FLUSHALL, SWAPDB).
func (s *Server) TouchAllInDB(db *keyspace.DB, other *keyspace.DB) {
	for k, cls := range s.tx.watchers {
		if k.db != db.ID {
			continue
		}
		if db.Peek(k.key) != nil || (other != nil && other.Peek(k.key) != nil) {
			for _, cl := range cls {
				cl.Flags |= ClientDirtyCAS
			}
		}
	}
}

func (t *txState) watch(cl *Client, db *keyspace.DB, key string) {
	k := dbKey{db.ID, key}
	for _, w := range cl.tx.watched {
		if w.key == k {
			return
		}
	}
	k.key = string([]byte(key))
	cl.tx.watched = append(cl.tx.watched, watchedKey{key: k, expired: db.IsLogicallyExpired(key)})
	t.watchers[k] = append(t.watchers[k], cl)
}

func (t *txState) unwatchAll(cl *Client) {
	for _, w := range cl.tx.watched {
		cls := t.watchers[w.key]
		for i, c := range cls {
			if c == cl {
				cls = append(cls[:i], cls[i+1:]...)
				break
			}
		}
		if len(cls) == 0 {
			delete(t.watchers, w.key)
		} else {
			t.watchers[w.key] = cls
		}
	}
	cl.tx.watched = nil
	cl.Flags &^= ClientDirtyCAS
}

// watchedKeyExpired reports whether a watched key, alive at WATCH time,
// has logically expired since (Redis 7 aborts EXEC then).
func (s *Server) watchedKeyExpired(cl *Client) bool {
	for _, w := range cl.tx.watched {
		if !w.expired && s.ks.DBs[w.key.db].IsLogicallyExpired(w.key.key) {
			return true
		}
	}
	return false
}

func txCommands() []*Command {
	return []*Command{
		{Name: "multi", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagAllowBusy | FlagTxControl,
			Categories: []string{"fast", "transaction"}, Group: "transactions", Since: "1.2.0",
			Summary: "Starts a transaction.", Handler: cmdMulti},
		{Name: "exec", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagSkipSlowlog | FlagTxControl,
			Categories: []string{"slow", "transaction"}, Group: "transactions", Since: "1.2.0",
			Summary: "Executes all commands in a transaction.", Handler: cmdExec},
		{Name: "discard", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagAllowBusy | FlagTxControl,
			Categories: []string{"fast", "transaction"}, Group: "transactions", Since: "2.0.0",
			Summary: "Discards a transaction.", Handler: cmdDiscard},
		{Name: "watch", Arity: -2, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagAllowBusy | FlagTxControl,
			FirstKey: 1, LastKey: -1, KeyStep: 1,
			Categories: []string{"fast", "transaction"}, Group: "transactions", Since: "2.2.0",
			Summary: "Monitors changes to keys to determine the execution of a transaction.", Handler: cmdWatch},
		{Name: "unwatch", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagAllowBusy,
			Categories: []string{"fast", "transaction"}, Group: "transactions", Since: "2.2.0",
			Summary: "Forgets about all watched keys.", Handler: cmdUnwatch},
	}
}

func cmdMulti(c *Ctx) {
	cl := c.Client
	if cl.Flags&ClientMulti != 0 {
		c.Error(ErrNestedMulti)
		return
	}
	cl.Flags |= ClientMulti
	c.W.OK()
}

func (s *Server) endMulti(cl *Client) {
	cl.tx.discard()
	cl.Flags &^= ClientMulti | ClientDirtyExec
	s.tx.unwatchAll(cl)
}

func cmdDiscard(c *Ctx) {
	cl := c.Client
	if cl.Flags&ClientMulti == 0 {
		c.Error(ErrDiscardNoMul)
		return
	}
	c.Srv.endMulti(cl)
	c.W.OK()
}

func cmdWatch(c *Ctx) {
	cl := c.Client
	if cl.Flags&ClientMulti != 0 {
		c.Error(ErrWatchInMulti)
		return
	}
	// A client already dirty stays dirty; watching more keys is pointless.
	if cl.Flags&ClientDirtyCAS == 0 {
		for i := 1; i < len(c.Args); i++ {
			c.Srv.tx.watch(cl, c.DB, c.Key(i))
		}
	}
	c.W.OK()
}

func cmdUnwatch(c *Ctx) {
	c.Srv.tx.unwatchAll(c.Client)
	c.W.OK()
}

func cmdExec(c *Ctx) {
	s, cl := c.Srv, c.Client
	if cl.Flags&ClientMulti == 0 {
		c.Error(ErrExecNoMulti)
		return
	}
	if cl.Flags&ClientDirtyExec != 0 {
		s.endMulti(cl)
		c.Error(ErrExecAbort)
		return
	}
	if cl.Flags&ClientDirtyCAS != 0 || s.watchedKeyExpired(cl) {
		s.endMulti(cl)
		c.W.NullArray()
		return
	}
	// A replica that became read-only since the commands were queued.
	if cl.tx.flags&FlagWrite != 0 && cl.Flags&ClientMaster == 0 {
		if msg := s.writeRefusal(c.start); msg != "" {
			s.endMulti(cl)
			c.Error("EXECABORT Transaction discarded because of: " + msg)
			return
		}
	}
	queued := cl.tx.queued
	s.tx.unwatchAll(cl)
	cl.tx.discard()
	cl.Flags &^= ClientMulti
	c.W.Array(len(queued))
	s.repl.beginExec()
	var sub Ctx
	for _, q := range queued {
		start := s.beginCommand(cl)
		sub.reset()
		sub.start = start
		sub.Srv, sub.Client, sub.Cmd, sub.Args = s, cl, q.cmd, q.args
		sub.DB = s.ks.DBs[cl.DB]
		sub.W = cl.W
		sub.InMulti = true
		s.execute(&sub)
	}
	s.repl.endExec()
	// EXEC itself is not propagated: its commands were, wrapped in
	// MULTI/EXEC by the stream.
}
