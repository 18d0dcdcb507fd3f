package sentinel

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/vigilkv/vigil/internal/resp"
)

// run executes one admin command (SENTINEL ...) as the server does (the
// command table's checks first; MONITOR takes the lock itself, the others
// run under it) and returns the raw reply.
func run(s *Sentinel, cmd func(*resp.Writer, [][]byte), args ...string) string {
	w := resp.NewWriter()
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	if e := commandError(b); e != "" {
		w.Error(e)
		return string(w.Buf)
	}
	if strings.EqualFold(args[1], "monitor") {
		cmd(w, b)
		return string(w.Buf)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd(w, b)
	return string(w.Buf)
}

// waitGroupDone fails the test if g's probes do not all return.
func waitGroupDone(t *testing.T, g *group) {
	t.Helper()
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("group %s: probe goroutines still running after it was removed", g.cfg.Name)
	}
}

// TestRuntimeGroups: groups added with MONITOR and changed with SET are in
// the state file and come back after a restart; REMOVE stops the probes
// and keeps a start-up group removed across a restart until MONITOR.
func TestRuntimeGroups(t *testing.T) {
	dir := t.TempDir()
	// Port 1 on loopback refuses connections: the probes run and fail.
	cfg := Config{Dir: dir, Bind: "127.0.0.1", Port: 26379, Groups: []Group{{Name: "boot", Host: "127.0.0.1", Port: 1, Quorum: 1,
		DownAfter: 200 * time.Millisecond, FailoverTimeout: time.Second, ParallelSyncs: 1}}}
	s, err := New(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.mu.Lock()
	s.ctx = ctx
	for _, g := range s.grps {
		s.startGroup(g)
	}
	boot := s.grps["boot"]
	s.mu.Unlock()

	steps := []struct {
		cmd  func(*resp.Writer, [][]byte)
		args []string
		want string
	}{
		{s.monitorCmd, []string{"sentinel", "monitor", "rt", "127.0.0.1", "1", "2"}, "+OK\r\n"},
		{s.monitorCmd, []string{"sentinel", "monitor", "rt", "127.0.0.1", "1", "2"}, "-ERR Duplicate master name.\r\n"},
		{s.monitorCmd, []string{"sentinel", "monitor", "x", "127.0.0.1", "abc", "2"}, "-ERR Invalid port\r\n"},
		{s.monitorCmd, []string{"sentinel", "monitor", "x", "127.0.0.1", "1", "q"}, "-ERR Invalid quorum\r\n"},
		{s.monitorCmd, []string{"sentinel", "monitor", "x", "127.0.0.1", "1", "0"}, "-ERR Quorum must be 1 or greater.\r\n"},
		{s.monitorCmd, []string{"sentinel", "monitor", "x", "no-such-host", "1", "1"}, "-ERR Invalid IP address or hostname specified\r\n"},
		{s.monitorCmd, []string{"sentinel", "monitor", "x", "127.0.0.1", "70000", "1"}, "-ERR Invalid port number.\r\n"},
		{s.monitorCmd, []string{"sentinel", "monitor", "x"}, "-ERR wrong number of arguments for 'sentinel|monitor' command\r\n"},
		{s.setCmd, []string{"sentinel", "set", "rt", "down-after-milliseconds", "1234", "auth-pass", "pw"}, "+OK\r\n"},
		{s.setCmd, []string{"sentinel", "set", "nope", "quorum", "1"}, "-ERR No such master with that name\r\n"},
		{s.configCmd, []string{"sentinel", "config", "set", "announce-port", "26400"}, "+OK\r\n"},
		{s.removeCmd, []string{"sentinel", "remove", "boot"}, "+OK\r\n"},
		{s.removeCmd, []string{"sentinel", "remove", "boot"}, "-ERR No such master with that name\r\n"},
		{s.flushConfigCmd, []string{"sentinel", "flushconfig"}, "+OK\r\n"},
	}
	for _, st := range steps {
		if got := run(s, st.cmd, st.args...); got != st.want {
			t.Fatalf("%s: %q, want %q", strings.Join(st.args, " "), got, st.want)
		}
	}
	waitGroupDone(t, boot)
	s.mu.Lock()
	rt := s.grps["rt"]
	s.mu.Unlock()
	run(s, s.removeCmd, "sentinel", "remove", "rt")
	waitGroupDone(t, rt)
	run(s, s.monitorCmd, "sentinel", "monitor", "rt", "127.0.0.1", "1", "2")
	run(s, s.setCmd, "sentinel", "set", "rt", "down-after-milliseconds", "1234", "auth-pass", "pw")
	cancel()

	// A restart with the same start-up configuration.
	s2, err := New(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if s2.grps["boot"] != nil {
		t.Fatal("a removed start-up group came back after a restart")
	}
	g := s2.grps["rt"]
	if g == nil || g.cfg.Quorum != 2 || g.cfg.DownAfter != 1234*time.Millisecond || g.cfg.AuthPass != "pw" {
		t.Fatalf("the runtime group after a restart: %+v", g)
	}
	if s2.cfg.AnnouncePort != 26400 {
		t.Fatalf("announce-port after a restart: %d", s2.cfg.AnnouncePort)
	}
	// MONITOR brings a removed start-up group back.
	s2.ctx = context.Background()
	if got := run(s2, s2.monitorCmd, "sentinel", "monitor", "boot", "127.0.0.1", "1", "1"); got != "+OK\r\n" || s2.st.Removed["boot"] {
		t.Fatalf("MONITOR of a removed group: %q, removed %v", got, s2.st.Removed)
	}
	s2.mu.Lock()
	for _, g := range s2.grps {
		s2.stopGroup(g)
	}
	s2.mu.Unlock()
	for _, g := range s2.grps {
		waitGroupDone(t, g)
	}
}
