package sentinel

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log"
	mrand "math/rand/v2"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/vigilkv/vigil/failover"
	"github.com/vigilkv/vigil/internal/logging"
)

// The periods (PING, INFO, the fast poll while a master is in doubt or
// a failover runs) are timing parameters, settable with SENTINEL DEBUG
// (debug.go).
const (
	// tickPeriod paces the state machines (SDOWN, ODOWN, elections).
	tickPeriod = 25 * time.Millisecond
	// freshInfoWait bounds how long a leader waits for a replica's INFO
	// to be fresh enough to choose it (failover.AwaitFreshInfo).
	freshInfoWait = time.Second
)

// Sentinel is one vigil-sentinel process.
type Sentinel struct {
	cfg  Config
	log  *zap.Logger
	mu   sync.Mutex
	st   *persisted
	path string
	addr string // our RESP address as peers reach it
	grps map[string]*group
	ml   *memberlist.Memberlist
	// broadcasts holds the configuration messages being gossiped (nil
	// until the gossip starts).
	broadcasts *memberlist.TransmitLimitedQueue
	// conflicts are the gossip addresses seen using an id already at
	// another address, by address (see conflicts).
	conflicts map[string]*idConflict
	// keyring holds the gossip keys (none: plain gossip); SIGHUP adds,
	// rotates and drops them in place.
	keyring *memberlist.Keyring
	subs    *pubsub
	ln      net.Listener
	peers   map[string]*peer // by id, from gossip
	// TILT: after the timer stalls or the clock jumps, act on nothing
	// for tiltPeriod, since every timeout measured meanwhile is suspect.
	lastTick  time.Time
	tiltUntil time.Time
	// ctx is Run's: every group's monitoring derives from it.
	ctx context.Context
	// clients are the connections on the RESP port (CLIENT LIST, KILL).
	clients clientRegistry
	// simulate holds SENTINEL SIMULATE-FAILURE's flags.
	simulate simulateFlags
	// alive are the peers memberlist sees alive (by id); see events.
	alive map[string]bool
	// peerDown is when memberlist last saw each peer that is not alive
	// leave or fail (forget-after, SENTINEL SENTINELS).
	peerDown map[string]time.Time
	// gossipAddrs are the peers' gossip addresses (by id) as memberlist
	// last saw them, and rejoining the ones a rejoin is under way to;
	// see rejoinLoop.
	gossipAddrs map[string]string
	rejoining   map[string]bool
	// started is when this process began: a lease granted by the
	// process before it (a restart) may still be in force, and nothing
	// recorded which node it went to; see grantedElsewhere.
	started time.Time
	// The state file's writer (see state.go): ver counts changes to st
	// (under mu), saved is the last version on disk, saveMu serializes
	// the writes, afterSave holds the announcements waiting for a
	// version (under mu), kick wakes flushLoop, which sends on tickNow
	// after running some. durableMeta is the groups' configurations as
	// last written, the only ones gossiped.
	ver         uint64
	saved       atomic.Uint64
	saveMu      sync.Mutex
	afterSave   []deferred
	kick        chan struct{}
	tickNow     chan struct{}
	durableMeta atomic.Pointer[map[string]groupSummary]
	// writeFile writes the state file (writeStateFile; tests slow it
	// down or make it fail).
	writeFile func(path string, data []byte) error
	// rand draws the elections' random delays (rng); under mu.
	rand *mrand.Rand
	// tm holds the timing parameters (SENTINEL DEBUG); under mu.
	tm timing
	// reqPass is requirepass, read by every connection without the lock
	// (see auth.go).
	reqPass atomic.Pointer[string]
}

// peer is another sentinel.
type peer struct {
	id     string
	addr   string
	client *redis.Client
}

// group is the live state of one monitored master.
type group struct {
	cfg Group
	// ctx ends the group's probes (SENTINEL REMOVE, end of Run); wg
	// counts them.
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	master     *instance
	replicas   map[string]*instance // by ip:port
	sdownSince time.Time
	odown      bool
	odownSince time.Time
	downVotes  map[string]time.Time // peer id -> when it said the master is down
	lastAsk    time.Time
	// election/failover in progress; announced is set once the
	// election's epoch is durable and the peers were asked (votes are
	// counted only from then on)
	announced     bool
	electEpoch    uint64
	electDeadline time.Time
	votes         map[string]string
	nextAttempt   time.Time
	// failedAttempts counts our elections lost in a row (their retry
	// windows grow: failover.ElectionTiming).
	failedAttempts int
	failing        *failoverRun
	forced         bool
	// reconf re-points the remaining replicas after a promotion,
	// parallel-syncs at a time; it outlives failing, which ends at
	// +switch-master.
	reconf *reconfRun
}

type failoverRun struct {
	epoch   uint64
	started time.Time
	// selectSince is when the replica choice began (zero before).
	selectSince time.Time
	promoted    *instance
	oldHost     string
	oldPort     int
	// coordinated: the master is reachable, so it hands over itself
	// (the data node's FAILOVER: writes pause until the target has every
	// byte, no acknowledged write lost).
	coordinated bool
}

// instance is a data node the sentinel talks to.
type instance struct {
	host   string
	port   int
	client *redis.Client
	// holderVer is the state version that made this node the lease
	// holder: no renewal is sent before it is on disk.
	holderVer uint64
	// probe results
	lastOK   time.Time
	infoTime time.Time
	role     string
	runID    string
	offset   int64
	priority int
	linkDown time.Duration
	mHost    string
	mPort    int
	replicas []string // from a master's INFO
	stop     chan struct{}
	// linkUp is master_link_status:up, a replica's sync being done.
	linkUp bool
	// info is the last INFO reply (SENTINEL INFO-CACHE); roleTime is
	// when INFO first reported the current role.
	info     string
	roleTime time.Time
	// confChange is when INFO last reported another role or master
	// address; upSince when the instance last came back from down;
	// lastFix when we last sent it +fix-slave-config's REPLICAOF.
	confChange, upSince, lastFix time.Time
	// lastLease is when this sentinel last renewed the master lease
	// here; noLease marks a node that does not know LEASE (redis-server).
	lastLease time.Time
	noLease   bool
	// leaseToken is the token the master's last renewal reply carried,
	// tokenAt when that reply arrived; grantEnd bounds the lease our
	// last renewal here can have granted (it runs from when the quoted
	// token was sent, no later than tokenAt, for the lease period).
	leaseToken int64
	tokenAt    time.Time
	grantEnd   time.Time
	// seen is when this sentinel first knew the instance (forget-after
	// counts from it for one that never answered).
	seen time.Time
}

func (in *instance) addr() string { return net.JoinHostPort(in.host, strconv.Itoa(in.port)) }

// New prepares a sentinel; Run starts it.
func New(cfg Config, log *zap.Logger) (*Sentinel, error) {
	s := &Sentinel{cfg: cfg, log: log, grps: map[string]*group{}, subs: newPubsub(), peers: map[string]*peer{}, alive: map[string]bool{},
		kick: make(chan struct{}, 1), tickNow: make(chan struct{}, 1), started: time.Now()}
	pass := cfg.RequirePass
	s.reqPass.Store(&pass)
	s.path = filepath.Join(cfg.Dir, "sentinel-state.json")
	st, err := loadState(s.path)
	if err != nil {
		return nil, err
	}
	if st == nil {
		var b [20]byte
		rand.Read(b[:])
		st = &persisted{MyID: hex.EncodeToString(b[:]), Groups: map[string]*groupConfig{}, Peers: map[string]string{}}
		// A new identity granted nothing in a previous life: no wait
		// before the first renewals (see grantedElsewhere).
		s.started = time.Time{}
	}
	if st.Groups == nil {
		st.Groups = map[string]*groupConfig{}
	}
	if st.Peers == nil {
		st.Peers = map[string]string{}
	}
	if st.Removed == nil {
		st.Removed = map[string]bool{}
	}
	s.st = st
	// SENTINEL CONFIG SET's changes win over the flags and the file
	// (sentinel-user and sentinel-pass are needed by the peers' clients).
	for name, v := range st.Config {
		if err := s.cfg.setGlobalOption(name, v); err != nil {
			return nil, fmt.Errorf("%s: config %s: %w", s.path, name, err)
		}
	}
	// The known sentinels are asked for votes from the start, before
	// gossip finds them again (they also keep counting as voters).
	for id, addr := range st.Peers {
		if id != st.MyID && addr != "" {
			s.setPeer(id, addr)
		}
	}
	groups := append([]Group(nil), cfg.Groups...)
	for _, g := range groups {
		if st.Removed[g.Name] {
			log.Warn("not monitoring a group removed with SENTINEL REMOVE (SENTINEL MONITOR adds it again)", zap.String("group", g.Name))
		}
	}
	// Groups added with SENTINEL MONITOR, in name order for stable logs.
	var added []string
	for name, gc := range st.Groups {
		if gc.Monitor != nil && !hasGroup(groups, name) {
			added = append(added, name)
		}
	}
	sort.Strings(added)
	for _, name := range added {
		m := st.Groups[name].Monitor
		g := Group{Name: name, Host: m.Host, Port: m.Port, Quorum: m.Quorum, DownAfter: DefaultDownAfter,
			FailoverTimeout: DefaultFailoverTimeout, ParallelSyncs: 1}
		if m.DownAfterMs > 0 {
			g.DownAfter = time.Duration(m.DownAfterMs) * time.Millisecond
		}
		if m.FailoverTimeoutMs > 0 {
			g.FailoverTimeout = time.Duration(m.FailoverTimeoutMs) * time.Millisecond
		}
		groups = append(groups, g)
	}
	for _, g := range groups {
		if st.Removed[g.Name] {
			continue
		}
		gc := st.Groups[g.Name]
		if gc == nil {
			gc = &groupConfig{Host: g.Host, Port: g.Port}
			st.Groups[g.Name] = gc
		}
		// SENTINEL SET's changes win over the flags and the file.
		for opt, v := range gc.Set {
			if err := setGroupOption(&g, opt, v); err != nil {
				return nil, fmt.Errorf("%s: group %s: set %s: %w", s.path, g.Name, opt, err)
			}
		}
		s.grps[g.Name] = s.newGroup(g, gc)
		s.recordReplicas(s.grps[g.Name]) // drops what newGroup skipped
	}
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	return s, nil
}

func hasGroup(gs []Group, name string) bool {
	for _, g := range gs {
		if g.Name == name {
			return true
		}
	}
	return false
}

// MyID is the sentinel's run id.
func (s *Sentinel) MyID() string { return s.st.MyID }

// newInstance is a data node of g; under the lock.
func (s *Sentinel) newInstance(host string, port int, g *group) *instance {
	in := &instance{host: host, port: port, stop: make(chan struct{}), seen: time.Now()}
	in.client = s.newClient(in.addr(), g)
	return in
}

// Run serves until ctx ends.
func (s *Sentinel) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.Bind, strconv.Itoa(s.cfg.Port)))
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	s.ln = ln
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	s.ctx = ctx
	s.addr = s.announceAddr()
	s.mu.Unlock()
	if err := s.startGossip(); err != nil {
		ln.Close()
		return err
	}
	flushed := make(chan struct{})
	go s.flushLoop(ctx, flushed)
	s.mu.Lock()
	for _, g := range s.grps {
		s.startGroup(g)
	}
	s.mu.Unlock()
	go s.serve(ln)
	s.log.Info("sentinel running", zap.String("id", s.st.MyID), zap.String("addr", s.addr))
	t := time.NewTicker(tickPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			ln.Close()
			s.clients.closeAll()
			s.ml.Leave(time.Second)
			s.ml.Shutdown()
			s.mu.Lock()
			for _, g := range s.grps {
				s.stopGroup(g)
			}
			s.mu.Unlock()
			<-flushed
			return nil
		case <-t.C:
			s.tick()
		case <-s.tickNow:
			s.tick()
		}
	}
}

// gossip: each sentinel's memberlist metadata carries its id, its RESP
// address and every group's configuration; the highest config epoch wins.
type nodeMeta struct {
	ID      string                  `json:"id"`
	Addr    string                  `json:"addr"`
	Configs map[string]groupSummary `json:"configs"`
}

type groupSummary struct {
	Epoch uint64 `json:"e"`
	Host  string `json:"h"`
	Port  int    `json:"p"`
}

// valid reports whether a peer's metadata is whole: a peer on another
// version, or a stray datagram that happens to be JSON, must not become
// a sentinel without an address or make a group's master port 0.
func (m *nodeMeta) valid() bool {
	if m.ID == "" || !validHostPort(m.Addr) {
		return false
	}
	for _, c := range m.Configs {
		if c.Host == "" || !validPort(c.Port) {
			return false
		}
	}
	return true
}

// validHostPort reports whether addr is host:port with a usable port.
func validHostPort(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	p, err := strconv.Atoi(port)
	return err == nil && validPort(p)
}

// validPort reports whether p can be a TCP port to connect to.
func validPort(p int) bool { return p > 0 && p <= 65535 }

type delegate struct{ s *Sentinel }

// NodeMeta is this sentinel's id and address, with every group's
// configuration when it all fits: memberlist caps metadata at 512 bytes,
// about nine groups. The configurations travel in full by push/pull
// (LocalState) and, when one changes, in a message of its own
// (gossipConfig) anyway; they
// stay in the metadata, where they fit, for sentinels of earlier
// versions, which read them only there.
func (d delegate) NodeMeta(limit int) []byte {
	m := d.s.localMeta()
	if b, _ := json.Marshal(m); len(b) <= limit {
		return b
	}
	m.Configs = nil
	if b, _ := json.Marshal(m); len(b) <= limit {
		return b
	}
	return nil
}

// localMeta is what this sentinel tells its peers: its id, its address
// and the groups' configurations as last written (a peer that adopted one
// we then forgot in a crash would be ahead of us).
func (s *Sentinel) localMeta() nodeMeta {
	s.mu.Lock()
	m := nodeMeta{ID: s.st.MyID, Addr: s.addr, Configs: map[string]groupSummary{}}
	s.mu.Unlock()
	if c := s.durableMeta.Load(); c != nil {
		m.Configs = *c
	}
	return m
}

// configMessage is what this sentinel tells its peers of one group: its
// id, its address and that group's configuration (none for ""), small
// enough for a datagram however many groups there are.
func (s *Sentinel) configMessage(group string) []byte {
	m := s.localMeta()
	one := nodeMeta{ID: m.ID, Addr: m.Addr}
	if c, ok := m.Configs[group]; ok {
		one.Configs = map[string]groupSummary{group: c}
	}
	b, _ := json.Marshal(one)
	return b
}

// NotifyMsg takes a peer's configuration sent straight to us or
// broadcast (gossipConfig); memberlist holds none of its locks here.
func (d delegate) NotifyMsg(b []byte) { d.s.learn(b) }

func (d delegate) GetBroadcasts(overhead, limit int) [][]byte {
	if d.s.broadcasts == nil {
		return nil
	}
	return d.s.broadcasts.GetBroadcasts(overhead, limit)
}

// LocalState is the whole configuration, exchanged with a peer on every
// join and push/pull: the anti-entropy behind the messages, and the way
// sentinels that were apart catch up.
func (d delegate) LocalState(join bool) []byte {
	b, _ := json.Marshal(d.s.localMeta())
	return b
}

func (d delegate) MergeRemoteState(buf []byte, join bool) { d.s.learn(buf) }

// configBroadcast is one group's configuration queued for gossip; a newer
// one for the same group replaces it in the queue.
type configBroadcast struct {
	group string
	msg   []byte
}

func (b configBroadcast) Invalidates(o memberlist.Broadcast) bool {
	ob, ok := o.(configBroadcast)
	return ok && ob.group == b.group
}
func (b configBroadcast) Name() string    { return "config " + b.group }
func (b configBroadcast) Message() []byte { return b.msg }
func (b configBroadcast) Finished()       {}

// conflicts reports two addresses gossiping under one id. For a few
// seconds that is a sentinel restarted from its state file at a new
// address, until the others take the old one for dead; when it lasts, a
// state file (which holds the id) was copied to a second machine, and
// memberlist hears only one of the two, so they count as one voter and
// never learn of each other.
type conflicts struct{ s *Sentinel }

// conflictPersists is how long an id must stay at two addresses before
// it is reported as a copied state file.
const conflictPersists = 30 * time.Second

func (c conflicts) NotifyConflict(existing, other *memberlist.Node) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	addr := other.Address()
	if s.conflicts == nil {
		s.conflicts = map[string]*idConflict{}
	}
	now := time.Now()
	cf := s.conflicts[addr]
	if cf == nil || now.Sub(cf.last) > conflictPersists {
		// New, or back after a quiet spell: start counting again, and
		// forget the addresses that went quiet (restarts long settled).
		for a, old := range s.conflicts {
			if now.Sub(old.last) > conflictPersists {
				delete(s.conflicts, a)
			}
		}
		s.conflicts[addr] = &idConflict{first: now, last: now}
		s.log.Info("a sentinel id is gossiped at two addresses: a sentinel restarted at a new address, for a few seconds, or a copied state file if it lasts",
			zap.String("id", existing.Name), zap.String("gossip_addr", existing.Address()), zap.String("other_gossip_addr", addr))
		return
	}
	cf.last = now
	if cf.reported || now.Sub(cf.first) < conflictPersists {
		return
	}
	cf.reported = true
	if existing.Name == s.st.MyID {
		s.log.Error("another sentinel gossips with this sentinel's id, most likely from a copy of its state file: stop one, delete its state file and start it again (it gets a new id)",
			zap.String("id", existing.Name), zap.String("other_gossip_addr", addr), zap.String("state_file", s.path))
		return
	}
	s.log.Error("two sentinels gossip with the same id, most likely from a copied state file: only the first is heard",
		zap.String("id", existing.Name), zap.String("gossip_addr", existing.Address()), zap.String("other_gossip_addr", addr))
}

// idConflict is one address seen gossiping under an id already at
// another: since when, last when, and whether it was reported.
type idConflict struct {
	first, last time.Time
	reported    bool
}

type events struct{ s *Sentinel }

// memberlist calls these while holding its node lock, so they may take
// s.mu, and nothing may call into memberlist while holding s.mu (that
// deadlocked a sentinel answering GET-MASTER-ADDR-BY-NAME while a config
// update arrived): liveness is tracked here instead of asking memberlist.
func (e events) NotifyJoin(n *memberlist.Node) {
	e.s.setAlive(n.Name, true)
	e.s.setGossipAddr(n.Name, n.Address())
	e.s.learn(n.Meta)
}
func (e events) NotifyLeave(n *memberlist.Node)  { e.s.setAlive(n.Name, false) }
func (e events) NotifyUpdate(n *memberlist.Node) { e.s.learn(n.Meta) }

// setAlive records memberlist's view of a peer (not dead, not left).
func (s *Sentinel) setAlive(name string, alive bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == s.st.MyID {
		return
	}
	if alive {
		if _, down := s.peerDown[name]; down {
			s.log.Info("a sentinel is back in the gossip", zap.String("id", name))
		}
		s.alive[name] = true
		delete(s.peerDown, name)
	} else {
		if s.alive[name] {
			s.log.Info("a sentinel left the gossip (dead, unreachable, or its gossip cannot be decrypted)", zap.String("id", name))
		}
		delete(s.alive, name)
		if s.peerDown == nil {
			s.peerDown = map[string]time.Time{}
		}
		s.peerDown[name] = time.Now()
	}
}

// setGossipAddr records where peer name gossips, to rejoin it.
func (s *Sentinel) setGossipAddr(name, addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gossipAddrs == nil {
		s.gossipAddrs = map[string]string{}
	}
	s.gossipAddrs[name] = addr
}

// rejoinPeriod paces rejoinLoop.
const rejoinPeriod = 2 * time.Second

// rejoinLoop joins again, every rejoinPeriod, the known sentinels that
// memberlist does not see alive. memberlist never does it by itself: once
// it has declared a node dead it no longer probes it or pushes state to
// it, and it only gossips (to the dead too, for 30 s) when it has news to
// spread, so after a partition longer than its failure detection the two
// sides never meet again, and a sentinel that was cut off keeps its old
// configuration (and refuses to name a master) until restarted. Each
// address is joined on its own goroutine: a join to an address still cut
// off waits for the TCP timeout.
func (s *Sentinel) rejoinLoop(ctx context.Context, ml *memberlist.Memberlist) {
	t := time.NewTicker(rejoinPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		var addrs []string
		for id := range s.st.Peers {
			if a := s.gossipAddrs[id]; a != "" && !s.alive[id] && !s.rejoining[a] {
				addrs = append(addrs, a)
			}
		}
		if s.aliveCount() == 1 && len(addrs) == 0 {
			// Alone, and no address learnt: the seeds (a restart while
			// the others were unreachable).
			for _, a := range s.cfg.Join {
				if !s.rejoining[a] {
					addrs = append(addrs, a)
				}
			}
		}
		if s.rejoining == nil {
			s.rejoining = map[string]bool{}
		}
		for _, a := range addrs {
			s.rejoining[a] = true
		}
		s.mu.Unlock()
		// Outside the lock: memberlist's callbacks take it.
		for _, a := range addrs {
			go func() {
				ml.Join([]string{a})
				s.mu.Lock()
				delete(s.rejoining, a)
				s.mu.Unlock()
			}()
		}
	}
}

// aliveCount is how many sentinels memberlist sees alive, this one
// included; under the lock.
func (s *Sentinel) aliveCount() int { return len(s.alive) + 1 }

func (s *Sentinel) startGossip() error {
	c := memberlist.DefaultLANConfig()
	c.Name = s.st.MyID
	c.BindAddr = s.cfg.Bind
	c.BindPort = s.cfg.GossipPort
	c.AdvertiseAddr = s.cfg.GossipAnnounceIP
	c.AdvertisePort = s.cfg.GossipPort
	if s.cfg.GossipAnnouncePort != 0 {
		c.AdvertisePort = s.cfg.GossipAnnouncePort
	}
	// Sized by what memberlist sees alive; the callback may take s.mu,
	// as memberlist's others do.
	s.broadcasts = &memberlist.TransmitLimitedQueue{NumNodes: func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.aliveCount()
	}, RetransmitMult: 4}
	c.Delegate = delegate{s}
	c.Events = events{s}
	c.Conflict = conflicts{s}
	c.Logger = log.New(&logging.Memberlist{Log: s.log.Named("gossip"), Quiet: time.Minute}, "", 0)
	c.GossipInterval = 100 * time.Millisecond
	c.ProbeInterval = 500 * time.Millisecond
	// A full state exchange with one peer this often: the backstop for
	// a configuration message lost on the way, and how a sentinel back
	// at a new address is heard again (below).
	c.PushPullInterval = 5 * time.Second
	// A sentinel restarted from its state file at a new address (a
	// rescheduled pod) keeps its id: once the others take the old
	// address for dead, the id may move. memberlist's default refuses
	// that until it forgets the dead node, 30 s later.
	c.DeadNodeReclaimTime = time.Second
	// A keyring even without keys: memberlist encrypts once it holds
	// one, so a SIGHUP can turn encryption on without a restart.
	var primary []byte
	if keys := s.cfg.GossipKeys; len(keys) > 0 {
		primary = keys[0]
	} else if ip := net.ParseIP(s.cfg.Bind); ip == nil || !ip.IsLoopback() {
		s.log.Warn("the gossip is not encrypted: anyone who can reach the gossip port can change the master the sentinels name; set --gossip-key", zap.Int("gossip_port", s.cfg.GossipPort))
	}
	kr, err := memberlist.NewKeyring(s.cfg.GossipKeys, primary)
	if err != nil {
		return fmt.Errorf("gossip keys: %w", err)
	}
	c.Keyring = kr
	s.mu.Lock()
	s.keyring = kr
	s.mu.Unlock()
	ml, err := memberlist.Create(c)
	if err != nil {
		return fmt.Errorf("starting gossip on port %d: %w", s.cfg.GossipPort, err)
	}
	s.ml = ml
	go s.rejoinLoop(s.ctx, ml)
	if seeds := s.cfg.Join; len(seeds) > 0 {
		go func() {
			for i := 0; i < 50; i++ {
				if n, err := ml.Join(seeds); err == nil && n > 0 {
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
		}()
	}
	return nil
}

// learn records a peer and adopts any newer group configuration it has.
func (s *Sentinel) learn(meta []byte) {
	var m nodeMeta
	if json.Unmarshal(meta, &m) != nil || !m.valid() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.ID == s.st.MyID {
		return
	}
	changed := false
	if s.st.Peers[m.ID] != m.Addr {
		s.st.Peers[m.ID] = m.Addr
		changed = true
		s.log.Info("+sentinel", zap.String("id", m.ID), zap.String("addr", m.Addr))
	}
	s.setPeer(m.ID, m.Addr)
	for name, c := range m.Configs {
		g := s.grps[name]
		gc := s.st.Groups[name]
		if g == nil || gc == nil || c.Epoch <= gc.ConfigEpoch {
			continue
		}
		s.log.Info("+config-update-from", zap.String("sentinel", m.ID), zap.String("group", name), zap.Uint64("epoch", c.Epoch))
		s.switchMaster(g, c.Host, c.Port, c.Epoch)
		changed = true
	}
	if changed {
		s.persist()
	}
}

// setPeer records the RESP address of peer id, with a client to ask it
// for votes; under the lock.
func (s *Sentinel) setPeer(id, addr string) {
	if p := s.peers[id]; p == nil || p.addr != addr {
		if p != nil {
			p.client.Close()
		}
		user, pass := s.peerAuth()
		s.peers[id] = &peer{id: id, addr: addr, client: redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true,
			Username: user, Password: pass, DialTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, MaxRetries: -1, PoolSize: 2})}
	}
}

// gossipConfig spreads group's changed configuration, or with "" this
// sentinel's changed address; under the lock.
func (s *Sentinel) gossipConfig(group string) {
	if s.ml == nil {
		return // not gossiping yet (or in a unit test)
	}
	ml, me := s.ml, s.st.MyID
	go func() {
		// Straight to every member first: gossip reaches them only over
		// the next few gossip intervals (about 100 ms on loopback in
		// the e2e logs), while they keep naming the old master to
		// clients and may stand against it themselves. The broadcast
		// follows for any member these datagrams miss, and push/pull
		// for any the broadcast misses.
		msg := s.configMessage(group)
		for _, n := range ml.Members() {
			if n.Name == me {
				continue
			}
			if len(msg) <= maxDatagram {
				ml.SendBestEffort(n, msg)
			} else {
				ml.SendReliable(n, msg)
			}
		}
		if group != "" && len(msg) <= maxDatagram {
			s.broadcasts.QueueBroadcast(configBroadcast{group, msg})
		}
		ml.UpdateNode(time.Second)
	}()
}

// maxDatagram bounds a configuration message sent as one UDP datagram
// (memberlist's packets are 1400 bytes, with its own headers and, with a
// gossip key, the encryption's); a group with a name too long for it is
// sent over TCP, and reaches members that miss that by push/pull.
const maxDatagram = 1100

// switchMaster adopts a new master for g at config epoch; under the lock.
func (s *Sentinel) switchMaster(g *group, host string, port int, epoch uint64) {
	gc := s.st.Groups[g.cfg.Name]
	old := g.master
	oldHost, oldPort := old.host, old.port
	gc.ConfigEpoch, gc.Host, gc.Port = epoch, host, port
	if oldHost == host && oldPort == port {
		return
	}
	newAddr := net.JoinHostPort(host, strconv.Itoa(port))
	nm := g.replicas[newAddr]
	if nm == nil {
		nm = s.newInstance(host, port, g)
		s.startProbe(g, nm)
	}
	if g.reconf != nil && g.reconf.promoted != nm {
		// A newer configuration replaces the one being rolled out.
		g.reconf = nil
	}
	delete(g.replicas, newAddr)
	// Its role is judged afresh from now on (it may still report
	// role:slave until its next INFO).
	nm.roleTime = time.Now()
	// The old master stays known as a replica, to be converted when it
	// comes back.
	g.replicas[old.addr()] = old
	g.master = nm
	s.recordReplicas(g)
	g.sdownSince, g.odown, g.failing, g.forced = time.Time{}, false, nil, false
	g.failedAttempts = 0
	// An election opened against the old master ends too: won after the
	// switch, it would fail over the new master, which none of its
	// voters saw down.
	g.votes = nil
	g.downVotes = map[string]time.Time{}
	// Clients move to the new master once this configuration would
	// survive our crash.
	s.persist()
	msg := fmt.Sprintf("%s %s %d %s %d", g.cfg.Name, oldHost, oldPort, host, port)
	s.whenDurable(func() { s.event("+switch-master", msg) })
}

// grantedElsewhere reports whether a lease this sentinel granted to
// another node of g may still be in force (with a tenth of the lease as
// margin for clock-rate drift). Until it has run out we do not renew in,
// so our grants to two nodes never overlap and two majorities can never
// both hold a lease: two writable masters would need a sentinel in both.
// A restarted sentinel does not remember its grants' times, only the
// node they went to (the state file's lease holder): it renews any other
// node only once a lease from its previous life has run out (a SIGTERM
// and restart takes about 300 ms, less than a 500 ms lease). Under the
// lock.
func (s *Sentinel) grantedElsewhere(g *group, in *instance, lease time.Duration, now time.Time) bool {
	if gc := s.st.Groups[g.cfg.Name]; now.Before(s.started.Add(lease+lease/10)) && (gc == nil || gc.LeaseHolder != in.addr()) {
		return true
	}
	for _, x := range g.instances() {
		if x != in && !x.grantEnd.IsZero() && now.Before(x.grantEnd.Add(lease/10)) {
			return true
		}
	}
	return false
}

// startProbe runs the PING/INFO loop of an instance.
// Under the lock; g.ctx must be set.
func (s *Sentinel) startProbe(g *group, in *instance) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		var lastInfo time.Time
		for {
			s.mu.Lock()
			doubt := !g.sdownSince.IsZero() || g.failing != nil || g.odown || g.reconf != nil
			downAfter := g.cfg.DownAfter
			pingPeriod, infoPeriod, fastPeriod := s.tm.get(paramPing), s.tm.get(paramInfo), s.tm.get(paramAsk)
			s.mu.Unlock()
			// Ping at least ten times per down-after period, so a dead
			// master is noticed within down-after plus a tenth.
			period := min(pingPeriod, max(downAfter/10, 10*time.Millisecond))
			if doubt {
				period = min(period, fastPeriod)
			}
			select {
			case <-in.stop:
				return
			case <-g.ctx.Done():
				return
			case <-time.After(period):
			}
			// The master's liveness probe is the lease renewal itself: the
			// master starts the lease when the request arrives, before we
			// receive its reply and count it as alive, so the lease ends
			// before our down-after could, whatever the network delay.
			s.mu.Lock()
			if g.ctx.Err() != nil {
				// Removed while we slept (stopGroup cancels under the lock).
				s.mu.Unlock()
				return
			}
			isMaster := g.master == in
			voters := len(s.st.Peers) + 1
			epoch := s.st.Groups[g.cfg.Name].ConfigEpoch
			lease := max(downAfter/2, time.Millisecond)
			useLease := isMaster && !in.noLease && !s.grantedElsewhere(g, in, lease, time.Now())
			token := in.leaseToken
			client := in.client
			if useLease && !in.tokenAt.IsZero() {
				// Counted before sending: a renewal that times out may
				// still have been granted.
				in.grantEnd = in.tokenAt.Add(lease)
			}
			if gc := s.st.Groups[g.cfg.Name]; useLease && gc != nil && gc.LeaseHolder != in.addr() {
				gc.LeaseHolder = in.addr()
				s.persist()
				in.holderVer = s.ver
			}
			holderVer := in.holderVer
			s.mu.Unlock()
			if useLease && s.saved.Load() < holderVer && s.syncState() != nil {
				// Not durable yet: a PING instead of a renewal until it is.
				useLease = false
			}
			ctx, cancel := context.WithTimeout(g.ctx, 500*time.Millisecond)
			var err error
			renewed := false
			if useLease {
				var next int64
				next, err = client.Do(ctx, "LEASE", "RENEW", s.st.MyID, voters, lease.Milliseconds(), epoch, token).Int64()
				switch {
				case err == nil:
					renewed = true
					s.mu.Lock()
					in.leaseToken, in.tokenAt = next, time.Now()
					s.mu.Unlock()
				case strings.Contains(err.Error(), "unknown command"):
					// Not a vigil node: plain PINGs from now on.
					s.mu.Lock()
					in.noLease = true
					s.mu.Unlock()
					err = client.Ping(ctx).Err()
				case strings.HasPrefix(err.Error(), "ERR LEASE RENEW sent to a replica"):
					err = nil // alive; INFO will tell its role
				}
			} else {
				err = client.Ping(ctx).Err()
			}
			cancel()
			now := time.Now()
			ok := err == nil || strings.HasPrefix(err.Error(), "LOADING") || strings.HasPrefix(err.Error(), "MASTERDOWN")
			if renewed {
				s.mu.Lock()
				in.lastLease = now
				s.mu.Unlock()
			}
			ip := infoPeriod
			s.mu.Lock()
			// A node we know as a replica that last reported itself master
			// (the old master coming back) is checked at once, so it is
			// demoted within a second of answering again.
			suspect := g.master != in && in.role != "slave"
			s.mu.Unlock()
			if doubt || suspect {
				ip = fastPeriod
			}
			var info string
			if ok && now.Sub(lastInfo) >= ip {
				ctx, cancel := context.WithTimeout(g.ctx, 500*time.Millisecond)
				info, err = client.Info(ctx, "replication").Result()
				cancel()
				if err == nil {
					lastInfo = now
				}
			}
			s.mu.Lock()
			if g.ctx.Err() != nil {
				s.mu.Unlock()
				return
			}
			if ok {
				if in.lastOK.IsZero() || now.Sub(in.lastOK) > g.cfg.DownAfter {
					in.upSince = now // back from down (or first seen)
				}
				in.lastOK = now
			}
			if info != "" {
				s.parseInfo(g, in, info, now)
			}
			s.mu.Unlock()
		}
	}()
}

// parseInfo records INFO replication; under the lock.
func (s *Sentinel) parseInfo(g *group, in *instance, info string, now time.Time) {
	in.infoTime = now
	in.info = info
	in.replicas = in.replicas[:0]
	in.linkDown = 0
	in.linkUp = false
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch {
		case k == "role":
			if in.role != v {
				in.roleTime, in.confChange = now, now
			}
			in.role = v
		case k == "master_host":
			if in.mHost != v {
				in.confChange = now
			}
			in.mHost = v
		case k == "master_port":
			p, _ := strconv.Atoi(v)
			if in.mPort != p {
				in.confChange = now
			}
			in.mPort = p
		case k == "master_link_status":
			in.linkUp = v == "up"
		case k == "slave_repl_offset":
			in.offset, _ = strconv.ParseInt(v, 10, 64)
		case k == "slave_priority":
			in.priority, _ = strconv.Atoi(v)
		case k == "master_link_down_since_seconds":
			n, _ := strconv.Atoi(v)
			in.linkDown = time.Duration(n) * time.Second
		case k == "master_replid" && in.runID == "":
			in.runID = v
		case strings.HasPrefix(k, "slave") && strings.Contains(v, "ip="):
			var ip, port string
			for _, kv := range strings.Split(v, ",") {
				a, b, _ := strings.Cut(kv, "=")
				switch a {
				case "ip":
					ip = b
				case "port":
					port = b
				}
			}
			if a := net.JoinHostPort(ip, port); validHostPort(a) {
				in.replicas = append(in.replicas, a)
			}
		}
	}
	if in == g.master && in.role == "master" {
		for _, a := range in.replicas {
			if g.replicas[a] == nil {
				host, port, _ := net.SplitHostPort(a)
				p, _ := strconv.Atoi(port)
				r := s.newInstance(host, p, g)
				g.replicas[a] = r
				s.startProbe(g, r)
				s.event("+slave", fmt.Sprintf("slave %s %s %d @ %s %s %d", a, host, p, g.cfg.Name, g.master.host, g.master.port))
			}
		}
	}
	// A replica that reports itself master (the old master come back)
	// while ours is healthy is turned into a replica of ours; one that
	// just turned master is given time for a newer config naming it to
	// arrive (converting it would undo a failover that another sentinel
	// won in a higher epoch, leaving that epoch's master a replica).
	sane := g.sdownSince.IsZero() && g.master.role == "master"
	if in != g.master && in.role == "master" && failover.ShouldConvertToReplica(sane, g.failing != nil, now.Sub(in.roleTime)) {
		m := g.master
		go func() {
			// The fence a failover may have put on it (CLIENT PAUSE
			// WRITE) goes once it follows the new master.
			if in.client.SlaveOf(g.ctx, m.host, strconv.Itoa(m.port)).Err() == nil {
				in.client.Do(g.ctx, "CLIENT", "UNPAUSE")
			}
		}()
		s.event("+convert-to-slave", fmt.Sprintf("slave %s %s %d @ %s %s %d", in.addr(), in.host, in.port, g.cfg.Name, m.host, m.port))
	}
	s.fixSlaveConfig(g, in, now)
	if s.recordReplicas(g) {
		s.persist()
	}
}

// fixSlaveConfig re-points a replica that follows another master than
// the group's, once things are calm (failover.NeedsFixSlaveConfig); under
// the lock.
func (s *Sentinel) fixSlaveConfig(g *group, in *instance, now time.Time) {
	m := g.master
	if in == m || in.role != "slave" {
		return
	}
	sinceFix := time.Duration(1 << 62)
	if !in.lastFix.IsZero() {
		sinceFix = now.Sub(in.lastFix)
	}
	w := failover.WrongMaster{FollowsHost: in.mHost, FollowsPort: in.mPort, MasterHost: m.host, MasterPort: m.port,
		MasterSane: m.role == "master" && g.sdownSince.IsZero(), Failing: g.failing != nil || g.reconf != nil,
		SinceConfigChange: now.Sub(in.confChange), UpFor: now.Sub(in.upSince), SinceLastFix: sinceFix,
		FailoverTimeout: g.cfg.FailoverTimeout}
	if !failover.NeedsFixSlaveConfig(w) {
		return
	}
	in.lastFix = now
	go in.client.SlaveOf(g.ctx, m.host, strconv.Itoa(m.port))
	s.event("+fix-slave-config", fmt.Sprintf("slave %s %s %d @ %s %s %d", in.addr(), in.host, in.port, g.cfg.Name, m.host, m.port))
}

// rng is the sentinel's source of random delays, seeded from the
// system's randomness; under the lock.
func (s *Sentinel) rng() *mrand.Rand {
	if s.rand == nil {
		var seed [32]byte
		rand.Read(seed[:])
		s.rand = mrand.New(mrand.NewChaCha8(seed))
	}
	return s.rand
}

// timing is g's election timing.
func (g *group) timing() failover.ElectionTiming {
	return failover.DefaultElectionTiming(g.cfg.FailoverTimeout)
}

// tick runs the per-group state machines every fastPeriod.
func (s *Sentinel) tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	// A stall of the process (on the monotonic clock) or a jump of the
	// wall clock of more than tiltTrigger either way is a reason to
	// distrust what was measured. Redis tilts on any backward step too;
	// every timeout here runs on the monotonic clock, so a small NTP step
	// changes nothing and does not stop failovers for 30 s.
	if !s.lastTick.IsZero() {
		stall := now.Sub(s.lastTick)
		jump := now.Round(0).Sub(s.lastTick.Round(0)) - stall
		trigger := s.tm.get(paramTiltTrigger)
		if stall > trigger || jump > trigger || jump < -trigger {
			if !s.tilted(now) {
				s.event("+tilt", "#tilt mode entered")
			}
			s.tiltUntil = now.Add(s.tm.get(paramTiltPeriod))
		}
	}
	s.lastTick = now
	tilt := s.tilted(now)
	if !tilt && !s.tiltUntil.IsZero() {
		s.tiltUntil = time.Time{}
		s.event("-tilt", "#tilt mode exited")
	}
	for _, g := range s.grps {
		s.checkDown(g, now)
		if !tilt {
			s.drive(g, now)
		}
	}
	s.forget(now, tilt)
}

// tilted reports whether TILT mode is on; under the lock.
func (s *Sentinel) tilted(now time.Time) bool { return now.Before(s.tiltUntil) }

// checkDown updates SDOWN and ODOWN; under the lock.
func (s *Sentinel) checkDown(g *group, now time.Time) {
	m := g.master
	last := m.lastOK
	if last.IsZero() {
		last = now // not probed yet
		m.lastOK = now
	}
	down := now.Sub(last) > g.cfg.DownAfter
	// As Redis: a master that has reported role:slave for down-after
	// plus two INFO periods is down too (it was demoted behind our back,
	// or a failover we lost left it a replica), so a failover can repair
	// the group instead of sending clients to a read-only node.
	if m.role == "slave" && now.Sub(m.roleTime) > g.cfg.DownAfter+2*s.tm.get(paramInfo) {
		down = true
	}
	switch {
	case down && g.sdownSince.IsZero():
		g.sdownSince = now
		s.event("+sdown", fmt.Sprintf("master %s %s %d", g.cfg.Name, m.host, m.port))
	case !down && !g.sdownSince.IsZero():
		g.sdownSince = time.Time{}
		// The next incident starts with the shortest retry window.
		g.failedAttempts = 0
		s.event("-sdown", fmt.Sprintf("master %s %s %d", g.cfg.Name, m.host, m.port))
		if g.odown {
			g.odown = false
			s.event("-odown", fmt.Sprintf("master %s %s %d", g.cfg.Name, m.host, m.port))
		}
	}
	if g.sdownSince.IsZero() {
		return
	}
	if now.Sub(g.lastAsk) >= s.tm.get(paramAsk) {
		g.lastAsk = now
		s.askPeers(g, "*", s.st.CurrentEpoch)
	}
	n := 1
	for _, at := range g.downVotes {
		if now.Sub(at) < 5*s.tm.get(paramPing) {
			n++
		}
	}
	if !g.odown && n >= g.cfg.Quorum {
		g.odown, g.odownSince = true, now
		s.event("+odown", fmt.Sprintf("master %s %s %d #quorum %d/%d", g.cfg.Name, m.host, m.port, n, g.cfg.Quorum))
		// Never shorter than a wait already set: after voting for another
		// sentinel, we leave it time to fail over before trying ourselves
		// (an early attempt meant a second failover in a higher epoch).
		if at := now.Add(g.timing().FirstAttempt(s.rng())); at.After(g.nextAttempt) {
			g.nextAttempt = at
		}
	}
}

// confirmedByMajority reports whether this sentinel may still name g's
// master to clients: always while it sees the master up; while it sees
// it subjectively down, only if enough known sentinels to make a
// majority with this one said within the last pingPeriod that they see
// it down too (they are asked every fastPeriod then), so that a failover
// cannot have replaced it behind this sentinel's back. A sentinel cut
// off from the others when the master dies would otherwise keep naming
// the old master until memberlist declares the others dead, seconds
// after the majority may have failed over (TestIsolatedSentinel saw
// 1.5 s of stale answers), and again after the partition heals until the
// new configuration arrives (a peer that has moved on answers that the
// old address is not down). The cost: while the master is down and the
// others do not agree yet (or see it up: this sentinel alone is cut off
// from it), this one refuses and clients ask another. Under the lock.
func (s *Sentinel) confirmedByMajority(g *group, now time.Time) bool {
	if g.sdownSince.IsZero() {
		return true
	}
	n := 1
	for id := range s.st.Peers {
		if at, ok := g.downVotes[id]; ok && now.Sub(at) < s.tm.get(paramPing) {
			n++
		}
	}
	return n >= (len(s.st.Peers)+1)/2+1
}

// askPeers sends SENTINEL IS-MASTER-DOWN-BY-ADDR to every peer; runid "*"
// asks only for their opinion, a run id asks for a vote. Under the lock;
// replies come back asynchronously.
func (s *Sentinel) askPeers(g *group, runid string, epoch uint64) {
	m := g.master
	for _, p := range s.peers {
		p := p
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			v, err := p.client.Do(ctx, "SENTINEL", "IS-MASTER-DOWN-BY-ADDR", m.host, m.port, epoch, runid).Slice()
			if err != nil || len(v) != 3 {
				return
			}
			downFlag, _ := v[0].(int64)
			leader, _ := v[1].(string)
			le, _ := v[2].(int64)
			s.mu.Lock()
			defer s.mu.Unlock()
			if g.master != m {
				return
			}
			if downFlag == 1 {
				g.downVotes[p.id] = time.Now()
			} else {
				delete(g.downVotes, p.id)
			}
			if runid != "*" {
				g.recordVote(p.id, epoch, leader, uint64(le))
			}
		}()
	}
}

// recordVote records a peer's answer to our vote request for epoch: its
// vote if it voted in that epoch, else "" (it refused: it does not see
// the master down, or voted in a newer epoch). Either way it has
// answered, and will not vote for us in this epoch (it is asked once),
// so failover.Defeated can tell a split, refused or lost election early
// instead of waiting for the deadline. Under the lock.
func (g *group) recordVote(peer string, epoch uint64, leader string, leaderEpoch uint64) {
	if g.electEpoch != epoch || g.votes == nil {
		return // not this election's
	}
	if leaderEpoch != epoch {
		leader = ""
	}
	g.votes[peer] = leader
}

// drive runs elections and failovers; under the lock.
func (s *Sentinel) drive(g *group, now time.Time) {
	gc := s.st.Groups[g.cfg.Name]
	if g.failing != nil {
		s.stepFailover(g, gc, now)
		return
	}
	if g.reconf != nil {
		s.stepReconf(g, now)
	}
	if g.votes != nil {
		// An election of ours is open: count the votes every tick.
		voters := len(s.st.Peers) + 1
		winner, ok := failover.Tally(g.votes, voters, g.cfg.Quorum)
		if g.forced {
			winner, ok = s.st.MyID, true
		}
		if ok && winner == s.st.MyID && g.announced {
			s.event("+elected-leader", fmt.Sprintf("master %s %s %d", g.cfg.Name, g.master.host, g.master.port))
			if s.simulate.has(simCrashAfterElection) {
				s.crash("crash-after-election")
			}
			// A newer failover supersedes a rollout still running.
			g.reconf = nil
			g.failing = &failoverRun{epoch: g.electEpoch, started: now, oldHost: g.master.host, oldPort: g.master.port,
				coordinated: g.forced && g.sdownSince.IsZero()}
			g.votes = nil
			return
		}
		// Not elected: after a split vote, retry at a higher epoch after
		// a random wait whose window grows with each failure, so
		// candidates that stood at the same moment spread out; beaten
		// by a rival, leave it time to fail over.
		d := failover.Defeated(g.votes, voters, g.cfg.Quorum, s.st.MyID)
		if now.After(g.electDeadline) || (g.announced && !g.forced && d != failover.Open) {
			g.votes = nil
			g.failedAttempts++
			g.nextAttempt = now.Add(g.timing().AfterDefeat(d, g.failedAttempts, s.rng()))
		}
		return
	}
	if !(g.odown || g.forced) || now.Before(g.nextAttempt) {
		return
	}
	if len(g.replicas) == 0 {
		// Nothing we could promote (we have not seen the master's INFO
		// list a replica): standing would only win elections that end in
		// -failover-abort-no-good-slave, epoch after epoch, while a peer
		// that knows the replicas waits for us.
		return
	}
	epoch := gc.Ballot.StartElection(s.st.MyID)
	if epoch <= s.st.CurrentEpoch {
		epoch = s.st.CurrentEpoch + 1
		gc.Ballot.Epoch, gc.Ballot.LeaderEpoch = epoch, epoch
	}
	s.st.CurrentEpoch = epoch
	s.persist()
	g.electEpoch = epoch
	g.votes = map[string]string{s.st.MyID: s.st.MyID}
	g.announced = false
	g.electDeadline = now.Add(max(g.cfg.FailoverTimeout/10, time.Second))
	forced, m := g.forced, g.master
	// Our own vote is durable before anyone is asked (or, for a forced
	// failover, before we act on the epoch).
	s.whenDurable(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.event("+new-epoch", strconv.FormatUint(epoch, 10))
		if g.votes == nil || g.electEpoch != epoch || g.master != m {
			return // ended meanwhile (a newer configuration, RESET, REMOVE)
		}
		g.announced = true
		s.event("+try-failover", fmt.Sprintf("master %s %s %d", g.cfg.Name, m.host, m.port))
		if !forced {
			s.askPeers(g, s.st.MyID, epoch)
		}
	})
}

// selectReplica is the replica of g a failover would promote now, or nil
// with why each one is left out; under s.mu.
func (s *Sentinel) selectReplica(g *group, now time.Time) (*instance, []failover.Exclusion) {
	var cands []failover.Replica
	var insts []*instance
	masterDown := time.Duration(0)
	if !g.sdownSince.IsZero() {
		masterDown = now.Sub(g.sdownSince)
	}
	for _, r := range g.replicas {
		cands = append(cands, failover.Replica{Addr: r.addr(), RunID: r.runID, Priority: r.priority, Offset: r.offset,
			Down: now.Sub(r.lastOK) > g.cfg.DownAfter, SincePingReply: now.Sub(r.lastOK), InfoAge: now.Sub(r.infoTime),
			MasterLinkDown: r.linkDown, Disconnected: r.role == "" || r.lastOK.IsZero()})
		insts = append(insts, r)
	}
	i, excluded := failover.SelectReplica(cands, failover.Params{PingPeriod: s.tm.get(paramPing), InfoPeriod: s.tm.get(paramInfo), DownAfter: g.cfg.DownAfter, MasterDown: masterDown})
	if i < 0 {
		return nil, excluded
	}
	return insts[i], excluded
}

// stepFailover advances the leader's failover; under the lock.
func (s *Sentinel) stepFailover(g *group, gc *groupConfig, now time.Time) {
	f := g.failing
	if now.Sub(f.started) > g.cfg.FailoverTimeout {
		s.event("-failover-abort-timeout", fmt.Sprintf("master %s %s %d", g.cfg.Name, f.oldHost, f.oldPort))
		g.failing = nil
		g.failedAttempts++
		g.nextAttempt = now.Add(g.timing().Retry(g.failedAttempts, s.rng()))
		return
	}
	if f.promoted == nil && !f.coordinated {
		// A forced failover of a master we may still have renewed waits
		// until that lease has run out.
		if wait := g.cfg.DownAfter/2 - now.Sub(g.master.lastLease); !g.master.lastLease.IsZero() && wait > 0 {
			return
		}
	}
	if f.promoted == nil {
		if f.selectSince.IsZero() {
			f.selectSince = now
			s.event("+failover-state-select-slave", fmt.Sprintf("master %s %s %d", g.cfg.Name, f.oldHost, f.oldPort))
		}
		p, excluded := s.selectReplica(g, now)
		if failover.AwaitFreshInfo(excluded, now.Sub(f.selectSince), freshInfoWait) {
			return // the replicas' INFO is polled every ASK-PERIOD meanwhile
		}
		if p == nil {
			reasons := make([]string, len(excluded))
			for j, e := range excluded {
				reasons[j] = e.String()
			}
			s.event("-failover-abort-no-good-slave", fmt.Sprintf("master %s %s %d: %s", g.cfg.Name, f.oldHost, f.oldPort, strings.Join(reasons, "; ")))
			g.failing = nil
			g.nextAttempt = now.Add(time.Second)
			return
		}
		f.promoted = p
		s.event("+selected-slave", fmt.Sprintf("slave %s %s %d @ %s %s %d", p.addr(), p.host, p.port, g.cfg.Name, f.oldHost, f.oldPort))
		s.event("+failover-state-send-slaveof-noone", fmt.Sprintf("slave %s %s %d @ %s %s %d", p.addr(), p.host, p.port, g.cfg.Name, f.oldHost, f.oldPort))
		if f.coordinated {
			m := g.master
			go func() {
				// The new master must not take writes before a majority
				// of us renewed its lease (see promote in the node).
				p.client.Do(context.Background(), "LEASE", "REQUIRE")
				m.client.Do(context.Background(), "FAILOVER", "TO", p.host, p.port, "TIMEOUT", g.cfg.FailoverTimeout.Milliseconds()/2)
			}()
		} else {
			if m := g.master; m != nil && m != p && m.client != nil {
				// Fence the old master in case it is still reachable by
				// some clients (a partition that cut it from the
				// sentinels): best effort, and not waited for, since it
				// is usually dead. A redis-server has no lease, so this
				// is its only fence until it is converted (which
				// unpauses it, within about a second of it answering).
				// Bounded, so an attempt that aborts leaves a live
				// master paused for seconds, not failover-timeout.
				ms := min(g.cfg.FailoverTimeout, max(2*g.cfg.DownAfter, 2*time.Second)).Milliseconds()
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
					defer cancel()
					m.client.Do(ctx, "CLIENT", "PAUSE", ms, "WRITE")
				}()
			}
			go p.client.Pipelined(context.Background(), func(pipe redis.Pipeliner) error {
				// In order on one connection: the lease is required
				// before the promotion (a redis-server answers the first
				// with an error and promotes all the same).
				pipe.Do(context.Background(), "LEASE", "REQUIRE")
				pipe.SlaveOf(context.Background(), "NO", "ONE")
				return nil
			})
		}
		s.event("+failover-state-wait-promotion", fmt.Sprintf("slave %s %s %d @ %s %s %d", p.addr(), p.host, p.port, g.cfg.Name, f.oldHost, f.oldPort))
		return
	}
	p := f.promoted
	if p.role != "master" {
		return // INFO polling at the fast period will tell
	}
	s.event("+promoted-slave", fmt.Sprintf("slave %s %s %d @ %s %s %d", p.addr(), p.host, p.port, g.cfg.Name, f.oldHost, f.oldPort))
	s.event("+failover-state-reconf-slaves", fmt.Sprintf("master %s %s %d", g.cfg.Name, f.oldHost, f.oldPort))
	s.startReconf(g, p, f.oldHost, f.oldPort, now)
	s.switchMaster(g, p.host, p.port, f.epoch)
	r := g.reconf
	// The new configuration is gossiped, and the other replicas are
	// re-pointed, once it is durable.
	s.whenDurable(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.gossipConfig(g.cfg.Name)
		if s.simulate.has(simCrashAfterPromotion) {
			s.crash("crash-after-promotion")
		}
		if g.reconf == r && r != nil {
			r.announced = true
			// The first replicas are sent REPLICAOF at once.
			s.stepReconf(g, time.Now())
		}
	})
}

// isMasterDown answers SENTINEL IS-MASTER-DOWN-BY-ADDR: whether we see
// the master down, and (for a vote request) our vote.
func (s *Sentinel) isMasterDown(host string, port int, epoch uint64, runid string) (int64, string, uint64) {
	s.mu.Lock()
	for _, g := range s.grps {
		m := g.master
		if m.host != host || m.port != port {
			continue
		}
		down := !g.sdownSince.IsZero()
		gc := s.st.Groups[g.cfg.Name]
		if runid == "*" {
			s.mu.Unlock()
			return int64(boolInt(down)), "*", 0
		}
		// A candidate's first request for a new epoch means an election
		// is under way, whether or not we vote in it (we refuse while we
		// do not see the master down ourselves).
		news := epoch > gc.Ballot.Epoch
		leader, le, changed := gc.Ballot.Vote(epoch, runid, down)
		if epoch > s.st.CurrentEpoch {
			s.st.CurrentEpoch = epoch
			changed = true
		}
		voted := le == epoch && leader == runid
		if changed {
			s.persist()
		}
		if runid != s.st.MyID && (voted || news) {
			// Let that candidate work before trying ourselves (Redis's
			// desync delay). Also when we did not vote: otherwise a
			// sentinel that saw the master down a moment too late for the
			// vote starts the next epoch at once and promotes a second
			// replica while the first failover runs (seen in the
			// leader-kill drill).
			if start := time.Now().Add(g.timing().YieldTo(s.rng())); start.After(g.nextAttempt) {
				g.nextAttempt = start
			}
		}
		s.mu.Unlock()
		// Durable before the vote leaves (and before +vote-for-leader):
		// a vote our restart could forget is no vote.
		if le != 0 {
			if err := s.syncState(); err != nil {
				s.log.Error("saving the state file: the vote is withheld", zap.Error(err))
				return int64(boolInt(down)), "*", 0
			}
		}
		if changed && voted {
			s.event("+vote-for-leader", fmt.Sprintf("%s %d", leader, le))
		}
		if leader == "" {
			leader = "*"
		}
		return int64(boolInt(down)), leader, le
	}
	s.mu.Unlock()
	return 0, "*", 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// event logs and publishes a sentinel event.
func (s *Sentinel) event(typ, msg string) {
	s.log.Info(typ, zap.String("event", msg))
	s.subs.publish(typ, msg)
}

// peerList returns the known peers sorted by id; under the lock.
func (s *Sentinel) peerList() []*peer {
	out := make([]*peer, 0, len(s.peers))
	for _, p := range s.peers {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// inMajority reports whether this sentinel reaches a majority of the
// known sentinels (itself included); under the lock.
func (s *Sentinel) inMajority() bool {
	voters := len(s.st.Peers) + 1
	return s.aliveCount() >= voters/2+1
}
