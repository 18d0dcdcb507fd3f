package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/vigilkv/vigil/internal/handoff"
	"github.com/vigilkv/vigil/internal/resp"
	"github.com/vigilkv/vigil/node/lease"
)

// In-place binary upgrade, the old process's side. The running server
// starts the new binary with the same arguments and talks to it over a
// unix socket pair (internal/handoff):
//
//  1. the new process checks its configuration and reports ready;
//  2. it becomes a hidden replica of this one over a second socket pair
//     (full sync from the no-fork snapshot, then the live stream) while
//     this process keeps serving;
//  3. commit: clients stop at their next command boundary (parking),
//     the new process catches up to the final offset, and the listeners
//     and every parked connection travel by SCM_RIGHTS with the client's
//     state and unread input;
//  4. the new process serves them and confirms; this one exits.
//
// Until the new process confirms, this one can resume exactly where it
// stopped: any failure costs a slow reply, never a lost connection.

// upgradeKey is the pseudo key the UPGRADE command's client blocks on.
const upgradeKey = "\x00upgrade"

// upgradeState is the server's part in an upgrade.
type upgradeState struct {
	// cur is the upgrade in progress; under the server lock.
	cur *upgradeRun
	// parking makes clients stop at their next command boundary; read
	// without the lock on the read path.
	parking atomic.Bool
	// stopAccept makes the accept loops return without closing their
	// listeners (they are being handed over).
	stopAccept atomic.Bool
	// handedOver: the new process serves; exit without the final save.
	handedOver atomic.Bool
	// Figures for INFO server: upgrades this server went through (carried
	// from process to process), the last attempt's outcome and pause.
	count      int64
	lastStatus string
	lastPause  time.Duration
	step       string
	acceptors  sync.WaitGroup
	// admitting counts accepted connections not yet registered, so the
	// commit sees every client.
	admitting sync.WaitGroup
}

// upgradeRun is one upgrade attempt.
type upgradeRun struct {
	binary string
	caller *Client // UPGRADE's client, answered at the commit point
	ctrl   *handoff.Conn
	cmd    *exec.Cmd
	exited chan struct{}
	link   *Client // the new process's replication link, served here

	parked  chan *Client
	resume  chan struct{} // closed: parked clients go on here
	release chan struct{} // closed: parked clients now belong to the new process
}

// upgradeMsg is every message on the control channel.
type upgradeMsg struct {
	Type    string         `json:"type"` // ready, error, sync, synced, catchup, caughtup, clients, commit, serving
	Error   string         `json:"error,omitempty"`
	Offset  int64          `json:"offset,omitempty"`
	Listen  []string       `json:"listen,omitempty"` // listener addresses; their fds come first
	Clients []handedClient `json:"clients,omitempty"`
	Commit  *upgradeCommit `json:"commit,omitempty"`
}

// handedClient is one connection's state as it moves to the new process.
type handedClient struct {
	ID            int64    `json:"id"`
	Name          string   `json:"name,omitempty"`
	LibName       string   `json:"lib_name,omitempty"`
	LibVer        string   `json:"lib_ver,omitempty"`
	User          string   `json:"user"`
	Authenticated bool     `json:"auth"`
	DB            int      `json:"db"`
	Proto         int      `json:"proto"`
	Flags         int      `json:"flags"`
	CreatedMs     int64    `json:"created_ms"`
	Unread        []byte   `json:"unread,omitempty"`
	Out           []byte   `json:"out,omitempty"`
	Subs          []string `json:"subs,omitempty"`
	PSubs         []string `json:"psubs,omitempty"`
	SSubs         []string `json:"ssubs,omitempty"`
	// Queued is a MULTI's queued commands.
	Queued [][][]byte `json:"queued,omitempty"`
}

// upgradeCommit is the server state the new process continues from.
type upgradeCommit struct {
	Upgrades     int64  `json:"upgrades"`
	PauseMs      int64  `json:"pause_ms"`
	RunID        string `json:"run_id"`
	ReplID       string `json:"replid"`
	ReplID2      string `json:"replid2"`
	Offset       int64  `json:"offset"`
	SecondOffset int64  `json:"second_offset"`
	MasterHost   string `json:"master_host,omitempty"`
	MasterPort   int    `json:"master_port,omitempty"`
	NextClientID int64  `json:"next_client_id"`
	// SentUnixNano is when the lease figures were read, so the new
	// process can subtract the time in transit.
	SentUnixNano int64           `json:"sent_unix_nano"`
	Lease        *lease.Snapshot `json:"lease,omitempty"`
	Stats        *handedCounts   `json:"stats,omitempty"`
	// AOF: the AOF is on; the new process appends to the same files.
	AOF bool `json:"aof"`
	// Config is the running configuration, with CONFIG SET changes.
	Config json.RawMessage `json:"config,omitempty"`
}

// handedCounts carries the counters users watch across an upgrade.
type handedCounts struct {
	ConnectionsReceived int64 `json:"connections_received"`
	CommandsProcessed   int64 `json:"commands_processed"`
	SyncFull            int64 `json:"sync_full"`
	SyncPartialOK       int64 `json:"sync_partial_ok"`
	SyncPartialErr      int64 `json:"sync_partial_err"`
	StartUnix           int64 `json:"start_unix"`
}

// Upgrade replaces this process by binary (empty: the executable it was
// started from, looked up again so a replaced file is picked up), as the
// package comment above describes. It returns once the new process serves
// (and this one is shutting down) or the attempt failed and this process
// goes on serving.
func (s *Server) Upgrade(binary string) error {
	return s.upgradeWith(binary, nil)
}

func (s *Server) upgradeWith(binary string, caller *Client) (err error) {
	if binary == "" {
		binary = s.exe
	}
	if binary == "" {
		return errors.New("ERR the path of this server's executable is unknown: use UPGRADE BINARY path")
	}
	binary, err = filepath.Abs(binary)
	if err != nil {
		return fmt.Errorf("ERR resolving the new binary: %v", err)
	}
	if st, err := os.Stat(binary); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("ERR the new binary %s is missing or not executable", binary)
	}
	s.mu.Lock()
	if s.upgrade.cur != nil {
		s.mu.Unlock()
		return errors.New("ERR an upgrade is already in progress")
	}
	if s.persist.loading.Load() || s.closing.Load() {
		s.mu.Unlock()
		return errors.New("ERR cannot upgrade while loading or shutting down")
	}
	u := &upgradeRun{binary: binary, caller: caller, exited: make(chan struct{}), parked: make(chan *Client, 64),
		resume: make(chan struct{}), release: make(chan struct{})}
	s.upgrade.cur = u
	s.mu.Unlock()
	start := time.Now()
	s.setUpgradeStep("starting")
	s.log.Info("upgrade: starting the new binary", zap.String("binary", binary))
	committed := false
	defer func() {
		if err != nil && !committed {
			s.abortUpgrade(u, err)
		}
	}()
	if err := s.startUpgradeChild(u); err != nil {
		return err
	}
	s.setUpgradeStep("syncing")
	if err := s.upgradeSync(u); err != nil {
		return err
	}
	s.setUpgradeStep("committing")
	moved, closed, err := s.upgradeCommit(u, &committed)
	if err != nil {
		if committed {
			s.resumeAfterCommit(u, err)
		}
		return err
	}
	s.log.Info("upgrade: the new process serves; this one exits",
		zap.Int("clients_moved", moved), zap.Int("clients_closed", closed), zap.Duration("took", time.Since(start)))
	return nil
}

// startUpgradeChild starts the new binary and waits for it to be ready.
func (s *Server) startUpgradeChild(u *upgradeRun) error {
	ctrl, theirs, err := handoff.Pair()
	if err != nil {
		return fmt.Errorf("ERR %v", err)
	}
	u.ctrl = ctrl
	cmd := exec.Command(u.binary, s.args...)
	cmd.Env = append(os.Environ(), handoff.EnvFD+"=3")
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err = cmd.Start()
	theirs.Close()
	if err != nil {
		return fmt.Errorf("ERR starting %s: %v", u.binary, err)
	}
	u.cmd = cmd
	go func() {
		cmd.Wait()
		close(u.exited)
	}()
	ctrl.SetDeadline(time.Now().Add(30 * time.Second))
	var m upgradeMsg
	if _, err := ctrl.Recv(&m); err != nil {
		return fmt.Errorf("ERR the new process did not report ready: %v", s.childFate(u, err))
	}
	if m.Type != "ready" {
		return fmt.Errorf("ERR the new process refused to take over: %s", m.Error)
	}
	return nil
}

// childFate explains a broken control channel, with the child's exit
// status when it exited.
func (s *Server) childFate(u *upgradeRun, err error) error {
	select {
	case <-u.exited:
		return fmt.Errorf("it exited (%v)", u.cmd.ProcessState)
	case <-time.After(200 * time.Millisecond):
		return err
	}
}

// upgradeSync gives the new process the dataset the way a replica gets
// it, over a private socket pair, and waits until it streams.
func (s *Server) upgradeSync(u *upgradeRun) error {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("ERR creating the replication socket pair: %v", err)
	}
	mineF := os.NewFile(uintptr(fds[0]), "upgrade-link")
	mine, err := net.FileConn(mineF)
	mineF.Close()
	if err != nil {
		syscall.Close(fds[1])
		return fmt.Errorf("ERR %v", err)
	}
	err = u.ctrl.Send(upgradeMsg{Type: "sync"}, fds[1])
	syscall.Close(fds[1])
	if err != nil {
		mine.Close()
		return fmt.Errorf("ERR %v", s.childFate(u, err))
	}
	cl := newClient(s, mine)
	cl.Authenticated = true
	cl.rd.Unauthenticated = false
	cl.upgradeLink = true
	s.mu.Lock()
	s.clients[cl.ID] = cl
	s.numConns.Add(1)
	u.link = cl
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.serveClient(cl)
	}()
	// A full sync of a big dataset takes a while; the child reports
	// failure or success, and its death ends the wait.
	u.ctrl.SetDeadline(time.Now().Add(time.Duration(max(s.cfg.ReplTimeout, 60)) * 5 * time.Second))
	var m upgradeMsg
	if _, err := u.ctrl.Recv(&m); err != nil {
		return fmt.Errorf("ERR the new process did not finish its sync: %v", s.childFate(u, err))
	}
	if m.Type != "synced" {
		return fmt.Errorf("ERR the new process failed to sync: %s", m.Error)
	}
	s.log.Info("upgrade: the new process has the dataset and follows the stream", zap.Int64("offset", m.Offset))
	return nil
}

// upgradeCommit parks the clients, lets the new process catch up, and
// hands everything over. committed is set once the fds went out.
func (s *Server) upgradeCommit(u *upgradeRun, committed *bool) (moved, closed int, err error) {
	// Let the new process catch up while clients are still served, so the
	// pause only covers the last few milliseconds of writes.
	for round := 0; round < 50; round++ {
		s.mu.Lock()
		target := s.repl.offset
		s.mu.Unlock()
		t0 := time.Now()
		if err := s.upgradeCatchUp(u, target, t0.Add(time.Minute)); err != nil {
			return 0, 0, err
		}
		if time.Since(t0) < 5*time.Millisecond {
			break
		}
	}
	budget := time.Duration(s.cfg.UpgradePauseTimeout) * time.Millisecond
	pauseStart := time.Now()
	deadline := pauseStart.Add(budget)
	expected := s.beginParking(u)
	// Wait for every client to reach a command boundary (UPGRADE's own
	// client waits for its reply, below).
	want := len(expected)
	if expected[u.caller] {
		want--
	}
	parked := make(map[*Client]bool, len(expected))
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for len(parked) < want {
		select {
		case cl := <-u.parked:
			parked[cl] = true
		case <-timer.C:
			goto collected
		case <-u.exited:
			return 0, 0, errors.New("ERR the new process exited during the commit")
		}
	}
collected:
	// Background saves finish first: their files must not be left half
	// written by an exiting process.
	for {
		s.mu.Lock()
		busy := s.persist.saving || s.aof.rewriting
		s.mu.Unlock()
		if !busy {
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, errors.New("ERR a background save or AOF rewrite is still running: try again")
		}
		time.Sleep(time.Millisecond)
	}
	s.mu.Lock()
	if s.repl.link != nil {
		// A replica stops applying its master's stream; the new process
		// continues it from the same offset.
		s.stopLink()
	}
	target := s.repl.offset
	s.mu.Unlock()
	if err := s.upgradeCatchUp(u, target, deadline.Add(time.Second)); err != nil {
		return 0, 0, err
	}
	var m upgradeMsg
	// The commit point. The caller of UPGRADE learns the outcome now and
	// then parks like every other client.
	if c := u.caller; c != nil && expected[c] {
		s.mu.Lock()
		if c.block != nil && c.block.cmd.Name == "upgrade" {
			s.blocking.unblock(c)
			c.W.OK()
		}
		s.mu.Unlock()
		t := time.NewTimer(time.Second)
	waitCaller:
		for !parked[c] {
			select {
			case cl := <-u.parked:
				parked[cl] = true
			case <-t.C:
				break waitCaller
			}
		}
		t.Stop()
	}
	s.aof.mu.Lock()
	aofOn := s.aof.on
	s.aof.mu.Unlock()
	s.aof.shutdown()
	*committed = true
	lfds, laddrs, err := s.listenerFDs()
	if err != nil {
		return 0, 0, fmt.Errorf("ERR %v", err)
	}
	var batch []handedClient
	var fds []int
	first := true
	send := func() error {
		msg := upgradeMsg{Type: "clients", Clients: batch}
		all := fds
		if first {
			msg.Listen = laddrs
			all = append(append([]int(nil), lfds...), fds...)
			first = false
		}
		err := u.ctrl.Send(msg, all...)
		batch, fds = batch[:0], fds[:0]
		return err
	}
	s.mu.Lock()
	for cl := range parked {
		hc, fd, ok := s.handClient(cl)
		if !ok {
			continue
		}
		batch = append(batch, hc)
		fds = append(fds, fd)
		if len(fds)+len(lfds) >= handoff.MaxFDs {
			if err := send(); err != nil {
				s.mu.Unlock()
				return 0, 0, fmt.Errorf("ERR %v", s.childFate(u, err))
			}
		}
		moved++
	}
	commit := s.commitState()
	commit.AOF = aofOn
	commit.Upgrades = s.upgrade.count + 1
	commit.PauseMs = time.Since(pauseStart).Milliseconds()
	s.mu.Unlock()
	if len(batch) > 0 || first {
		if err := send(); err != nil {
			return 0, 0, fmt.Errorf("ERR %v", s.childFate(u, err))
		}
	}
	if err := u.ctrl.Send(upgradeMsg{Type: "commit", Commit: commit}); err != nil {
		return 0, 0, fmt.Errorf("ERR %v", s.childFate(u, err))
	}
	u.ctrl.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := u.ctrl.Recv(&m); err != nil || m.Type != "serving" {
		return 0, 0, fmt.Errorf("ERR the new process did not confirm it serves: %v", s.childFate(u, err))
	}
	u.ctrl.Close()
	// Connections that never reached a command boundary in time are
	// closed (they were not handed over).
	s.mu.Lock()
	for cl := range expected {
		if !parked[cl] {
			closed++
			s.log.Warn("upgrade: closing a connection that was busy at the commit", zap.Int64("id", cl.ID), zap.String("addr", cl.Addr()))
			cl.kill()
		}
	}
	s.upgrade.handedOver.Store(true)
	close(u.release)
	s.mu.Unlock()
	s.log.Info("upgrade: commands were paused", zap.Duration("pause", time.Since(pauseStart)))
	s.Shutdown()
	return moved, closed, nil
}

// upgradeCatchUp waits until the new process has applied the stream up to
// target.
func (s *Server) upgradeCatchUp(u *upgradeRun, target int64, deadline time.Time) error {
	u.ctrl.SetDeadline(deadline)
	if err := u.ctrl.Send(upgradeMsg{Type: "catchup", Offset: target}); err != nil {
		return fmt.Errorf("ERR %v", s.childFate(u, err))
	}
	var m upgradeMsg
	if _, err := u.ctrl.Recv(&m); err != nil || m.Type != "caughtup" {
		return fmt.Errorf("ERR the new process did not catch up: %v %s", err, m.Error)
	}
	return nil
}

// beginParking stops command execution at the next boundary of every
// client, stops accepting, and returns the clients expected to park
// (replicas are not moved: they are closed and reconnect, with a
// partial resync). Blocked clients give their command back to be run again
// by the new process.
func (s *Server) beginParking(u *upgradeRun) map[*Client]bool {
	s.upgrade.parking.Store(true)
	s.upgrade.stopAccept.Store(true)
	for _, l := range s.listeners {
		if dl, ok := l.(interface{ SetDeadline(time.Time) error }); ok {
			dl.SetDeadline(time.Unix(1, 0))
		}
	}
	s.upgrade.acceptors.Wait()
	s.upgrade.admitting.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	expected := make(map[*Client]bool)
	for _, cl := range s.clients {
		if !s.parkable(cl) {
			continue
		}
		expected[cl] = true
		if bs := cl.block; bs != nil && cl != u.caller {
			s.blocking.unblock(cl)
			cl.requeue = resp.AppendCommand(nil, bs.args...)
		}
		// Wake a reader waiting for input.
		cl.conn.SetReadDeadline(time.Unix(1, 0))
	}
	return expected
}

// parkable reports whether a client is moved by an upgrade; under the
// lock.
func (s *Server) parkable(cl *Client) bool {
	return !cl.upgradeLink && cl.Flags&(ClientReplica|ClientMaster|ClientAOFLoader) == 0
}

// park is called by a client's goroutine at a command boundary once its
// replies are out. It reports true to go on serving here (the upgrade was
// abandoned) and false once the connection belongs to the new process.
func (s *Server) park(cl *Client) bool {
	s.mu.Lock()
	u := s.upgrade.cur
	movable := s.parkable(cl)
	s.mu.Unlock()
	if u == nil || !s.upgrade.parking.Load() || !movable {
		cl.conn.SetReadDeadline(time.Time{})
		return true
	}
	if cl.async {
		cl.stopWriter()
	}
	u.parked <- cl
	select {
	case <-u.resume:
		cl.conn.SetReadDeadline(time.Time{})
		if cl.async {
			cl.startWriter()
		}
		return true
	case <-u.release:
		return false
	case <-cl.closedCh:
		return false
	}
}

// handClient describes a parked client for the new process; under the
// lock. The fd is the connection's own (the kernel duplicates it into the
// message).
func (s *Server) handClient(cl *Client) (handedClient, int, bool) {
	fd, ok := connFD(cl.conn)
	if !ok {
		return handedClient{}, 0, false
	}
	hc := handedClient{
		ID: cl.ID, Name: cl.Name, LibName: cl.LibName, LibVer: cl.LibVer,
		User: cl.User, Authenticated: cl.Authenticated, DB: cl.DB, Proto: cl.W.Proto,
		Flags:     cl.Flags & (ClientMulti | ClientDirtyCAS | ClientDirtyExec | ClientPubSub | ClientMonitor | ClientNoEvict | ClientNoTouch | ClientReadonly | ClientReplyOff),
		CreatedMs: cl.Created.UnixMilli(),
		Unread:    append(cl.requeue, cl.rd.Unread()...),
	}
	cl.outMu.Lock()
	hc.Out = append([]byte(nil), cl.out...)
	cl.outMu.Unlock()
	hc.Subs = append(hc.Subs, cl.ps.names[kindChannel]...)
	hc.PSubs = append(hc.PSubs, cl.ps.names[kindPattern]...)
	hc.SSubs = append(hc.SSubs, cl.ps.names[kindShard]...)
	if len(cl.tx.watched) > 0 {
		// WATCH state does not move: the transaction fails safely and the
		// client retries, as if a watched key had changed.
		hc.Flags |= ClientDirtyCAS
	}
	for _, q := range cl.tx.queued {
		hc.Queued = append(hc.Queued, q.args)
	}
	return hc, fd, true
}

// connFD is a connection's file descriptor.
func connFD(c net.Conn) (int, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	fd := -1
	raw.Control(func(f uintptr) { fd = int(f) })
	return fd, fd >= 0
}

// listenerFDs lists the listeners' fds and addresses.
func (s *Server) listenerFDs() ([]int, []string, error) {
	var fds []int
	var addrs []string
	for _, l := range s.listeners {
		sc, ok := l.(syscall.Conn)
		if !ok {
			return nil, nil, fmt.Errorf("listener %s cannot be handed over", l.Addr())
		}
		raw, err := sc.SyscallConn()
		if err != nil {
			return nil, nil, err
		}
		raw.Control(func(f uintptr) { fds = append(fds, int(f)) })
		addrs = append(addrs, l.Addr().String())
	}
	return fds, addrs, nil
}

// commitState is what the new process continues from; under the lock.
func (s *Server) commitState() *upgradeCommit {
	r := &s.repl
	c := &upgradeCommit{
		RunID: s.runID, ReplID: r.replID, ReplID2: r.replID2, Offset: r.offset, SecondOffset: r.secondOffset,
		MasterHost: r.masterHost, MasterPort: r.masterPort, NextClientID: s.nextID.Load(),
		SentUnixNano: time.Now().UnixNano(),
		Stats: &handedCounts{
			ConnectionsReceived: s.stats.ConnectionsReceived.Load(), CommandsProcessed: s.stats.CommandsProcessed,
			SyncFull: s.stats.SyncFull.Load(), SyncPartialOK: s.stats.SyncPartialOK.Load(), SyncPartialErr: s.stats.SyncPartialErr.Load(),
			StartUnix: s.startTime.Unix(),
		},
	}
	if b, err := json.Marshal(s.cfg); err == nil {
		c.Config = b
	}
	snap := s.lease.Snapshot(time.Now())
	c.Lease = &snap
	return c
}

// abortUpgrade undoes an attempt that failed before the commit point:
// the child is killed, parked clients go on, accepting resumes.
func (s *Server) abortUpgrade(u *upgradeRun, err error) {
	s.log.Error("upgrade failed: this process goes on serving", zap.String("binary", u.binary), zap.Error(err))
	if u.cmd != nil && u.cmd.Process != nil {
		u.cmd.Process.Kill()
	}
	if u.ctrl != nil {
		u.ctrl.Close()
	}
	s.finishUpgrade(u, err)
}

// resumeAfterCommit takes everything back when the new process did not
// confirm after the fds went out: it is killed, so this process is again
// the only one serving.
func (s *Server) resumeAfterCommit(u *upgradeRun, err error) {
	s.log.Error("upgrade failed after the commit point: the new process is killed and this one resumes", zap.Error(err))
	if u.cmd != nil && u.cmd.Process != nil {
		u.cmd.Process.Kill()
		<-u.exited
	}
	u.ctrl.Close()
	s.aof.mu.Lock()
	aofOn := s.aof.on
	s.aof.mu.Unlock()
	s.mu.Lock()
	if s.cfg.AppendOnly && !aofOn {
		// The stopped writer's stream consumer goes; startAOF adds its own.
		s.repl.removeConsumer(s.aof.consumer)
		if files, rerr := readManifest(s.manifestPath()); rerr == nil {
			s.aof.files = files
			if aerr := s.startAOF(); aerr != nil {
				s.log.Error("upgrade: restarting the AOF", zap.Error(aerr))
			}
		}
	}
	if h, p := s.repl.masterHost, s.repl.masterPort; h != "" && s.repl.link == nil {
		s.repl.masterHost = ""
		s.setMaster(h, p)
	}
	s.mu.Unlock()
	s.finishUpgrade(u, err)
}

// finishUpgrade releases parked clients to go on here and restarts
// accepting.
func (s *Server) finishUpgrade(u *upgradeRun, err error) {
	wasParking := s.upgrade.parking.Swap(false)
	s.mu.Lock()
	if u.link != nil {
		u.link.kill()
	}
	if h, p := s.repl.masterHost, s.repl.masterPort; wasParking && h != "" && s.repl.link == nil {
		s.repl.masterHost = ""
		s.setMaster(h, p)
	}
	close(u.resume)
	s.upgrade.cur = nil
	s.upgrade.step = ""
	s.upgrade.lastStatus = "err"
	if c := u.caller; c != nil && c.block != nil && c.block.cmd.Name == "upgrade" {
		s.blocking.unblock(c)
		c.W.Error(err.Error())
	}
	s.mu.Unlock()
	if s.upgrade.stopAccept.Swap(false) {
		for _, l := range s.listeners {
			if dl, ok := l.(interface{ SetDeadline(time.Time) error }); ok {
				dl.SetDeadline(time.Time{})
			}
			s.startAcceptLoop(l)
		}
	}
}

// setUpgradeStep records the running upgrade's step for INFO.
func (s *Server) setUpgradeStep(step string) {
	s.mu.Lock()
	s.upgrade.step = step
	s.mu.Unlock()
}

// writeInfoUpgrade adds the upgrade fields to INFO server.
func (s *Server) writeInfoUpgrade(field func(string, any)) {
	u := &s.upgrade
	field("upgrade_in_progress", boolInt(u.cur != nil))
	if u.cur != nil {
		field("upgrade_step", u.step)
	}
	field("upgrades", u.count)
	status := u.lastStatus
	if status == "" {
		status = "none"
	}
	field("upgrade_last_status", status)
	field("upgrade_last_pause_ms", u.lastPause.Milliseconds())
}

// cmdUpgrade is UPGRADE [BINARY path]: the reply comes at the commit
// point (+OK, and the connection continues in the new process) or when
// the attempt fails (an error, and this process goes on).
func cmdUpgrade(c *Ctx) {
	binary := ""
	switch {
	case len(c.Args) == 1:
	case len(c.Args) == 3 && c.ArgIs(1, "binary"):
		binary = c.Str(2)
	default:
		c.SyntaxError()
		return
	}
	if c.Client.Flags&ClientMulti != 0 || c.InMulti {
		c.Error("ERR UPGRADE is not allowed in a transaction")
		return
	}
	s := c.Srv
	if s.upgrade.cur != nil {
		c.Error("ERR an upgrade is already in progress")
		return
	}
	cl := c.Client
	c.Block([]string{upgradeKey}, 0, func(w *resp.Writer) { w.Error("ERR upgrade interrupted") })
	go func() {
		if err := s.upgradeWith(binary, cl); err != nil {
			s.mu.Lock()
			if cl.block != nil && cl.block.cmd.Name == "upgrade" {
				s.blocking.unblock(cl)
				cl.W.Error(err.Error())
			}
			s.mu.Unlock()
		}
	}()
}

func upgradeCommands() []*Command {
	return []*Command{
		{Name: "upgrade", Arity: -1, Flags: FlagAdmin | FlagNoScript | FlagNoMulti | FlagStale, Categories: []string{"admin", "slow", "dangerous"}, Group: "server", Since: "vigil",
			Summary: "Replace this server's binary in place without dropping connections", Complexity: "O(N) where N is the dataset size", Handler: cmdUpgrade},
	}
}
