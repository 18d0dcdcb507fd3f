package sentinel

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/vigilkv/vigil/internal/resp"
)

// TestDebugCmd: SENTINEL DEBUG lists vigil's timing parameters with
// Redis's names, sets them, and refuses what Redis refuses with its
// texts; a bad pair changes nothing.
func TestDebugCmd(t *testing.T) {
	s := &Sentinel{}
	run := func(args ...string) string {
		w := resp.NewWriter()
		a := [][]byte{[]byte("SENTINEL"), []byte("DEBUG")}
		for _, x := range args {
			a = append(a, []byte(x))
		}
		s.debugCmd(w, a)
		return string(w.Buf)
	}
	list := run()
	for _, want := range []string{"$11\r\nINFO-PERIOD\r\n$5\r\n10000\r\n", "$10\r\nASK-PERIOD\r\n$2\r\n50\r\n", "$20\r\nSLAVE-RECONF-TIMEOUT\r\n$5\r\n10000\r\n"} {
		if !strings.Contains(list, want) {
			t.Errorf("SENTINEL DEBUG: %q lacks %q", list, want)
		}
	}
	if !strings.HasPrefix(list, "*16\r\n") {
		t.Errorf("SENTINEL DEBUG: %q, want 8 name/value pairs", list)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"info-period", "5000", "PING-PERIOD", "500"}, "+OK\r\n"},
		{[]string{"publish-period", "1000"}, "-ERR Unknown option or number of arguments for SENTINEL DEBUG 'publish-period'\r\n"},
		{[]string{"tilt-period", "1000", "ping-period"}, "-ERR Unknown option or number of arguments for SENTINEL DEBUG 'ping-period'\r\n"},
		{[]string{"tilt-period", "1000", "ping-period", "0"}, "-ERR Invalid argument '0' for SENTINEL DEBUG 'ping-period'\r\n"},
		{[]string{"ask-period", "1.5"}, "-ERR Invalid argument '1.5' for SENTINEL DEBUG 'ask-period'\r\n"},
		{[]string{"info-period", "99999999999999999999"}, "-ERR Invalid argument '99999999999999999999' for SENTINEL DEBUG 'info-period'\r\n"},
	} {
		if got := run(tc.args...); got != tc.want {
			t.Errorf("SENTINEL DEBUG %v: %q, want %q", tc.args, got, tc.want)
		}
	}
	for p, want := range map[debugParam]time.Duration{paramInfo: 5 * time.Second, paramPing: 500 * time.Millisecond,
		paramTiltPeriod: 30 * time.Second, paramAsk: 50 * time.Millisecond} {
		if got := s.tm.get(p); got != want {
			t.Errorf("%s: %v, want %v", debugParams[p].name, got, want)
		}
	}
}

// TestDebugDefaultsSurviveRestart: a group added with SENTINEL MONITOR
// after SENTINEL DEBUG changed the defaults keeps them across a restart
// (the defaults themselves do not, as in Redis).
func TestDebugDefaultsSurviveRestart(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), Bind: "127.0.0.1", Port: 26379}
	s, err := New(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	s.ctx = context.Background()
	if got := run(s, s.debugCmd, "sentinel", "debug", "default-down-after", "7000", "default-failover-timeout", "70000"); got != "+OK\r\n" {
		t.Fatalf("SENTINEL DEBUG: %q", got)
	}
	if got := run(s, s.monitorCmd, "sentinel", "monitor", "dbg", "127.0.0.1", "1", "2"); got != "+OK\r\n" {
		t.Fatalf("SENTINEL MONITOR: %q", got)
	}
	s.mu.Lock()
	g := s.grps["dbg"]
	s.stopGroup(g)
	s.mu.Unlock()
	waitGroupDone(t, g)
	if g.cfg.DownAfter != 7*time.Second || g.cfg.FailoverTimeout != 70*time.Second {
		t.Fatalf("the group added after SENTINEL DEBUG: %+v", g.cfg)
	}
	s2, err := New(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if g := s2.grps["dbg"]; g == nil || g.cfg.DownAfter != 7*time.Second || g.cfg.FailoverTimeout != 70*time.Second {
		t.Fatalf("the group after a restart: %+v", g)
	}
	if d := s2.tm.get(paramDownAfter); d != DefaultDownAfter {
		t.Fatalf("DEFAULT-DOWN-AFTER after a restart: %v", d)
	}
}
