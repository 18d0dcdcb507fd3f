package node

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"go.uber.org/zap"

	"github.com/vigilkv/vigil/internal/resp"
	"github.com/vigilkv/vigil/node/keyspace"
	"github.com/vigilkv/vigil/node/procs"
	"github.com/vigilkv/vigil/node/rdb"
)

// RDB persistence: SAVE, BGSAVE and save points write the dataset through
// one snapshot mechanism (keyspace.Snapshot): the walk takes the server
// lock a chunk at a time and writes with the lock released, so clients
// keep being served, and the file is exactly the dataset as of the
// snapshot's start. Files are written to a temp file, fsynced, renamed
// and the directory fsynced.

// persistState is the RDB side of the server's state (guarded by mu).
type persistState struct {
	saving        bool      // a background save is running
	saveStart     time.Time // when it began
	saveScheduled bool      // BGSAVE SCHEDULE waiting for the running one
	lastSaveOK    bool      // rdb_last_bgsave_status
	lastTry       time.Time // last background save attempt
	lastDuration  time.Duration
	dirtyAtStart  int64
	saves         int64
	keysTotal     int64
	keysDone      atomic.Int64

	loading atomic.Bool
	// asyncLoading is Redis 7's async_loading: a swapdb full sync from
	// the same history loads while the old dataset answers reads.
	asyncLoading    atomic.Bool
	loadStart       time.Time
	loadTotal       int64
	loadRead        atomic.Int64
	lastLoadKeys    int64
	lastLoadExpired int64
}

// saveParam is one "save <seconds> <changes>" point.
type saveParam struct {
	seconds int64
	changes int64
}

func parseSaveParams(s string) []saveParam {
	f := strings.Fields(s)
	var out []saveParam
	for i := 0; i+1 < len(f); i += 2 {
		sec, err1 := strconv.ParseInt(f[i], 10, 64)
		ch, err2 := strconv.ParseInt(f[i+1], 10, 64)
		if err1 == nil && err2 == nil {
			out = append(out, saveParam{sec, ch})
		}
	}
	return out
}

// rdbPath is where the RDB file lives.
func (s *Server) rdbPath() string { return filepath.Join(s.cfg.Dir, s.cfg.DBFilename) }

// errSaveAborted ends a background save that SHUTDOWN or DEBUG RELOAD
// replaced by a save of their own.
var errSaveAborted = errors.New("background save aborted")

// A walk step serializes up to snapshotChunk bytes or for snapshotSlice,
// whichever comes first, before releasing the lock to write them out:
// short holds keep the clients' latency close to what it is without a
// snapshot.
const (
	snapshotChunk = 64 << 10
	snapshotSlice = 250 * time.Microsecond
)

// rdbSnapshot is a point-in-time RDB image of the dataset being
// streamed out. It is begun under the server lock, at the instant the
// image captures, and streamed later, taking the lock a chunk at a time.
type rdbSnapshot struct {
	s    *Server
	snap *keyspace.Snapshot
	enc  rdb.Encoder // the next chunk to write
	// side holds keys preserved by writes ahead of the walk; each run of
	// records carries its own SELECTDB.
	side   rdb.Encoder
	sideDB int
	keys   int64
	// cmds writes commands (an AOF base without the RDB preamble)
	// instead of RDB records.
	cmds bool
	// release gives back the processor the snapshot holds.
	release func()
}

func (rs *rdbSnapshot) selectDB(e *rdb.Encoder, db int) {
	if rs.cmds {
		e.Buf = resp.AppendCommandStrings(e.Buf, "SELECT", strconv.Itoa(db))
		return
	}
	e.SelectDB(db)
}

func (rs *rdbSnapshot) keyValue(e *rdb.Encoder, key string, v *keyspace.Value, expireMs int64) {
	if rs.cmds {
		e.Buf = appendRewriteCommands(e.Buf, key, v, expireMs)
		return
	}
	e.KeyValue(key, v, expireMs)
}

// beginSnapshot starts an RDB image of the dataset as of now; under the
// lock. An AOF base is marked as one, and is a command log instead when
// aof-use-rdb-preamble is off.
func (s *Server) beginSnapshot(aofBase bool) *rdbSnapshot {
	cmds := aofBase && !s.cfg.AOFUseRDBPreamble
	rs := &rdbSnapshot{s: s, sideDB: -1, cmds: cmds, release: s.procs.Hold(procs.Snapshot)}
	rs.enc.Compress = s.cfg.RDBCompression
	rs.side.Compress = s.cfg.RDBCompression
	rs.snap = s.ks.BeginSnapshot(func(db int, key string, v *keyspace.Value, expireMs int64) {
		if db != rs.sideDB {
			rs.selectDB(&rs.side, db)
			rs.sideDB = db
		}
		rs.keyValue(&rs.side, key, v, expireMs)
		rs.keys++
	})
	if cmds {
		return rs
	}
	e := &rs.enc
	e.Header()
	e.Aux("redis-ver", Version)
	e.AuxInt("redis-bits", 64)
	e.AuxInt("ctime", s.clock().Unix())
	e.AuxInt("used-mem", s.usedMemory())
	e.AuxInt("repl-stream-db", 0)
	e.Aux("repl-id", s.repl.replID)
	e.AuxInt("repl-offset", s.repl.Offset())
	e.AuxInt("aof-base", int64(boolInt(aofBase)))
	return rs
}

// abort ends the snapshot without streaming it; under the lock.
func (rs *rdbSnapshot) abort() {
	rs.snap.End()
	rs.release()
}

// takeSide moves preserved records into the output; the walk's db (if
// any) is selected again after them.
func (rs *rdbSnapshot) takeSide(curDB int) {
	if len(rs.side.Buf) == 0 {
		return
	}
	rs.enc.Buf = append(rs.enc.Buf, rs.side.Buf...)
	rs.side.Buf = rs.side.Buf[:0]
	rs.sideDB = -1
	if curDB >= 0 {
		rs.selectDB(&rs.enc, curDB)
	}
}

// stream writes the image to w. With locked the caller holds the server
// lock throughout (SAVE); otherwise it is taken a chunk at a time and
// released while writing. done, if set, counts the keys written.
func (rs *rdbSnapshot) stream(w io.Writer, locked bool, done *atomic.Int64) (err error) {
	s := rs.s
	lock, unlock := s.mu.Lock, s.mu.Unlock
	if locked {
		lock, unlock = func() {}, func() {}
	}
	snap := rs.snap
	defer rs.release()
	defer func() {
		if err != nil {
			lock()
			snap.End()
			unlock()
		}
	}()
	fw := rdb.NewWriter(w, s.cfg.RDBChecksum)
	flush := func() error {
		if len(rs.enc.Buf) == 0 {
			return nil
		}
		_, err := fw.Write(rs.enc.Buf)
		rs.enc.Buf = rs.enc.Buf[:0]
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	for db := 0; db < snap.DBs(); db++ {
		var cursor uint64
		first := true
		for {
			lock()
			if snap.Ended() {
				unlock()
				return errSaveAborted
			}
			if first {
				first = false
				n, e := snap.Sizes(db)
				if n == 0 {
					unlock()
					break
				}
				rs.takeSide(-1)
				rs.selectDB(&rs.enc, db)
				if !rs.cmds {
					rs.enc.ResizeDB(n, e)
				}
			}
			rs.takeSide(db)
			deadline := time.Now().Add(snapshotSlice)
			// At least one step: preserved records taken above may fill
			// the chunk already, and a walk that did not step would read
			// its cursor 0 as the db done (a db whose walk began after
			// many writes was skipped, found by TestBgsaveIsPointInTime).
			for steps := 0; steps == 0 || len(rs.enc.Buf) < snapshotChunk; steps++ {
				cursor = snap.Scan(db, cursor, func(key string, v *keyspace.Value, expireMs int64) {
					rs.keyValue(&rs.enc, key, v, expireMs)
					rs.keys++
				})
				if cursor == 0 || (steps%16 == 15 && time.Now().After(deadline)) {
					break
				}
			}
			if done != nil {
				done.Store(rs.keys)
			}
			unlock()
			if err := flush(); err != nil {
				return err
			}
			if !locked {
				// Let the clients queued on the lock go first.
				runtime.Gosched()
			}
			if cursor == 0 {
				break
			}
		}
	}
	lock()
	if snap.Ended() {
		unlock()
		return errSaveAborted
	}
	snap.End()
	rs.takeSide(-1)
	unlock()
	if done != nil {
		done.Store(rs.keys)
	}
	if err := flush(); err != nil {
		return err
	}
	if rs.cmds {
		return nil
	}
	return fw.Finish()
}

// writeFileAtomically writes a file through a temp file in the same
// directory: written, fsynced, renamed over path, directory fsynced. A
// crash leaves the old file or the new one, never a torn one.
func writeFileAtomically(path string, write func(w io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp := filepath.Join(dir, fmt.Sprintf("temp-%d-%d.rdb", os.Getpid(), rand.Uint32()))
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("creating %s: %w", tmp, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming %s to %s: %w", tmp, path, err)
	}
	ok = true
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// saveSync is SAVE: the whole dataset written with the lock held. A
// background save in progress is abandoned for it.
func (s *Server) saveSync() error {
	s.ks.AbortSnapshot()
	start := s.clock()
	dirty := s.dirty
	rs := s.beginSnapshot(false)
	err := writeFileAtomically(s.rdbPath(), func(w io.Writer) error {
		return rs.stream(w, true, nil)
	})
	rs.abort() // a no-op unless the file could not even be created
	if err != nil {
		s.log.Warn("error saving DB on disk", zap.Error(err))
		s.persist.lastSaveOK = false
		return err
	}
	s.dirty -= dirty
	s.lastSave = s.clock()
	s.persist.lastSaveOK = true
	s.persist.saves++
	s.log.Info("DB saved on disk", zap.Duration("took", s.clock().Sub(start)))
	return nil
}

// startBgsave begins a background save; called under the lock.
func (s *Server) startBgsave(reason string) error {
	p := &s.persist
	if p.saving {
		return errors.New("ERR Background save already in progress")
	}
	p.saving = true
	p.saveStart = s.clock()
	p.lastTry = p.saveStart
	p.dirtyAtStart = s.dirty
	p.keysTotal = 0
	for _, db := range s.ks.DBs {
		p.keysTotal += int64(db.Len())
	}
	p.keysDone.Store(0)
	s.log.Info("background saving started", zap.String("reason", reason), zap.Int64("keys", p.keysTotal))
	rs := s.beginSnapshot(false)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		stop := make(chan struct{})
		go s.logSaveProgress(stop)
		err := writeFileAtomically(s.rdbPath(), func(w io.Writer) error {
			return rs.stream(w, false, &p.keysDone)
		})
		close(stop)
		s.mu.Lock()
		rs.abort() // a no-op unless the file could not even be created
		s.finishBgsave(err)
		s.mu.Unlock()
	}()
	return nil
}

// logSaveProgress logs a running save's progress every few seconds.
func (s *Server) logSaveProgress(stop chan struct{}) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.log.Info("background save in progress", zap.Int64("keys_processed", s.persist.keysDone.Load()))
		}
	}
}

// finishBgsave records a background save's outcome; under the lock.
func (s *Server) finishBgsave(err error) {
	p := &s.persist
	p.saving = false
	p.lastDuration = s.clock().Sub(p.saveStart)
	if err != nil {
		p.lastSaveOK = false
		s.log.Warn("background saving error", zap.Error(err))
	} else {
		p.lastSaveOK = true
		p.saves++
		s.dirty -= p.dirtyAtStart
		s.lastSave = s.clock()
		s.log.Info("background saving terminated with success", zap.Duration("took", p.lastDuration), zap.Int64("keys", p.keysDone.Load()))
	}
	if p.saveScheduled {
		p.saveScheduled = false
		s.startBgsave("scheduled")
	}
}

// saveCron starts a background save when a save point is reached; under
// the lock, from the server cron.
func (s *Server) saveCron() {
	p := &s.persist
	if p.saving || p.loading.Load() {
		return
	}
	now := s.clock()
	for _, sp := range parseSaveParams(s.cfg.Save) {
		// After a failure, retry no sooner than 5 s later, as Redis does.
		if s.dirty >= sp.changes && now.Sub(s.lastSave) > time.Duration(sp.seconds)*time.Second &&
			(p.lastSaveOK || now.Sub(p.lastTry) > 5*time.Second) {
			s.startBgsave(fmt.Sprintf("%d changes in %d seconds", sp.changes, sp.seconds))
			return
		}
	}
}

// persistRefusal is MISCONF when the last background save failed and
// stop-writes-on-bgsave-error is on.
func (s *Server) persistRefusal() string {
	if s.cfg.StopWritesOnBgsaveError && !s.persist.lastSaveOK && len(parseSaveParams(s.cfg.Save)) > 0 {
		return ErrMisconf
	}
	return ""
}

// waitBgsave blocks (without the lock) until no background save runs.
func (s *Server) waitBgsave() {
	for {
		s.mu.Lock()
		saving := s.persist.saving
		s.mu.Unlock()
		if !saving {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// loadRDB loads the RDB file into the (empty) keyspace, taking the lock a
// batch of keys at a time. A missing file is an empty dataset.
func (s *Server) loadRDB(path string, locked bool) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	return s.loadRDBFrom(bufio.NewReaderSize(f, 1<<20), st.Size(), path, locked)
}

// loadRDBFrom loads an RDB stream of about size bytes (name is for
// messages). With locked the caller holds the server lock (DEBUG RELOAD).
func (s *Server) loadRDBFrom(r io.Reader, size int64, name string, locked bool) error {
	_, err := s.loadRDBStream(r, size, name, locked)
	return err
}

// loadRDBStream is loadRDBFrom returning the bytes read beyond the RDB's
// end (a replication payload's EOF mark and stream).
func (s *Server) loadRDBStream(r io.Reader, size int64, name string, locked bool) ([]byte, error) {
	return s.loadRDBInto(r, size, name, rdbLoadOpts{locked: locked})
}

// rdbLoadOpts says where and how loadRDBInto loads.
type rdbLoadOpts struct {
	// locked: the caller holds the server lock (DEBUG RELOAD).
	locked bool
	// into, if set, is a keyspace of its own that receives the data
	// instead of the live one (a swapdb full sync); the replication
	// position the file records is then left to the caller.
	into *keyspace.Keyspace
	// async flags async_loading instead of loading: the live dataset
	// keeps answering meanwhile.
	async bool
}

// loadRDBInto loads an RDB stream as opts say and returns the bytes read
// beyond the RDB's end.
func (s *Server) loadRDBInto(r io.Reader, size int64, name string, opts rdbLoadOpts) ([]byte, error) {
	lock, unlock := s.mu.Lock, s.mu.Unlock
	if opts.locked {
		lock, unlock = func() {}, func() {}
	}
	p := &s.persist
	flag := &p.loading
	if opts.async {
		flag = &p.asyncLoading
	}
	ks := s.ks
	if opts.into != nil {
		ks = opts.into
	}
	lock()
	// Restored, not cleared, at the end: an AOF base loaded before the
	// incr files must not let clients (a replica's PSYNC) in before
	// those are replayed (found by the full-restart drill: the replica
	// got the base only).
	wasLoading := flag.Swap(true)
	defer s.procs.Hold(procs.Load)()
	p.loadStart = s.clock()
	p.loadTotal = size
	p.loadRead.Store(0)
	unlock()
	defer flag.Store(wasLoading)
	s.log.Info("loading RDB", zap.String("file", name), zap.Int64("bytes", size))
	start := time.Now()
	lastLog := start
	var loaded, expired int64
	master := !s.repl.isReplica()
	l := rdb.Loader{
		Limits:    s.rdbLimits(),
		Databases: len(ks.DBs),
		Progress: func(read int64) {
			p.loadRead.Store(read)
			if time.Since(lastLog) >= time.Second {
				lastLog = time.Now()
				pct := 0.0
				if size > 0 {
					pct = float64(read) * 100 / float64(size)
				}
				s.log.Info("loading RDB in progress", zap.String("file", name), zap.Float64("percent", pct), zap.Int64("keys", loaded))
			}
		},
	}
	l.Resize = func(db, keys, expires int) {
		lock()
		ks.DBs[db].Reserve(keys, expires)
		unlock()
	}
	type item struct {
		db     int
		key    []byte
		v      keyspace.Value
		expire int64
	}
	batch := make([]item, 0, 1024)
	apply := func() error {
		if len(batch) == 0 {
			return nil
		}
		lock()
		defer unlock()
		now := s.clock().UnixMilli()
		for _, it := range batch {
			db := ks.DBs[it.db]
			if master && it.expire >= 0 && it.expire < now {
				expired++
				continue
			}
			// The decoder's key bytes are fresh and not reused: adopt them.
			key := unsafe.String(unsafe.SliceData(it.key), len(it.key))
			if !db.AddOwnedIfAbsent(key, it.v) {
				return fmt.Errorf("duplicate key %q in DB %d", key, it.db)
			}
			if it.expire >= 0 {
				db.SetExpire(key, it.expire)
			}
			loaded++
		}
		batch = batch[:0]
		return nil
	}
	err := l.Load(r, func(db int, key []byte, v keyspace.Value, expireMs int64) error {
		batch = append(batch, item{db, key, v, expireMs})
		if len(batch) == cap(batch) {
			return apply()
		}
		return nil
	})
	if err == nil {
		err = apply()
	}
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", name, err)
	}
	lock()
	p.lastLoadKeys, p.lastLoadExpired = loaded, expired
	if id, off := l.Aux["repl-id"], l.Aux["repl-offset"]; opts.into == nil && s.cfg.ReplicaOf != "" && len(id) == 40 && off != "" {
		// A replica restarting from its own RDB resumes the master's
		// stream from the position the file records (PSYNC2).
		if n, err := strconv.ParseInt(off, 10, 64); err == nil {
			s.repl.replID, s.repl.offset = id, n
		}
	}
	unlock()
	s.log.Info("DB loaded from disk", zap.String("file", name), zap.Int64("keys", loaded), zap.Int64("expired_skipped", expired),
		zap.Duration("took", time.Since(start)))
	return l.Leftover, nil
}
