// Package node is the data node: the listener, client connections, the
// command table and the commands, executed against the keyspace under one
// lock so that every write has a single total order.
package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/vigilkv/vigil/internal/logging"
	"github.com/vigilkv/vigil/node/config"
	"github.com/vigilkv/vigil/node/keyspace"
	"github.com/vigilkv/vigil/node/lease"
	"github.com/vigilkv/vigil/node/procs"
)

// Version is the Redis version vigil reports (redis_version in INFO, HELLO):
// the release whose behaviour it follows.
const Version = "7.0.15"

// VigilVersion is vigil's own version.
const VigilVersion = "0.1.0"

// Options configures a Server.
type Options struct {
	Config *config.Config
	Logger *zap.Logger
	// Clock returns the current time; nil means time.Now. Tests inject
	// one to make expiry deterministic.
	Clock func() time.Time
	// Seed seeds the server's random source; 0 picks a random seed.
	Seed uint64
	// LogLevel, if set, is adjusted when CONFIG SET loglevel changes.
	LogLevel *zap.AtomicLevel
	// Executable and Args are how this process was started, for an
	// in-place upgrade to start the new binary the same way.
	Executable string
	Args       []string
	// Procs sizes GOMAXPROCS to the node's work; nil leaves it alone.
	Procs *procs.Governor
}

// Server is one data node.
type Server struct {
	cfg      *config.Config
	log      *zap.Logger
	logLevel *zap.AtomicLevel
	clock    func() time.Time
	// ksClock is the clock given to keyspaces: nil unless one was
	// injected (see keyspace.New).
	ksClock   func() time.Time
	startTime time.Time
	runID     string

	// mu is the keyspace lock: every command runs holding it.
	mu   sync.Mutex
	ks   *keyspace.Keyspace
	cmds *commandTable
	// prefetchSink keeps what reading ahead read (readAhead).
	prefetchSink uintptr

	clients   map[int64]*Client
	nextID    atomic.Int64
	numConns  atomic.Int64
	listeners []net.Listener

	// Per-family state, each defined next to its commands.
	blocking blockingState
	tx       txState
	pubsub   pubsubState
	diag     diagState

	repl  replStream
	stats Stats
	// dirty counts changes since the last save
	// (rdb_changes_since_last_save).
	dirty    int64
	lastSave time.Time
	persist  persistState
	aof      aofState
	lease    lease.Lease // the master write lease (node/lease holds the rule)
	// leaseOnPromotion: a sentinel asked for a lease before promoting
	// this replica (LEASE REQUIRE).
	leaseOnPromotion bool
	// fatal is why Serve stopped on its own (a dataset that would not
	// load).
	fatal error

	pause   pauseState
	mem     memRelease
	upgrade upgradeState
	exe     string
	args    []string
	procs   *procs.Governor

	// INFO's sampled figures.
	peakMemory   int64
	opsPerSec    int64
	opsLastCount int64
	opsLastTime  time.Time

	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closing  atomic.Bool
	shutdown chan struct{}
	once     sync.Once
}

// Stats are the counters INFO stats reports.
type Stats struct {
	ConnectionsReceived atomic.Int64
	RejectedConns       atomic.Int64
	CommandsProcessed   int64
	NetInputBytes       atomic.Int64
	NetOutputBytes      atomic.Int64
	TotalErrorReplies   int64
	ExpiredStaleKeys    int64
	SyncFull            atomic.Int64
	SyncPartialOK       atomic.Int64
	SyncPartialErr      atomic.Int64
}

// New creates a server; call ListenAndServe to start it.
func New(opts Options) (*Server, error) {
	cfg := opts.Config
	if cfg == nil {
		cfg = config.Default()
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	clock := opts.Clock
	if clock == nil {
		clock = time.Now
	}
	seed := opts.Seed
	if seed == 0 {
		seed = mrand.Uint64()
	}
	rng := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := &Server{
		cfg:       cfg,
		log:       log,
		logLevel:  opts.LogLevel,
		clock:     clock,
		startTime: clock(),
		runID:     newRunID(),
		clients:   make(map[int64]*Client),
		shutdown:  make(chan struct{}),
		exe:       opts.Executable,
		procs:     opts.Procs,
		args:      opts.Args,
	}
	s.lastSave = s.startTime
	// Token numbers of this process never repeat an earlier one's.
	s.lease.StartTokensAt(int64(rng.Uint64() >> 24))
	s.persist.lastSaveOK = true
	// An injected clock only: with nil the keyspace knows its clock is
	// time.Now and takes the reading each command already made.
	s.ksClock = opts.Clock
	s.ks = keyspace.New(cfg.Databases, s.ksClock, rng)
	s.ks.Hooks = keyspace.Hooks{
		Expired:  s.onKeyExpired,
		Modified: s.onKeyModified,
		Ready:    s.onKeyReady,
		Added: func(db *keyspace.DB, key string) {
			s.notifyKeyspaceEvent('n', "new", key, db.ID)
		},
	}
	s.cmds = newCommandTable(s.commandFamilies()...)
	s.initFamilies()
	s.applyConfig()
	return s, nil
}

// commandFamilies lists every command family's table.
func (s *Server) commandFamilies() [][]*Command {
	return [][]*Command{
		connectionCommands(),
		serverCommands(),
		txCommands(),
		stringCommands(),
		bitCommands(),
		bitfieldCommands(),
		keyCommands(),
		pubsubCommands(),
		listCommands(),
		hashCommands(),
		setCommands(),
		zsetCommands(),
		sortCommands(),
		dumpCommands(),
		configCommands(),
		persistCommands(),
		aofCommands(),
		replicationCommands(),
		failoverCommands(),
		leaseCommands(),
		upgradeCommands(),
	}
}

func (s *Server) initFamilies() {
	s.blocking.init()
	s.tx.init()
	s.pubsub.init()
	s.diag.init(s)
	s.repl.init(s)
	s.aof.init(s)
}

// applyConfig pushes configuration into the parts that cache it; called at
// start and after CONFIG SET, under the lock.
func (s *Server) applyConfig() {
	cfg := s.cfg
	s.ks.Config.LFU = len(cfg.MaxMemoryPolicy) > 4 && cfg.MaxMemoryPolicy[len(cfg.MaxMemoryPolicy)-3:] == "lfu"
	s.ks.Config.LFULogFactor = cfg.LFULogFactor
	s.ks.Config.LFUDecayTime = cfg.LFUDecayTime
	s.applyAOFConfig()
	// sync-replicas may have fallen to what writers waiting have.
	s.releaseSyncWriters()
	s.pubsub.applyConfig(cfg.NotifyKeyspaceEvent)
	if s.logLevel != nil {
		if lvl, err := logging.Level(cfg.LogLevel); err == nil {
			s.logLevel.SetLevel(lvl)
		}
	}
}

func newRunID() string {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("reading random bytes for the run id: %v", err))
	}
	return hex.EncodeToString(b[:])
}

// Config is the server's live configuration.
func (s *Server) Config() *config.Config { return s.cfg }

// Logger is the server's logger.
func (s *Server) Logger() *zap.Logger { return s.log }

// RunID is the 40-hex-character id of this process's lifetime.
func (s *Server) RunID() string { return s.runID }

// Addrs lists the addresses the server listens on.
func (s *Server) Addrs() []net.Addr {
	var out []net.Addr
	for _, l := range s.listeners {
		out = append(out, l.Addr())
	}
	return out
}

// Listen opens the configured listeners.
func (s *Server) Listen() error {
	binds := s.cfg.Bind
	if len(binds) == 0 {
		binds = []string{"*"}
	}
	for _, b := range binds {
		optional := false
		if len(b) > 0 && b[0] == '-' {
			// Redis's "-addr": bind if possible, ignore if unavailable.
			optional = true
			b = b[1:]
		}
		host := b
		network := "tcp"
		switch b {
		case "*":
			host = "0.0.0.0"
			network = "tcp4"
		case "::*":
			host = "::"
			network = "tcp6"
		}
		addr := net.JoinHostPort(host, strconv.Itoa(s.cfg.Port))
		l, err := net.Listen(network, addr)
		if err != nil {
			if optional {
				s.log.Debug("optional bind address unavailable", zap.String("addr", addr), zap.Error(err))
				continue
			}
			s.closeListeners()
			return fmt.Errorf("listening on %s: %w", addr, err)
		}
		s.listeners = append(s.listeners, l)
	}
	if len(s.listeners) == 0 {
		return errors.New("no address to listen on")
	}
	return nil
}

func (s *Server) closeListeners() {
	for _, l := range s.listeners {
		l.Close()
	}
}

// Serve accepts clients on the listeners opened by Listen and runs the
// background cycle until ctx is cancelled or SHUTDOWN is called. It
// returns once every client has been closed.
func (s *Server) Serve(ctx context.Context) error {
	s.ctx, s.cancel = context.WithCancel(ctx)
	var masterHost string
	var masterPort int
	if f := strings.Fields(s.cfg.ReplicaOf); len(f) == 2 {
		if port, err := strconv.Atoi(f[1]); err == nil {
			masterHost, masterPort = f[0], port
		}
	}
	s.mu.Lock()
	if masterHost != "" && s.isSelf(masterHost, masterPort) {
		// One config for every node of a StatefulSet: the node it names
		// as master is this one, so it stays master.
		s.log.Info("replicaof names this node: staying master", zap.String("replicaof", s.cfg.ReplicaOf))
		s.cfg.ReplicaOf, masterHost = "", ""
	}
	// Before the first client: a master that sentinels managed takes no
	// write before they renew its lease.
	s.requireLeaseIfManaged()
	s.mu.Unlock()
	// Loading is flagged before the first client is accepted: a client
	// served in between saw an empty keyspace, and a replica's PSYNC got
	// an empty snapshot and never the data loaded after it (found by the
	// full-restart drill).
	s.startLoading()
	for _, l := range s.listeners {
		s.startAcceptLoop(l)
	}
	s.wg.Add(1)
	go s.cronLoop()
	if masterHost != "" {
		s.mu.Lock()
		s.setMaster(masterHost, masterPort)
		s.mu.Unlock()
	}
	s.log.Info("ready to accept connections", zap.Int("port", s.cfg.Port), zap.String("run_id", s.runID))
	return s.serveUntilStopped()
}

// serveUntilStopped waits for a signal or SHUTDOWN, then stops.
func (s *Server) serveUntilStopped() error {
	select {
	case <-s.ctx.Done():
		if !s.upgrade.handedOver.Load() {
			s.saveOnSignal()
		}
	case <-s.shutdown:
	}
	s.stop()
	return s.fatal
}

// isSelf reports whether host:port is this server: the port is ours and
// the host resolves to an address of one of this machine's interfaces
// that we listen on.
func (s *Server) isSelf(host string, port int) bool {
	if port != s.cfg.Port {
		return false
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return false
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, ip := range ips {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) && s.listensOn(ip) {
				return true
			}
		}
	}
	return false
}

// listensOn reports whether one of the listeners accepts on ip.
func (s *Server) listensOn(ip net.IP) bool {
	for _, l := range s.listeners {
		if a, ok := l.Addr().(*net.TCPAddr); ok && (a.IP.IsUnspecified() || a.IP.Equal(ip)) {
			return true
		}
	}
	return false
}

// saveOnSignal is SIGTERM's final save, when save points are configured.
func (s *Server) saveOnSignal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fatal != nil || s.persist.loading.Load() || len(parseSaveParams(s.cfg.Save)) == 0 {
		return
	}
	s.log.Info("saving the final RDB snapshot before exiting")
	if err := s.saveSync(); err != nil {
		s.log.Error("error trying to save the DB before exiting", zap.Error(err))
	}
}

// startLoading loads the dataset from disk in the background (the AOF
// when appendonly is on and a manifest exists, else the RDB file); until
// it is in, clients get -LOADING. A file that will not load stops the
// server. Then the AOF, if on, starts.
func (s *Server) startLoading() {
	aofManifest := false
	if s.cfg.AppendOnly {
		_, err := os.Stat(s.manifestPath())
		aofManifest = err == nil
	}
	_, err := os.Stat(s.rdbPath())
	if !aofManifest && err != nil {
		if s.cfg.AppendOnly {
			s.mu.Lock()
			err := s.startAOF()
			done := s.aof.rewriteDone
			s.mu.Unlock()
			if err != nil {
				s.log.Error("cannot start the AOF", zap.Error(err))
			} else if done != nil {
				// As Redis, the base of a new AOF is written before the
				// first client (it is empty: quick), so a BGREWRITEAOF
				// right after start-up is not refused as already running.
				<-done
			}
		}
		return
	}
	s.persist.loading.Store(true)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := s.loadDataset()
		if err == nil && s.cfg.AppendOnly {
			s.mu.Lock()
			err = s.startAOF()
			s.mu.Unlock()
		}
		if err != nil {
			s.log.Error("fatal error loading the dataset: refusing to start", zap.Error(err))
			s.mu.Lock()
			s.fatal = err
			s.mu.Unlock()
			s.Shutdown()
		}
	}()
}

// loadDataset loads the AOF or the RDB file, as startLoading describes.
func (s *Server) loadDataset() error {
	defer s.persist.loading.Store(false)
	if s.cfg.AppendOnly {
		found, err := s.loadAOF(false)
		if err != nil || found {
			return err
		}
		// Unlike Redis, which would start empty here, an RDB file left
		// from before appendonly was turned on is loaded.
	}
	return s.loadRDB(s.rdbPath(), false)
}

// ListenAndServe is Listen followed by Serve.
func (s *Server) ListenAndServe(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	return s.Serve(ctx)
}

// Shutdown asks Serve to stop (SHUTDOWN, signals).
func (s *Server) Shutdown() {
	s.once.Do(func() { close(s.shutdown) })
}

func (s *Server) stop() {
	s.closing.Store(true)
	s.closeListeners()
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Lock()
	for _, cl := range s.clients {
		cl.kill()
	}
	s.mu.Unlock()
	s.aof.shutdown()
	s.mu.Lock()
	s.stopLink()
	s.mu.Unlock()
	s.wg.Wait()
	s.log.Info("server stopped")
}

// startAcceptLoop accepts clients on l in a new goroutine.
func (s *Server) startAcceptLoop(l net.Listener) {
	s.wg.Add(1)
	s.upgrade.acceptors.Add(1)
	go s.acceptLoop(l)
}

func (s *Server) acceptLoop(l net.Listener) {
	defer s.wg.Done()
	defer s.upgrade.acceptors.Done()
	var backoff time.Duration
	for {
		conn, err := l.Accept()
		if err != nil {
			if s.closing.Load() || errors.Is(err, net.ErrClosed) || s.upgrade.stopAccept.Load() {
				return
			}
			// Out of file descriptors and similar: back off, keep going.
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff < time.Second {
				backoff *= 2
			}
			s.log.Warn("accepting connection", zap.Error(err))
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.stats.ConnectionsReceived.Add(1)
		s.wg.Add(1)
		s.upgrade.admitting.Add(1)
		go s.handleConn(conn)
	}
}

func (s *Server) handleConn(conn net.Conn) {
	defer s.wg.Done()
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
		if ka := s.cfg.TCPKeepalive; ka > 0 {
			tc.SetKeepAlivePeriod(time.Duration(ka) * time.Second)
			tc.SetKeepAlive(true)
		}
	}
	cl := newClient(s, conn)
	s.mu.Lock()
	if msg := s.admissionError(cl); msg != "" {
		s.mu.Unlock()
		s.upgrade.admitting.Done()
		s.stats.RejectedConns.Add(1)
		conn.Write([]byte("-" + msg + "\r\n"))
		conn.Close()
		return
	}
	s.clients[cl.ID] = cl
	s.numConns.Add(1)
	s.mu.Unlock()
	s.upgrade.admitting.Done()
	s.serveClient(cl)
}

// protectedModeMsg is Redis's DENIED reply for protected mode.
const protectedModeMsg = "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside."

func (s *Server) admissionError(cl *Client) string {
	if int(s.numConns.Load()) >= s.cfg.MaxClients {
		return "ERR max number of clients reached"
	}
	if s.cfg.ProtectedMode && s.cfg.RequirePass == "" && !cl.isLocal() {
		return protectedModeMsg
	}
	return ""
}

// cronLoop is serverCron: active expiry, incremental rehash, client
// timeouts and the other periodic jobs, hz times a second.
func (s *Server) cronLoop() {
	defer s.wg.Done()
	hz := s.cfg.Hz
	if hz <= 0 {
		hz = 10
	}
	t := time.NewTicker(time.Second / time.Duration(hz))
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		case <-s.aof.fsynced:
			// The AOF fsynced more: WAITAOF clients may be done, and a
			// replica tells its master (REPLCONF ACK ... FACK).
			s.mu.Lock()
			s.waitAcked()
			s.blocking.serveReady(s)
			if l := s.repl.link; l != nil {
				select {
				case l.ackNow <- struct{}{}:
				default:
				}
			}
			s.mu.Unlock()
			continue
		}
		s.mu.Lock()
		s.cron(time.Second / time.Duration(hz))
		newHz := s.cfg.Hz
		s.mu.Unlock()
		if newHz > 0 && newHz != hz {
			hz = newHz
			t.Reset(time.Second / time.Duration(hz))
		}
	}
}

// cron runs one cycle of periodic work under the lock. period is the
// cycle length; active expiry gets at most a quarter of it, as in Redis.
func (s *Server) cron(period time.Duration) {
	s.ks.UpdateTime()
	if s.persist.loading.Load() || s.upgrade.parking.Load() {
		// Nothing may change the dataset while an upgrade commits.
		return
	}
	s.ks.ActiveExpireCycle(period / 4)
	s.saveCron()
	s.autoRewriteCron()
	s.replicationCron()
	if s.cfg.ActiveRehashing {
		deadline := s.clock().Add(time.Millisecond)
		for _, db := range s.ks.DBs {
			db.ShrinkIfNeeded()
			for db.RehashSome(100) && s.clock().Before(deadline) {
			}
		}
	}
	s.blocking.expireTimeouts(s)
	s.pause.expire(s)
	s.diag.cron(s)
	s.mem.cron(s)
	s.sampleOps()
}

// sampleOps updates instantaneous_ops_per_sec about once a second.
func (s *Server) sampleOps() {
	now := s.clock()
	if el := now.Sub(s.opsLastTime); el >= time.Second {
		s.opsPerSec = int64(float64(s.stats.CommandsProcessed-s.opsLastCount) / el.Seconds())
		s.opsLastCount = s.stats.CommandsProcessed
		s.opsLastTime = now
	}
	if used := s.usedMemory(); used > s.peakMemory {
		s.peakMemory = used
	}
}

// onKeyExpired is the keyspace hook for a deleted expired key: propagate a
// DEL so replicas and the AOF converge, and notify.
func (s *Server) onKeyExpired(db *keyspace.DB, key string) {
	s.repl.feed(db.ID, [][]byte{[]byte("DEL"), []byte(key)})
	s.notifyKeyspaceEvent('x', "expired", key, db.ID)
}

func (s *Server) onKeyModified(db *keyspace.DB, key string) {
	s.tx.touchKey(db.ID, key)
}

func (s *Server) onKeyReady(db *keyspace.DB, key string) {
	s.blocking.signalReady(db.ID, key)
}

// Keyspace exposes the keyspace for tests and tools in this module.
func (s *Server) Keyspace() *keyspace.Keyspace { return s.ks }

// Lock and Unlock take the keyspace lock, for in-process tools and tests.
func (s *Server) Lock()   { s.mu.Lock() }
func (s *Server) Unlock() { s.mu.Unlock() }
