package node

import (
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/vigilkv/vigil/node/dict"
)

type cmdStatus int

const (
	cmdDone cmdStatus = iota
	// cmdBlocked: the client waits for a key (BLPOP and friends).
	cmdBlocked
	// cmdPaused: CLIENT PAUSE holds the command; retry after the pause.
	cmdPaused
)

// processCommand runs the checks Redis makes before a command (lookup,
// arity, auth, transaction state, memory, role, pause) and then executes
// it or queues it in MULTI. Called with the lock held.
func (s *Server) processCommand(cl *Client, args [][]byte) cmdStatus {
	start := s.beginCommand(cl)
	cmd := s.cmds.lookup(args[0])
	if cmd == nil {
		s.reject(cl, unknownCommandError(args))
		return cmdDone
	}
	if cmd.Subcommands != nil {
		if len(args) < 2 {
			s.rejectCommand(cl, cmd, "ERR wrong number of arguments for '"+cmd.Name+"' command")
			return cmdDone
		}
		sub := cmd.Subcommands[strings.ToLower(string(args[1]))]
		if sub == nil {
			s.rejectCommand(cl, cmd, "ERR unknown subcommand '"+truncArg(args[1], 128)+"'. Try "+strings.ToUpper(cmd.Name)+" HELP.")
			return cmdDone
		}
		cmd = sub
	}
	if (cmd.Arity > 0 && len(args) != cmd.Arity) || len(args) < -cmd.Arity {
		s.rejectCommand(cl, cmd, "ERR wrong number of arguments for '"+cmd.FullName()+"' command")
		return cmdDone
	}
	if !cl.Authenticated && cmd.Flags&FlagNoAuth == 0 {
		s.rejectCommand(cl, cmd, ErrNoAuth)
		return cmdDone
	}
	inMulti := cl.Flags&ClientMulti != 0
	if inMulti && cmd.Flags&FlagNoMulti != 0 {
		s.rejectCommand(cl, cmd, "ERR Command not allowed inside a transaction")
		return cmdDone
	}
	if s.cfg.MaxMemory > 0 && !inMulti {
		s.performEvictions()
		denyOOM := cmd.Flags&FlagDenyOOM != 0 ||
			(cmd.Name == "exec" && cl.tx.flags&FlagDenyOOM != 0)
		if denyOOM && s.overMaxMemory() {
			s.rejectCommand(cl, cmd, ErrOOM)
			return cmdDone
		}
	}
	isWrite := cmd.Flags&FlagWrite != 0 || (cmd.Name == "exec" && cl.tx.flags&FlagWrite != 0)
	if isWrite && cl.Flags&(ClientMaster|ClientAOFLoader) == 0 {
		if msg := s.writeRefusal(start); msg != "" {
			s.rejectCommand(cl, cmd, msg)
			return cmdDone
		}
	}
	if cl.W.Proto == 2 && cl.ps.count() > 0 && cmd.Flags&FlagOKInPubSub == 0 {
		s.rejectCommand(cl, cmd, "ERR Can't execute '"+cmd.FullName()+"': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
		return cmdDone
	}
	if msg := s.repl.staleRefusal(cl, cmd); msg != "" {
		s.rejectCommand(cl, cmd, msg)
		return cmdDone
	}
	// After the stale check, as in Redis: a replica with
	// replica-serve-stale-data no says MASTERDOWN, not LOADING, during a
	// full sync's load.
	if s.persist.loading.Load() && cmd.Flags&FlagLoading == 0 && cl.Flags&ClientAOFLoader == 0 {
		s.rejectCommand(cl, cmd, ErrLoading)
		return cmdDone
	}
	if s.persist.asyncLoading.Load() && noAsyncLoading(cmd) {
		s.rejectCommand(cl, cmd, ErrLoading)
		return cmdDone
	}
	if s.pause.holds(cl, cmd) {
		return cmdPaused
	}
	if inMulti && cmd.Flags&FlagTxControl == 0 {
		cl.tx.queue(cmd, args)
		cl.W.Simple("QUEUED")
		return cmdDone
	}
	s.prefetchOwnKeys(cl, cmd, args)
	ctx := &cl.ctx
	s.call(ctx, cl, cmd, args, start, false)
	if ctx.blocked != nil {
		return cmdBlocked
	}
	return cmdDone
}

// prefetchOwnKeys reads ahead the keys of a command naming several
// (MSET, MGET, DEL, EXISTS ...), so that its lookups overlap their cache
// misses instead of taking them in turn: MSET of 10 keys on a keyspace of
// 100,000 spent a third of its time in lookups. readAhead does the same
// across pipelined commands; this is for the keys within one.
func (s *Server) prefetchOwnKeys(cl *Client, cmd *Command, args [][]byte) {
	if cmd.Keys != nil {
		return
	}
	first, last, step := cmd.keyRange(len(args))
	if last < first || (last-first)/step+1 < prefetchMinKeys {
		return
	}
	var buf [dict.PrefetchMax][]byte
	keys := buf[:0]
	for i := first; i <= last && len(keys) < len(buf); i += step {
		keys = append(keys, args[i])
	}
	s.prefetchSink += s.ks.DBs[cl.DB].Prefetch(keys)
}

// prefetchMinKeys is how many keys one command must name for reading them
// ahead to pay: with one or two there is little to overlap.
const prefetchMinKeys = 3

// beginCommand gives the time a command of cl's about to run starts at:
// the keyspace's cached time for expiry, the lease check and the
// command's duration all use it. Within a batch it is where the previous
// command ended, which measuring that command's duration already read;
// otherwise the clock is read. Reading the wall and monotonic clocks once
// or twice per command was an eighth of the CPU of a pipelined LPUSH on
// a virtual machine's clock. The end is taken, not just read: a command
// that does not finish (held by a pause, blocked) leaves none, so the one
// after it reads the clock.
func (s *Server) beginCommand(cl *Client) time.Time {
	now := cl.batchClock
	cl.batchClock = time.Time{}
	if now.IsZero() {
		now = time.Now()
	}
	s.ks.UpdateTimeAt(now)
	return now
}

// writeRefusal says why a write starting at now must be refused (""
// if it may run): a read-only replica, failed persistence, an expired
// lease, missing good replicas.
func (s *Server) writeRefusal(now time.Time) string {
	if s.repl.isReplica() && s.cfg.ReplicaReadOnly {
		return ErrReadonly
	}
	if msg := s.persistRefusal(); msg != "" {
		return msg
	}
	if msg := s.aofRefusal(); msg != "" {
		return msg
	}
	if msg := s.leaseRefusal(now); msg != "" {
		return msg
	}
	return s.repl.writeRefusal()
}

// call executes cmd for cl with the given context and does the
// bookkeeping: stats, dirty counter, propagation, MONITOR, SLOWLOG, and
// serving clients blocked on keys the command made ready.
func (s *Server) call(ctx *Ctx, cl *Client, cmd *Command, args [][]byte, start time.Time, inMulti bool) {
	ctx.reset()
	ctx.start = start
	ctx.Srv = s
	ctx.Client = cl
	ctx.Cmd = cmd
	ctx.Args = args
	ctx.DB = s.ks.DBs[cl.DB]
	ctx.W = cl.W
	ctx.InMulti = inMulti
	s.execute(ctx)
	if !inMulti {
		s.blocking.serveReady(s)
	}
}

// execute runs a prepared context's handler and its bookkeeping.
func (s *Server) execute(ctx *Ctx) {
	cmd := ctx.Cmd
	cl := ctx.Client
	start := ctx.start
	prevNoTouch := s.ks.NoTouch
	if cl.Flags&ClientNoTouch != 0 && cmd.Name != "touch" {
		s.ks.NoTouch = true
	}
	mark := cl.W.Len()
	cl.LastCmd = cmd.Name
	s.runHandler(ctx, mark)
	s.ks.NoTouch = prevNoTouch
	if cl.Flags&(ClientReplyOff|ClientReplySkip|ClientReplySkipNext) != 0 {
		applyReplyMode(cl, mark)
	}
	dur := time.Since(start)
	if cl.batching {
		cl.batchClock = start.Add(dur)
	}
	if ctx.blocked != nil && !ctx.Reprocessing {
		s.blocking.block(s, cl, ctx)
		return
	}
	if ctx.blocked != nil {
		// Retried for a ready key but still nothing to serve: keep waiting.
		return
	}
	stats := &cmd.stats
	stats.calls++
	stats.usec += dur.Microseconds()
	if ctx.failed {
		stats.failed++
		s.stats.TotalErrorReplies++
	}
	s.stats.CommandsProcessed++
	s.dirty += ctx.changes
	// Writes replayed from the AOF are already in it, and a replica
	// forwards its master's stream verbatim: neither is propagated here.
	if cl.Flags&(ClientAOFLoader|ClientMaster) == 0 {
		if len(ctx.rewritten) > 0 {
			for _, a := range ctx.rewritten {
				s.repl.feed(ctx.DB.ID, a)
			}
		} else if ctx.changes > 0 && cmd.Flags&FlagNoPropagate == 0 {
			s.repl.feed(ctx.DB.ID, ctx.Args)
		}
	}
	if ctx.changes > 0 || len(ctx.rewritten) > 0 {
		cl.lastWriteOffset = s.repl.offset
		// The reply waits until the write is on disk and on enough
		// replicas (see awaitWrites); the mark lets it become an error.
		fromClient := cl.Flags&(ClientMaster|ClientAOFLoader) == 0
		waits := false
		if s.cfg.SyncReplicas > 0 && !s.repl.isReplica() && fromClient {
			cl.syncWait = s.repl.offset
			waits = true
		}
		if s.aof.on && s.cfg.AppendFsync == "always" {
			cl.aofWait = s.repl.offset
			waits = waits || fromClient
		}
		if waits {
			cl.waitMarks = append(cl.waitMarks, replyMark{mark, cl.W.Len(), s.repl.offset})
		}
	}
	if cmd.Flags&(FlagSkipMonitor|FlagAdmin) == 0 || cmd.Name == "exec" {
		s.diag.feedMonitors(s, cl, ctx.DB.ID, ctx.Args)
	}
	if cmd.Flags&FlagSkipSlowlog == 0 {
		s.diag.slowlogPush(s, cl, ctx.Args, dur)
	}
	if cl.async {
		cl.push(cl.W.Buf)
		cl.W.Reset()
	}
}

// runHandler runs the command's handler. A panic there is a bug in vigil,
// found by some input: rather than take every client down with the
// process (or, the lock held, hang them all), the command fails with an
// error reply, its partial reply dropped, and the stack goes to the log.
func (s *Server) runHandler(ctx *Ctx, mark int) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		s.log.Error("a command panicked (a bug in vigil): the client gets an error and the server goes on",
			zap.String("command", ctx.Cmd.FullName()), zap.Int64("client", ctx.Client.ID), zap.Any("panic", r), zap.Stack("stack"))
		if ctx.W.Len() >= mark {
			ctx.W.Buf = ctx.W.Buf[:mark]
		}
		ctx.blocked = nil
		ctx.Error("ERR internal error executing '" + ctx.Cmd.FullName() + "' (a bug in vigil; the server logged it)")
	}()
	ctx.Cmd.Handler(ctx)
}

// applyReplyMode implements CLIENT REPLY OFF|SKIP: drop the reply the
// command just wrote, and arm SKIP for the command after CLIENT REPLY SKIP.
func applyReplyMode(cl *Client, mark int) {
	if cl.Flags&(ClientReplyOff|ClientReplySkip) != 0 && cl.W.Len() >= mark {
		cl.W.Buf = cl.W.Buf[:mark]
	}
	cl.Flags &^= ClientReplySkip
	if cl.Flags&ClientReplySkipNext != 0 {
		cl.Flags = cl.Flags&^ClientReplySkipNext | ClientReplySkip
	}
}

// reject replies to a command that was refused before lookup succeeded.
func (s *Server) reject(cl *Client, msg string) {
	s.stats.TotalErrorReplies++
	cl.W.Error(msg)
	if cl.Flags&ClientMulti != 0 {
		cl.Flags |= ClientDirtyExec
	}
}

// rejectCommand replies to a known command refused by a check.
func (s *Server) rejectCommand(cl *Client, cmd *Command, msg string) {
	cmd.stats.rejected++
	s.reject(cl, msg)
}

func unknownCommandError(args [][]byte) string {
	var rest strings.Builder
	for _, a := range args[1:] {
		if rest.Len() >= 128 {
			break
		}
		n := 128 - rest.Len()
		rest.WriteByte('\'')
		rest.WriteString(truncArg(a, n))
		rest.WriteString("' ")
	}
	return "ERR unknown command '" + truncArg(args[0], 128) + "', with args beginning with: " + rest.String()
}

// truncArg renders an argument for an error message: bounded, with
// non-printable bytes kept as-is except line breaks (the writer replaces
// those).
func truncArg(b []byte, n int) string {
	if n < 0 {
		n = 0
	}
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// noAsyncLoading reports the commands Redis 7 refuses (no_async_loading)
// while a swapdb full sync loads next to the live dataset: the saves and
// a chained replica's sync (they would serve the dataset about to be
// replaced). REPLICAOF, which Redis refuses too, is allowed: it ends the
// load and the old dataset stays (a sentinel may need to re-point or
// promote a loading replica).
func noAsyncLoading(cmd *Command) bool {
	switch cmd.Name {
	case "save", "bgsave", "bgrewriteaof", "psync", "sync":
		return true
	}
	return false
}
