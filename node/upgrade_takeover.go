package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/vigilkv/vigil/internal/handoff"
	"github.com/vigilkv/vigil/node/lease"
)

// The new process's side of an in-place upgrade (see upgrade.go).

// ServeTakeover is ListenAndServe for a process started by an in-place
// upgrade: it takes the dataset, the listeners and the clients over from
// the process that started it (ctrlFD is its end of the control channel),
// then serves until stopped. If anything fails before the commit, it
// exits having touched nothing, and the old process goes on.
func (s *Server) ServeTakeover(ctx context.Context, ctrlFD int) error {
	ctrl, err := handoff.FromFile(os.NewFile(uintptr(ctrlFD), "upgrade-control"))
	if err != nil {
		return err
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	if err := s.takeOver(ctrl); err != nil {
		ctrl.Send(upgradeMsg{Type: "error", Error: err.Error()})
		ctrl.Close()
		s.stop()
		return fmt.Errorf("taking over from the running server: %w", err)
	}
	ctrl.Close()
	s.log.Info("upgrade: took over; serving", zap.Int("port", s.cfg.Port), zap.String("run_id", s.runID))
	return s.serveUntilStopped()
}

func (s *Server) takeOver(ctrl *handoff.Conn) error {
	if err := ctrl.Send(upgradeMsg{Type: "ready"}); err != nil {
		return err
	}
	var m upgradeMsg
	fds, err := ctrl.Recv(&m)
	if err != nil {
		return err
	}
	if m.Type != "sync" || len(fds) != 1 {
		return fmt.Errorf("unexpected %q message with %d descriptors", m.Type, len(fds))
	}
	f := os.NewFile(uintptr(fds[0]), "upgrade-link")
	conn, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("using the replication socket: %w", err)
	}
	// The link has exactly one connection: when it fails, the upgrade
	// fails (the link would otherwise retry forever).
	lost := make(chan struct{})
	var once sync.Once
	used := false
	dial := func(context.Context) (net.Conn, error) {
		if used {
			once.Do(func() { close(lost) })
			return nil, errors.New("the upgrade's replication link is gone")
		}
		used = true
		return conn, nil
	}
	s.mu.Lock()
	s.repl.ensureBacklog()
	s.setMasterVia("upgrade", s.cfg.Port, dial)
	s.mu.Unlock()
	for {
		s.mu.Lock()
		up := s.repl.link != nil && s.repl.link.state == "connected"
		off := s.repl.offset
		s.mu.Unlock()
		if up {
			if err := ctrl.Send(upgradeMsg{Type: "synced", Offset: off}); err != nil {
				return err
			}
			break
		}
		select {
		case <-lost:
			return errors.New("the replication link to the running server failed")
		case <-time.After(5 * time.Millisecond):
		}
	}
	var listeners []net.Listener
	var clients []*Client
	for {
		var m upgradeMsg
		fds, err := ctrl.Recv(&m)
		if err != nil {
			return err
		}
		switch m.Type {
		case "catchup":
			if err := s.waitOffset(m.Offset, lost); err != nil {
				return err
			}
			if err := ctrl.Send(upgradeMsg{Type: "caughtup"}); err != nil {
				return err
			}
		case "clients":
			if len(fds) != len(m.Listen)+len(m.Clients) {
				return fmt.Errorf("%d descriptors for %d listeners and %d clients", len(fds), len(m.Listen), len(m.Clients))
			}
			for i, addr := range m.Listen {
				f := os.NewFile(uintptr(fds[i]), "listener "+addr)
				l, err := net.FileListener(f)
				f.Close()
				if err != nil {
					return fmt.Errorf("adopting the listener on %s: %w", addr, err)
				}
				listeners = append(listeners, l)
			}
			for i, hc := range m.Clients {
				f := os.NewFile(uintptr(fds[len(m.Listen)+i]), "client")
				conn, err := net.FileConn(f)
				f.Close()
				if err != nil {
					s.log.Warn("upgrade: adopting a client connection", zap.Int64("id", hc.ID), zap.Error(err))
					continue
				}
				clients = append(clients, s.adoptClient(hc, conn))
			}
		case "commit":
			if m.Commit == nil {
				return errors.New("commit without state")
			}
			if err := s.commitTakeover(m.Commit, listeners, clients); err != nil {
				return err
			}
			return ctrl.Send(upgradeMsg{Type: "serving"})
		default:
			return fmt.Errorf("unexpected %q message", m.Type)
		}
	}
}

// waitOffset waits until the stream from the running server reached
// offset.
func (s *Server) waitOffset(offset int64, lost <-chan struct{}) error {
	for {
		s.mu.Lock()
		off := s.repl.offset
		s.mu.Unlock()
		if off >= offset {
			return nil
		}
		select {
		case <-lost:
			return errors.New("the replication link to the running server failed")
		case <-time.After(200 * time.Microsecond):
		}
	}
}

// adoptClient rebuilds a handed-over client (registered at the commit).
func (s *Server) adoptClient(hc handedClient, conn net.Conn) *Client {
	cl := newClient(s, conn)
	cl.ID = hc.ID
	cl.Name, cl.LibName, cl.LibVer = hc.Name, hc.LibName, hc.LibVer
	cl.User, cl.Authenticated = hc.User, hc.Authenticated
	cl.rd.Unauthenticated = !hc.Authenticated
	cl.DB = hc.DB
	cl.W.Proto = hc.Proto
	cl.Flags = hc.Flags
	cl.Created = time.UnixMilli(hc.CreatedMs)
	if len(hc.Unread) > 0 {
		cl.rd.Prime(hc.Unread)
	}
	if len(hc.Out) > 0 {
		cl.W.Buf = append(cl.W.Buf, hc.Out...)
	}
	cl.adopted = &hc
	return cl
}

// commitTakeover makes this process the server: it continues the old
// one's replication history, AOF, lease and clients.
func (s *Server) commitTakeover(c *upgradeCommit, listeners []net.Listener, clients []*Client) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repl.offset != c.Offset {
		return fmt.Errorf("at offset %d, the running server at %d", s.repl.offset, c.Offset)
	}
	if len(c.Config) > 0 {
		// Settings changed at runtime (CONFIG SET) carry over.
		if err := json.Unmarshal(c.Config, s.cfg); err != nil {
			return fmt.Errorf("applying the running server's configuration: %w", err)
		}
	}
	s.stopLink()
	r := &s.repl
	r.masterHost, r.masterPort = "", 0
	s.cfg.ReplicaOf = ""
	s.ks.Config.ReplicaMode = false
	r.replID, r.replID2, r.secondOffset = c.ReplID, c.ReplID2, c.SecondOffset
	r.lastDB = -1
	s.runID = c.RunID
	s.upgrade.count = c.Upgrades
	s.upgrade.lastStatus = "ok"
	s.upgrade.lastPause = time.Duration(c.PauseMs) * time.Millisecond
	s.nextID.Store(c.NextClientID)
	if st := c.Stats; st != nil {
		s.stats.ConnectionsReceived.Store(st.ConnectionsReceived)
		s.stats.CommandsProcessed = st.CommandsProcessed
		s.stats.SyncFull.Store(st.SyncFull)
		s.stats.SyncPartialOK.Store(st.SyncPartialOK)
		s.stats.SyncPartialErr.Store(st.SyncPartialErr)
		s.startTime = time.Unix(st.StartUnix, 0)
	}
	s.restoreLease(c)
	if c.MasterHost != "" {
		// Same replid and offset: the master continues us partially.
		s.setMaster(c.MasterHost, c.MasterPort)
	}
	if c.AOF {
		files, err := readManifest(s.manifestPath())
		if err != nil {
			return fmt.Errorf("reading the AOF manifest: %w", err)
		}
		s.aof.files = files
		if err := s.startAOF(); err != nil {
			return fmt.Errorf("continuing the AOF: %w", err)
		}
	}
	// After the AOF: applying appendonly yes would otherwise start a new
	// one with a rewrite.
	s.applyConfig()
	s.listeners = listeners
	for _, l := range listeners {
		s.startAcceptLoop(l)
	}
	for _, cl := range clients {
		hc := cl.adopted
		cl.adopted = nil
		for _, n := range hc.Subs {
			s.pubsub.subscribe(cl, kindChannel, n)
		}
		for _, n := range hc.PSubs {
			s.pubsub.subscribe(cl, kindPattern, n)
		}
		for _, n := range hc.SSubs {
			s.pubsub.subscribe(cl, kindShard, n)
		}
		if cl.Flags&ClientMonitor != 0 {
			s.diag.monitors = append(s.diag.monitors, cl)
		}
		if cl.ps.count() > 0 || cl.Flags&ClientMonitor != 0 {
			cl.enableAsync()
		}
		for _, args := range hc.Queued {
			if cmd := s.cmds.lookup(args[0]); cmd != nil {
				cl.tx.queue(cmd, args)
			}
		}
		s.clients[cl.ID] = cl
		s.numConns.Add(1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveClient(cl)
		}()
	}
	s.wg.Add(1)
	go s.cronLoop()
	return nil
}

// restoreLease continues the old process's master lease. Its figures are
// ages, and the time the message spent in transit is added to them, so
// the lease here never outlasts the one there.
func (s *Server) restoreLease(c *upgradeCommit) {
	if c.Lease == nil {
		return
	}
	transit := time.Duration(max(time.Now().UnixNano()-c.SentUnixNano, 0))
	s.lease = lease.Restore(*c.Lease, time.Now(), transit)
}
