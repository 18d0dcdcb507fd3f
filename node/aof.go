package node

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/vigilkv/vigil/internal/resp"
	"github.com/vigilkv/vigil/internal/uring"
)

// The append-only file, in Redis 7's multi-part layout: a directory
// (appenddirname) holding a manifest, one base file (an RDB image, or a
// command log without the RDB preamble) and incr files of commands. The
// AOF is a consumer of the replication stream: every write is appended to
// an in-memory buffer under the server lock, and a writer goroutine
// writes and fsyncs it, so no disk I/O happens under the lock. With
// appendfsync always a client's reply waits until its write is durable;
// the writer's one fsync covers every client waiting (group commit). A
// rewrite opens a new incr file at an exact stream offset, writes the new
// base from the no-fork snapshot, then swaps the manifest.

// aofFile is one manifest entry.
type aofFile struct {
	name string
	seq  int
	typ  byte // 'b' base, 'i' incr, 'h' history
}

// aofState is the AOF machinery. mu guards the buffer and the writer's
// progress; the server lock is never held while doing disk I/O.
type aofState struct {
	s  *Server
	mu sync.Mutex
	// work wakes the writer (new data, rotation, stop); durable wakes the
	// clients waiting for their writes to reach the disk.
	work, durable *sync.Cond

	on bool // appendonly is on and the writer runs
	// buf holds the stream from synced to bufEnd: what is not written
	// yet and, after it, what is written but not yet fsynced. A failed
	// fsync may have lost the latter (Linux marks the pages it could not
	// write back as clean), so it is kept until an fsync succeeds and
	// written again after a failure.
	buf      []byte
	bufEnd   int64  // stream offset at the end of buf
	written  int64  // stream offset written to the file
	synced   int64  // stream offset known durable
	fsync    string // appendfsync policy
	lastSync time.Time
	writeErr error // aof_last_write_status

	// files is the manifest; file the open incr file and its size
	// (set by the writer under mu); syncedSize is the file's size at its
	// last successful fsync (the writer's own).
	files      []aofFile
	file       *os.File
	fileSize   int64
	syncedSize int64
	baseSize   int64 // base + incr size after the last rewrite (auto rewrite)

	// rotateAt is the stream offset where the next incr file starts (-1:
	// none pending); rotated signals the rewrite that it happened.
	rotateAt  int64
	rotateSeq int
	rotated   chan struct{}

	// segs map the AOF's stream positions (bufEnd, written, synced) to
	// replication offsets: a replica's offset jumps at a full sync while
	// the AOF's positions do not. fsyncedRepl is the replication offset
	// known fsynced (WAITAOF's local count, a replica's REPLCONF FACK);
	// it holds still while durableHold says the dataset is not all in
	// the AOF yet (its first rewrite, or the one after a full sync, has
	// not finished; durableEpoch tells which rewrite may lift it).
	// fsynced is poked each time fsyncedRepl moves.
	segs         []aofSeg
	fsyncedRepl  int64
	durableHold  bool
	durableEpoch int
	rewriteEpoch int
	rewriteFrom  int64
	fsynced      chan struct{}

	consumer int // replication stream consumer id
	// Group commit (appendfsync always): waiting counts the clients in
	// waitDurable, fed the writes since the writer last took the buffer,
	// released how many clients the last fsync let go and syncTook how
	// long it took; see gather.
	waiting, fed, released int
	gathering              bool
	useRing                bool // aof-io-uring when the writer started
	syncTook               time.Duration
	rewriting              bool
	rewriteDone            chan struct{} // closed when the rewrite in progress ends
	rewriteStart           time.Time
	lastRewrite            time.Duration
	rewriteOK              bool
	rewrites               int64
	scheduled              bool
	stop                   bool
	done                   chan struct{}
}

func (a *aofState) init(s *Server) {
	a.s = s
	a.work = sync.NewCond(&a.mu)
	a.durable = sync.NewCond(&a.mu)
	a.fsynced = make(chan struct{}, 1)
	a.rotateAt = -1
	a.rewriteOK = true
}

// dir is the AOF directory.
func (s *Server) aofDir() string { return filepath.Join(s.cfg.Dir, s.cfg.AppendDirname) }

func (s *Server) manifestPath() string {
	return filepath.Join(s.aofDir(), s.cfg.AppendFilename+".manifest")
}

// readManifest parses the manifest, or returns nil if there is none.
func readManifest(path string) ([]aofFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var files []aofFile
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		var af aofFile
		for j := 0; j+1 < len(f); j += 2 {
			switch f[j] {
			case "file":
				af.name = f[j+1]
			case "seq":
				af.seq, _ = strconv.Atoi(f[j+1])
			case "type":
				af.typ = f[j+1][0]
			}
		}
		if af.name == "" || af.seq <= 0 || (af.typ != 'b' && af.typ != 'i' && af.typ != 'h') || strings.ContainsAny(af.name, "/\\") {
			return nil, fmt.Errorf("%s:%d: invalid manifest line %q", path, i+1, line)
		}
		files = append(files, af)
	}
	return files, nil
}

func manifestBytes(files []aofFile) []byte {
	var b strings.Builder
	for _, f := range files {
		fmt.Fprintf(&b, "file %s seq %d type %c\n", f.name, f.seq, f.typ)
	}
	return []byte(b.String())
}

// writeManifest replaces the manifest atomically.
func (s *Server) writeManifest(files []aofFile) error {
	return writeFileAtomically(s.manifestPath(), func(w io.Writer) error {
		_, err := w.Write(manifestBytes(files))
		return err
	})
}

func (s *Server) incrName(seq int) string {
	return fmt.Sprintf("%s.%d.incr.aof", s.cfg.AppendFilename, seq)
}

func (s *Server) baseName(seq int) string {
	ext := "rdb"
	if !s.cfg.AOFUseRDBPreamble {
		ext = "aof"
	}
	return fmt.Sprintf("%s.%d.base.%s", s.cfg.AppendFilename, seq, ext)
}

// loadAOF loads the dataset from the AOF directory; found is false when
// there is no manifest. Called before clients are served.
func (s *Server) loadAOF(locked bool) (found bool, err error) {
	files, err := readManifest(s.manifestPath())
	if err != nil || files == nil {
		return false, err
	}
	// The base's RDB records the replication position of when the base
	// was written, but the incr files replayed after it hold later
	// writes: a replica resuming its master's stream from that position
	// would apply those writes twice (an INCR counted twice after a
	// kill -9 and restart). As Redis, a dataset loaded from the AOF keeps
	// no replication position: a replica asks for a full resync.
	lock, unlock := s.mu.Lock, s.mu.Unlock
	if locked {
		lock, unlock = func() {}, func() {}
	}
	lock()
	replID, replOffset := s.repl.replID, s.repl.offset
	unlock()
	defer func() {
		lock()
		s.repl.replID, s.repl.offset = replID, replOffset
		unlock()
	}()
	a := &s.aof
	a.files = files
	var incrs []aofFile
	for _, f := range files {
		switch f.typ {
		case 'b':
			path := filepath.Join(s.aofDir(), f.name)
			if err := s.loadAOFBase(path, locked); err != nil {
				return true, err
			}
		case 'i':
			incrs = append(incrs, f)
		}
	}
	for i, f := range incrs {
		path := filepath.Join(s.aofDir(), f.name)
		last := i == len(incrs)-1
		if err := s.replayAOF(path, last, locked); err != nil {
			return true, err
		}
	}
	return true, nil
}

// loadAOFBase loads a base file: an RDB image, or commands.
func (s *Server) loadAOFBase(path string, locked bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening AOF base %s: %w", path, err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	magic, _ := br.Peek(5)
	if string(magic) == "REDIS" {
		st, _ := f.Stat()
		return s.loadRDBFrom(br, st.Size(), path, locked)
	}
	f.Close()
	return s.replayAOF(path, false, locked)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// aofScan is the outcome of reading an AOF file's commands.
type aofScan struct {
	// good is the offset after the last complete command; multiAt the
	// offset of a MULTI never closed by EXEC (-1 if none).
	good, multiAt int64
	commands      int64
	// bad is a malformed command (not a truncated one) at offset good.
	bad error
}

// scanAOF reads the commands of an AOF file, calling fn with each and its
// end offset. fn's error stops the scan and is returned.
func scanAOF(r io.Reader, fn func(args [][]byte, end int64) error) (aofScan, error) {
	cr := &countingReader{r: r}
	rd := resp.NewRequestReader(cr)
	rd.MaxBulkLen = 1 << 40
	rd.MaxQueryBuf = 0
	sc := aofScan{multiAt: -1}
	for {
		args, err := rd.Next()
		if err == resp.ErrIncomplete {
			if ferr := rd.Fill(); ferr != nil {
				if ferr != io.EOF {
					return sc, ferr
				}
				return sc, nil
			}
			continue
		}
		if err == nil && rd.Inline {
			err = errors.New("not a command array")
		}
		if err != nil {
			sc.bad = err
			return sc, nil
		}
		end := cr.n - int64(rd.Buffered())
		if len(args) > 0 {
			switch strings.ToLower(string(args[0])) {
			case "multi":
				sc.multiAt = sc.good
			case "exec":
				sc.multiAt = -1
			}
			if fn != nil {
				if err := fn(args, end); err != nil {
					return sc, err
				}
			}
			sc.commands++
		}
		sc.good = end
	}
}

// replayAOF executes the commands of an AOF file. A truncated last
// command (or an unterminated MULTI) of the last file is cut off when
// aof-load-truncated allows; anything else malformed is an error naming
// the file and offset.
func (s *Server) replayAOF(path string, last, locked bool) error {
	lock, unlock := s.mu.Lock, s.mu.Unlock
	if locked {
		lock, unlock = func() {}, func() {}
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("opening AOF %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	cl := s.newLoaderClient()
	p := &s.persist
	lock()
	// Restored, not cleared, at the end: a file loaded as part of a
	// larger load (the incr files after the base) must not let clients
	// in between two files.
	wasLoading := p.loading.Swap(true)
	p.loadStart = s.clock()
	p.loadTotal = st.Size()
	s.ks.Config.Loading = true
	unlock()
	defer func() {
		lock()
		s.ks.Config.Loading = false
		unlock()
		p.loading.Store(wasLoading)
	}()
	lastLog := time.Now()
	var prev int64
	sc, err := scanAOF(bufio.NewReaderSize(f, 1<<20), func(args [][]byte, end int64) error {
		lock()
		status := s.processCommand(cl, args)
		failed := cl.ctx.failed
		cl.W.Reset()
		unlock()
		if status != cmdDone {
			return fmt.Errorf("%s at offset %d: command %q cannot be replayed", path, prev, args[0])
		}
		if failed && !strings.EqualFold(string(args[0]), "exec") {
			s.log.Warn("command in the AOF failed on replay", zap.String("file", path), zap.Int64("offset", prev), zap.ByteString("command", args[0]))
		}
		prev = end
		p.loadRead.Store(end)
		if time.Since(lastLog) >= time.Second {
			lastLog = time.Now()
			s.log.Info("loading AOF in progress", zap.String("file", path), zap.Float64("percent", float64(end)*100/float64(max(st.Size(), 1))))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if sc.bad != nil {
		return fmt.Errorf("bad file format reading the append only file %s at offset %d: %v", path, sc.good, sc.bad)
	}
	end := sc.good
	if sc.multiAt >= 0 {
		end = sc.multiAt
		lock()
		s.processCommand(cl, [][]byte{[]byte("DISCARD")})
		cl.W.Reset()
		unlock()
	}
	if end < st.Size() {
		if !last || !s.cfg.AOFLoadTruncated {
			return fmt.Errorf("the append only file %s is truncated or has an unterminated MULTI at offset %d; use vigil-server check-aof --fix, or set aof-load-truncated yes", path, end)
		}
		s.log.Warn("the AOF ends with an incomplete command or transaction: cutting it off", zap.String("file", path), zap.Int64("offset", end), zap.Int64("size", st.Size()))
		if err := f.Truncate(end); err != nil {
			return fmt.Errorf("truncating %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("fsync %s: %w", path, err)
		}
	}
	s.log.Info("AOF loaded", zap.String("file", path), zap.Int64("commands", sc.commands))
	return nil
}

// newLoaderClient is the connectionless client AOF commands run as.
func (s *Server) newLoaderClient() *Client {
	cl := newClient(s, nil)
	cl.Authenticated = true
	cl.Flags |= ClientAOFLoader
	cl.ID = -1
	return cl
}

// startAOF starts the writer on the last incr file of a loaded manifest,
// or, with no manifest, creates the AOF by a rewrite of the current
// dataset. Under the lock.
func (s *Server) startAOF() error {
	a := &s.aof
	if err := os.MkdirAll(s.aofDir(), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", s.aofDir(), err)
	}
	// Under a.mu too: a shutdown (a server stopped while it loads) reads
	// these under a.mu alone.
	a.mu.Lock()
	a.on = true
	a.fsync = s.cfg.AppendFsync
	a.writeErr = nil
	a.done = make(chan struct{})
	a.stop = false
	a.buf = a.buf[:0]
	a.bufEnd = s.repl.offset
	a.written, a.synced = a.bufEnd, a.bufEnd
	a.segs = []aofSeg{{a.bufEnd, 0}}
	a.fsyncedRepl = s.repl.offset
	a.mu.Unlock()
	a.consumer = s.repl.addConsumer(a.feed)
	var lastIncr *aofFile
	for i := range a.files {
		if a.files[i].typ == 'i' {
			lastIncr = &a.files[i]
		}
	}
	if lastIncr != nil {
		f, err := os.OpenFile(filepath.Join(s.aofDir(), lastIncr.name), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("opening %s: %w", lastIncr.name, err)
		}
		a.file = f
		st, _ := f.Stat()
		a.fileSize = st.Size()
		a.syncedSize = a.fileSize
		a.baseSize = s.aofSizeLocked()
	}
	s.repl.lastDB = -1
	a.useRing = s.cfg.AOFIOUring
	go a.writer()
	if lastIncr == nil {
		a.mu.Lock()
		a.holdDurable()
		a.mu.Unlock()
		return s.startAOFRewrite("AOF enabled")
	}
	return nil
}

// stopAOF flushes and closes the AOF (CONFIG SET appendonly no, exit).
// Called without the lock.
func (a *aofState) shutdown() {
	a.mu.Lock()
	if !a.on {
		a.mu.Unlock()
		return
	}
	a.stop = true
	done := a.done
	a.work.Broadcast()
	a.durable.Broadcast()
	a.mu.Unlock()
	<-done
}

// aofSeg says that from AOF stream position start on, the replication
// offset is the position plus delta.
type aofSeg struct{ start, delta int64 }

// replOffsetAt is the replication offset at AOF stream position p; under
// a.mu.
func (a *aofState) replOffsetAt(p int64) int64 {
	for i := len(a.segs) - 1; i >= 0; i-- {
		if a.segs[i].start <= p {
			return p + a.segs[i].delta
		}
	}
	return p
}

// markOffset records that the AOF's current end is replication offset
// off (a new history after a full sync); under a.mu.
func (a *aofState) markOffset(off int64) {
	d := off - a.bufEnd
	if n := len(a.segs); n > 0 && a.segs[n-1].start == a.bufEnd {
		a.segs[n-1].delta = d
		return
	}
	if n := len(a.segs); n > 0 && a.segs[n-1].delta == d {
		return
	}
	a.segs = append(a.segs, aofSeg{a.bufEnd, d})
}

// holdDurable stops fsyncedRepl until a rewrite begun after now finishes:
// the dataset (a full sync's, or the one the AOF was just turned on for)
// is not in the AOF before that. Under a.mu.
func (a *aofState) holdDurable() {
	a.durableHold = true
	a.durableEpoch++
	a.fsyncedRepl = 0
}

// advanceFsynced moves fsyncedRepl to what position p (fsynced) stands
// for and pokes fsynced; under a.mu.
func (a *aofState) advanceFsynced(p int64) {
	if a.durableHold {
		return
	}
	if off := a.replOffsetAt(p); off > a.fsyncedRepl {
		a.fsyncedRepl = off
		select {
		case a.fsynced <- struct{}{}:
		default:
		}
	}
	// Segments wholly before p are not needed any more.
	i := 0
	for i+1 < len(a.segs) && a.segs[i+1].start <= p {
		i++
	}
	a.segs = a.segs[i:]
}

// FsyncedOffset is the replication offset this node's AOF has fsynced,
// or -1 with the AOF off.
func (a *aofState) FsyncedOffset() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.on {
		return -1
	}
	return a.fsyncedRepl
}

// feed is the replication stream consumer: under the server lock.
func (a *aofState) feed(chunk []byte) {
	a.mu.Lock()
	a.buf = append(a.buf, chunk...)
	a.bufEnd += int64(len(chunk))
	// The chunk ends at the stream's current offset.
	a.markOffset(a.s.repl.offset)
	a.fed++
	if !a.gathering || a.fed >= a.released {
		a.work.Signal()
	}
	a.mu.Unlock()
}

// gather holds an fsync back briefly until the clients the previous one
// released have sent their next writes (or for at most as long as an
// fsync takes), so that one fsync covers all of them: without it the
// first client back starts an fsync alone and every other client waits
// for the one after, two fsyncs per write. Under a.mu; Redis gets the
// same batching from its event loop, which fsyncs once per round over
// every client it served.
func (a *aofState) gather() {
	if a.fsync != "always" || a.released < 2 || a.fed >= a.released || a.stop || a.rotateAt >= 0 {
		return
	}
	deadline := time.Now().Add(a.syncTook)
	t := time.AfterFunc(a.syncTook, func() {
		a.mu.Lock()
		a.work.Broadcast()
		a.mu.Unlock()
	})
	defer t.Stop()
	a.gathering = true
	defer func() { a.gathering = false }()
	for a.fed < a.released && !a.stop && a.rotateAt < 0 && time.Now().Before(deadline) {
		a.work.Wait()
	}
}

// aofSizeLocked is the size of the base and incr files (approximate).
func (s *Server) aofSizeLocked() int64 {
	var n int64
	for _, f := range s.aof.files {
		if f.typ == 'h' {
			continue
		}
		if st, err := os.Stat(filepath.Join(s.aofDir(), f.name)); err == nil {
			n += st.Size()
		}
	}
	return n
}

// writer writes buffered stream bytes to the incr file and fsyncs by
// policy. It owns the file.
func (a *aofState) writer() {
	s := a.s
	flush := a.flusher()
	defer flush.close()
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	go func() {
		// Wake the writer periodically for everysec fsyncs and retries.
		for range ticker.C {
			a.mu.Lock()
			stop := !a.on
			a.work.Signal()
			a.mu.Unlock()
			if stop {
				return
			}
		}
	}()
	a.mu.Lock()
	for {
		for a.written == a.bufEnd && a.rotateAt < 0 && !a.stop && !(a.fsync == "everysec" && a.synced < a.written && time.Since(a.lastSync) >= time.Second) && a.writeErr == nil {
			a.work.Wait()
		}
		if a.rotateAt >= 0 && a.written == a.rotateAt {
			a.mu.Unlock()
			err := a.rotate(flush)
			a.mu.Lock()
			if err != nil {
				a.failedRetry(err)
				continue
			}
			// rotate fsynced the old file: all written so far is durable.
			a.markSynced()
			a.advanceFsynced(a.synced)
		}
		a.gather()
		a.fed = 0
		chunk := a.buf[a.written-a.synced:]
		if a.rotateAt >= 0 && a.written+int64(len(chunk)) > a.rotateAt {
			chunk = chunk[:a.rotateAt-a.written]
		}
		policy := a.fsync
		stop := a.stop
		unsynced := a.written - a.synced + int64(len(chunk))
		a.mu.Unlock()
		syncNow := policy == "always" || stop ||
			(policy == "everysec" && (time.Since(a.lastSync) >= time.Second || unsynced >= aofMaxUnsynced))
		start := time.Now()
		err := a.write(chunk, syncNow, flush)
		took := time.Since(start)
		a.mu.Lock()
		if err != nil {
			a.failedRetry(err)
			continue
		}
		if a.writeErr != nil {
			s.log.Info("AOF write error is gone: writing again")
			a.writeErr = nil
		}
		a.written += int64(len(chunk))
		if syncNow || policy == "no" {
			a.markSynced()
			a.released, a.syncTook = a.waiting, min(2*took, 2*time.Millisecond)
		}
		if syncNow {
			// Only a real fsync counts for WAITAOF (appendfsync no
			// never does, as in Redis).
			a.advanceFsynced(a.synced)
		}
		if stop && len(a.buf) == 0 {
			if a.file != nil {
				a.file.Close()
				a.file = nil
			}
			a.on = false
			a.durable.Broadcast()
			close(a.done)
			a.mu.Unlock()
			return
		}
	}
}

// aofFlusher makes the AOF's writes durable. Through an io_uring where the
// kernel allows one: the writer then waits for the disk holding no thread
// or processor, where a blocking fdatasync made the runtime hand the
// client-serving processor to another thread and back on each fsync
// (appendfsync always, SET -c 50 on two cores: 18.5k/s with fdatasync,
// 22.1k/s through the ring).
type aofFlusher struct {
	log  *zap.Logger
	ring *uring.Ring
}

func (a *aofState) flusher() *aofFlusher {
	fl := &aofFlusher{log: a.s.log}
	if !a.useRing {
		return fl
	}
	ring, err := uring.New()
	if err != nil {
		fl.log.Info("the AOF writes and fsyncs with system calls: io_uring is unavailable", zap.Error(err))
		return fl
	}
	fl.ring = ring
	return fl
}

// write appends p to f and, if sync, flushes f to disk (with p empty it
// only flushes), reporting how much of p it wrote and each step's error.
// A failure of the ring comes back as the write's (uring.ErrRing), after
// which the flusher uses plain system calls.
func (fl *aofFlusher) write(f *os.File, p []byte, sync bool) (n int, writeErr, syncErr error) {
	if fl.ring != nil {
		n, writeErr, syncErr = fl.ring.WriteSync(f.Fd(), p, sync)
		if errors.Is(writeErr, uring.ErrRing) {
			fl.fallBack(writeErr)
		}
		return n, writeErr, syncErr
	}
	if len(p) > 0 {
		if n, writeErr = f.Write(p); writeErr != nil {
			return n, writeErr, nil
		}
	}
	if sync {
		syncErr = fdatasync(f)
	}
	return n, nil, syncErr
}

func (fl *aofFlusher) fallBack(err error) {
	fl.log.Warn("io_uring failed: the AOF writes and fsyncs with system calls from now on", zap.Error(err))
	fl.close()
}

func (fl *aofFlusher) close() {
	if fl.ring != nil {
		fl.ring.Close()
		fl.ring = nil
	}
}

// markSynced records that everything written is durable, dropping it
// from the buffer and letting go the clients waiting for it; under a.mu.
func (a *aofState) markSynced() {
	a.buf = a.buf[a.written-a.synced:]
	if len(a.buf) == 0 {
		a.buf = a.buf[:0:0]
	}
	a.synced = a.written
	a.lastSync = time.Now()
	a.durable.Broadcast()
}

// aofMaxUnsynced bounds what appendfsync everysec keeps in memory for
// rewriting after a failed fsync: past it the writer fsyncs early.
const aofMaxUnsynced = 32 << 20

// errAOFSync marks a failed fsync: what was written since the last good
// one may be lost.
var errAOFSync = errors.New("fsync")

// failedRetry records a failed write or fsync and waits a moment before
// the writer tries again; after a failed fsync (the file was cut back to
// its last good one) everything since is written again. Under a.mu, which
// it lets go while it waits.
func (a *aofState) failedRetry(err error) {
	a.failed(err)
	if errors.Is(err, errAOFSync) {
		a.written = a.synced
	}
	a.mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	a.mu.Lock()
}

// failed records a write error; under a.mu.
func (a *aofState) failed(err error) {
	if a.writeErr == nil {
		a.s.log.Error("error writing to the AOF: refusing writes until it works again", zap.Error(err))
	}
	a.writeErr = err
	a.durable.Broadcast()
}

// write appends chunk (nothing, to flush only) to the incr file and, if
// sync, flushes the file to disk. On a failed write it cuts the file back
// to where it was, so that no torn command is left behind and the retry
// writes the chunk once. On a failed fsync it cuts the file back to its
// size at the last good fsync and reports errAOFSync: the writer then
// writes everything since again, as a file whose writeback failed may
// hold holes where the kernel dropped pages. Writer goroutine, without
// a.mu.
func (a *aofState) write(chunk []byte, sync bool, fl *aofFlusher) error {
	if a.file == nil {
		if len(chunk) == 0 {
			return nil
		}
		return errors.New("no AOF file open")
	}
	n, werr, serr := fl.write(a.file, chunk, sync)
	if errors.Is(werr, uring.ErrRing) {
		// What the ring had in hand is unknown: cut the file back and
		// write again, without it now.
		a.file.Truncate(a.fileSize)
		n, werr, serr = fl.write(a.file, chunk, sync)
	}
	if werr != nil {
		a.file.Truncate(a.fileSize)
		return fmt.Errorf("writing %s: %w", a.file.Name(), werr)
	}
	if serr != nil {
		return a.syncFailed(serr)
	}
	a.setFileSize(a.fileSize + int64(n))
	if sync {
		a.syncedSize = a.fileSize
	}
	return nil
}

// syncFailed cuts the incr file back to its size at its last good fsync
// (the kernel may have dropped any page written since) and returns err
// marked errAOFSync. Writer goroutine.
func (a *aofState) syncFailed(err error) error {
	a.file.Truncate(a.syncedSize)
	a.setFileSize(a.syncedSize)
	return fmt.Errorf("%w %s: %w", errAOFSync, a.file.Name(), err)
}

// setFileSize publishes the incr file's size (INFO, auto rewrite); the
// writer reads a.fileSize without the lock, as only it changes it.
func (a *aofState) setFileSize(n int64) {
	a.mu.Lock()
	a.fileSize = n
	a.mu.Unlock()
}

// rotate opens the next incr file and lists it in the manifest, once the
// current one is flushed (writer goroutine, without a.mu).
func (a *aofState) rotate(fl *aofFlusher) error {
	s := a.s
	a.mu.Lock()
	seq := a.rotateSeq
	files := append([]aofFile(nil), a.files...)
	a.mu.Unlock()
	name := s.incrName(seq)
	f, err := os.OpenFile(filepath.Join(s.aofDir(), name), os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	files = append(files, aofFile{name: name, seq: seq, typ: 'i'})
	if err := s.writeManifest(files); err != nil {
		f.Close()
		return err
	}
	if a.file != nil {
		// An empty write flushes: a failed ring is left and the flush made
		// again without it, a failed fsync cuts the file back.
		if err := a.write(nil, true, fl); err != nil {
			f.Close()
			return err
		}
		a.file.Close()
	}
	a.mu.Lock()
	a.file = f
	a.fileSize = 0
	a.syncedSize = 0
	a.files = files
	a.rotateAt = -1
	close(a.rotated)
	a.mu.Unlock()
	return nil
}

// startAOFRewrite begins BGREWRITEAOF; under the server lock.
func (s *Server) startAOFRewrite(reason string) error {
	a := &s.aof
	if a.rewriting {
		return errors.New("ERR Background append only file rewriting already in progress")
	}
	if s.persist.saving {
		return errBgsaveRunning
	}
	a.mu.Lock()
	next := 1
	for _, f := range a.files {
		next = max(next, f.seq+1)
	}
	a.rotateSeq = next
	a.rotateAt = a.bufEnd
	a.rewriteFrom, a.rewriteEpoch = a.bufEnd, a.durableEpoch
	a.rotated = make(chan struct{})
	rotated := a.rotated
	a.work.Signal()
	a.mu.Unlock()
	// The new incr file must begin with a SELECT.
	s.repl.lastDB = -1
	a.rewriting = true
	a.rewriteDone = make(chan struct{})
	done := a.rewriteDone
	a.rewriteStart = s.clock()
	rs := s.beginSnapshot(true)
	s.log.Info("background append only file rewriting started", zap.String("reason", reason))
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := s.finishAOFRewrite(rs, next, rotated)
		s.mu.Lock()
		rs.abort()
		a.rewriting = false
		close(done)
		a.lastRewrite = s.clock().Sub(a.rewriteStart)
		a.rewriteOK = err == nil
		if err != nil {
			s.log.Warn("background AOF rewrite failed", zap.Error(err))
		} else {
			a.rewrites++
			a.baseSize = s.aofSizeLocked()
			a.mu.Lock()
			if a.durableHold && a.rewriteEpoch == a.durableEpoch {
				// The base holds the dataset up to where the rewrite
				// began, the incr file what the writer fsynced since.
				a.durableHold = false
				a.advanceFsynced(max(a.rewriteFrom, a.synced))
			}
			a.mu.Unlock()
			s.log.Info("background AOF rewrite finished successfully", zap.Duration("took", a.lastRewrite))
		}
		if a.scheduled {
			a.scheduled = false
			s.startAOFRewrite("scheduled")
		}
		s.mu.Unlock()
	}()
	return nil
}

var errBgsaveRunning = errors.New("ERR Background save in progress: rewrite scheduled")

// finishAOFRewrite writes the new base and swaps the manifest (no lock
// held on entry).
func (s *Server) finishAOFRewrite(rs *rdbSnapshot, seq int, rotated chan struct{}) error {
	base := s.baseName(seq)
	path := filepath.Join(s.aofDir(), base)
	err := writeFileAtomically(path, func(w io.Writer) error {
		return rs.stream(w, false, nil)
	})
	if err != nil {
		return err
	}
	select {
	case <-rotated:
	case <-time.After(time.Minute):
		return errors.New("the AOF writer did not open the new incr file")
	}
	a := &s.aof
	a.mu.Lock()
	var keep, old []aofFile
	keep = append(keep, aofFile{name: base, seq: seq, typ: 'b'})
	for _, f := range a.files {
		if f.typ == 'i' && f.seq >= seq {
			keep = append(keep, f)
		} else if f.name != base {
			old = append(old, f)
		}
	}
	a.mu.Unlock()
	if err := s.writeManifest(keep); err != nil {
		return err
	}
	a.mu.Lock()
	a.files = keep
	a.mu.Unlock()
	// The new manifest is durable: the old files can go.
	for _, f := range old {
		os.Remove(filepath.Join(s.aofDir(), f.name))
	}
	return nil
}

// aofRefusal is MISCONF while the AOF cannot be written.
func (s *Server) aofRefusal() string {
	a := &s.aof
	if !a.on {
		return ""
	}
	a.mu.Lock()
	err := a.writeErr
	a.mu.Unlock()
	if err != nil {
		return "MISCONF Errors writing to the AOF file: " + errnoText(err)
	}
	return ""
}

// errnoText is the OS error's text, as strerror gives it.
func errnoText(err error) string {
	var errno syscall.Errno
	var pe *os.PathError
	if errors.As(err, &errno) {
		err = errno
	} else if errors.As(err, &pe) {
		err = pe.Err
	}
	msg := err.Error()
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	return msg
}

// waitDurable blocks until the stream up to offset is fsynced (appendfsync
// always), the AOF stops, or writing it fails. It returns the offset known
// durable and, if the wait ended short of offset on a failure, the
// failure. Called without the server lock.
func (a *aofState) waitDurable(offset int64) (synced int64, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.waiting++
	for a.on && a.synced < offset && !a.stop && a.writeErr == nil {
		a.durable.Wait()
	}
	a.waiting--
	if a.synced < offset && a.writeErr != nil {
		return a.synced, a.writeErr
	}
	return a.synced, nil
}

// autoRewriteCron starts a rewrite when the AOF grew past
// auto-aof-rewrite-percentage of its size after the last rewrite. Under
// the lock.
func (s *Server) autoRewriteCron() {
	a := &s.aof
	if !a.on || a.rewriting || s.persist.saving || s.cfg.AutoAOFRewritePercentage == 0 {
		if a.on && a.scheduled && !a.rewriting && !s.persist.saving {
			a.scheduled = false
			s.startAOFRewrite("scheduled")
		}
		return
	}
	a.mu.Lock()
	size := a.fileSize
	a.mu.Unlock()
	base := a.baseSize
	total := base + size
	if total < s.cfg.AutoAOFRewriteMinSize || base == 0 {
		return
	}
	if growth := (total - base) * 100 / base; growth >= int64(s.cfg.AutoAOFRewritePercentage) {
		s.startAOFRewrite(fmt.Sprintf("AOF grew by %d%%", growth))
	}
}

// applyAOFConfig follows CONFIG SET appendonly and appendfsync; under the
// lock.
func (s *Server) applyAOFConfig() {
	a := &s.aof
	if a.s == nil || s.persist.loading.Load() || s.ctx == nil {
		return // not serving yet: startLoading decides
	}
	a.mu.Lock()
	a.fsync = s.cfg.AppendFsync
	on := a.on
	a.mu.Unlock()
	switch {
	case s.cfg.AppendOnly && !on:
		if err := s.startAOF(); err != nil {
			s.log.Error("cannot start the AOF", zap.Error(err))
		}
	case !s.cfg.AppendOnly && on:
		s.repl.removeConsumer(a.consumer)
		a.shutdown()
		// WAITAOF clients waiting for a local fsync get their error.
		s.waitAcked()
		s.log.Info("AOF turned off")
	}
}

// aofCommands: BGREWRITEAOF.
func aofCommands() []*Command {
	return []*Command{
		{Name: "bgrewriteaof", Arity: 1, Flags: FlagAdmin | FlagNoScript, Categories: []string{"admin", "slow", "dangerous"}, Group: "server", Since: "1.0.0",
			Summary: "Asynchronously rewrite the append-only file", Complexity: "O(1)", Handler: cmdBgrewriteaof},
	}
}

func cmdBgrewriteaof(c *Ctx) {
	s := c.Srv
	a := &s.aof
	switch {
	case a.rewriting:
		c.Error("ERR Background append only file rewriting already in progress")
	case s.persist.saving:
		a.scheduled = true
		c.W.Simple("Background append only file rewriting scheduled")
	case !a.on:
		c.Error("ERR Background append only file rewriting is not possible while the AOF is off: turn on appendonly")
	default:
		if err := s.startAOFRewrite("BGREWRITEAOF"); err != nil {
			c.Error(err.Error())
			return
		}
		c.W.Simple("Background append only file rewriting started")
	}
}

// writeInfoAOF is the AOF part of INFO persistence.
func (s *Server) writeInfoAOF(field func(string, any)) {
	a := &s.aof
	a.mu.Lock()
	writeErr := a.writeErr
	size := a.fileSize
	bufLen := a.bufEnd - a.written // not written yet, as Redis counts it
	a.mu.Unlock()
	field("aof_enabled", boolInt(a.on))
	field("aof_rewrite_in_progress", boolInt(a.rewriting))
	field("aof_rewrite_scheduled", boolInt(a.scheduled))
	if a.rewrites == 0 && !a.rewriting && a.lastRewrite == 0 {
		field("aof_last_rewrite_time_sec", -1)
	} else {
		field("aof_last_rewrite_time_sec", int64(a.lastRewrite.Seconds()))
	}
	if a.rewriting {
		field("aof_current_rewrite_time_sec", int64(s.clock().Sub(a.rewriteStart).Seconds()))
	} else {
		field("aof_current_rewrite_time_sec", -1)
	}
	field("aof_last_bgrewrite_status", okErr(a.rewriteOK))
	field("aof_rewrites", a.rewrites)
	field("aof_rewrites_consecutive_failures", 0)
	field("aof_last_write_status", okErr(writeErr == nil))
	field("aof_last_cow_size", 0)
	field("module_fork_in_progress", 0)
	field("module_fork_last_cow_size", 0)
	if a.on {
		field("aof_current_size", a.baseSize+size)
		field("aof_base_size", a.baseSize)
		field("aof_pending_rewrite", boolInt(a.scheduled))
		field("aof_buffer_length", bufLen)
		field("aof_pending_bio_fsync", 0)
		field("aof_delayed_fsync", 0)
	}
}

func okErr(ok bool) string {
	if ok {
		return "ok"
	}
	return "err"
}

// debugLoadAOF is DEBUG LOADAOF: make the AOF durable, empty the dataset
// and load it back from the AOF, all under the lock.
func debugLoadAOF(c *Ctx) {
	s := c.Srv
	a := &s.aof
	if !a.on {
		c.Error("ERR The AOF is off: nothing to load")
		return
	}
	a.mu.Lock()
	for a.synced < a.bufEnd && a.writeErr == nil {
		a.durable.Wait()
	}
	failed := a.writeErr
	a.mu.Unlock()
	if failed != nil {
		c.Error("ERR the AOF cannot be written: " + errnoText(failed))
		return
	}
	for _, db := range s.ks.DBs {
		s.TouchAllInDB(db, nil)
		db.Flush()
	}
	if _, err := s.loadAOF(true); err != nil {
		s.log.Error("DEBUG LOADAOF could not load the AOF", zap.Error(err))
		c.Error("ERR Error trying to load the AOF files, check server logs.")
		return
	}
	c.W.OK()
}

// fdatasync flushes a file's data (and the metadata needed to read it,
// such as its size) without the timestamps: what Redis uses for the AOF
// on Linux, and cheaper than fsync.
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
