package sentinel

import (
	"strings"
	"testing"

	"go.uber.org/zap"
)

// TestPreAuthError: before AUTH, Redis Sentinel 7.0 still reports an
// unknown command or subcommand and a wrong number of arguments (its
// checks come first), lets AUTH and HELLO through, and refuses the rest
// with -NOAUTH; the texts are redis-sentinel 7.0.15's.
func TestPreAuthError(t *testing.T) {
	for _, tc := range []struct{ cmd, want string }{
		{"PING", errNoAuth},
		{"ping a b c", errNoAuth},
		{"SENTINEL MASTERS", errNoAuth},
		{"SENTINEL IS-MASTER-DOWN-BY-ADDR 127.0.0.1 1 0 *", errNoAuth},
		{"SENTINEL DEBUG", errNoAuth},
		{"CLIENT ID", errNoAuth},
		{"INFO", errNoAuth},
		{"SUBSCRIBE x", errNoAuth},
		{"FOO a b", "ERR unknown command 'FOO', with args beginning with: 'a' 'b' "},
		{"SENTINEL FOO", "ERR unknown subcommand 'FOO'. Try SENTINEL HELP."},
		{"client foo", "ERR unknown subcommand 'foo'. Try CLIENT HELP."},
		{"SENTINEL", "ERR wrong number of arguments for 'sentinel' command"},
		{"CLIENT", "ERR wrong number of arguments for 'client' command"},
		{"SENTINEL MASTER", "ERR wrong number of arguments for 'sentinel|master' command"},
		{"SENTINEL HELP x", "ERR wrong number of arguments for 'sentinel|help' command"},
		{"SENTINEL is-master-down-by-addr 127.0.0.1 1 0", "ERR wrong number of arguments for 'sentinel|is-master-down-by-addr' command"},
		{"PUBLISH", "ERR wrong number of arguments for 'publish' command"},
		{"ROLE x", "ERR wrong number of arguments for 'role' command"},
		{"AUTH", "ERR wrong number of arguments for 'auth' command"},
		{"AUTH pw", ""},
		{"HELLO", ""},
		{"HELLO 3 AUTH default pw", ""},
		{"QUIT", ""},
	} {
		var args [][]byte
		for _, f := range strings.Fields(tc.cmd) {
			args = append(args, []byte(f))
		}
		if got := preAuthError(args); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.cmd, got, tc.want)
		}
	}
}

// TestCheckPassword: only the default user exists; without requirepass
// it takes any password (Redis's nopass), with one only that.
func TestCheckPassword(t *testing.T) {
	for _, tc := range []struct {
		requirepass, user, pass string
		ok                      bool
	}{
		{"", "default", "anything", true},
		{"", "bob", "anything", false},
		{"s3cret", "default", "s3cret", true},
		{"s3cret", "default", "wrong", false},
		{"s3cret", "default", "", false},
		{"s3cret", "bob", "s3cret", false},
	} {
		s := &Sentinel{}
		s.reqPass.Store(&tc.requirepass)
		if got := s.checkPassword(tc.user, tc.pass); got != tc.ok {
			t.Errorf("requirepass %q, AUTH %s %s: %v, want %v", tc.requirepass, tc.user, tc.pass, got, tc.ok)
		}
	}
}

// TestPeerAuth: the peers are given sentinel-user/sentinel-pass, or
// requirepass (as the default user) when sentinel-pass is not set, as
// Redis Sentinel does.
func TestPeerAuth(t *testing.T) {
	for _, tc := range []struct {
		cfg        Config
		user, pass string
	}{
		{Config{}, "", ""},
		{Config{RequirePass: "rp"}, "", "rp"},
		{Config{RequirePass: "rp", SentinelPass: "sp"}, "", "sp"},
		{Config{RequirePass: "rp", SentinelUser: "bob", SentinelPass: "sp"}, "bob", "sp"},
		{Config{RequirePass: "rp", SentinelUser: "bob"}, "", "rp"},
	} {
		s := &Sentinel{cfg: tc.cfg}
		if u, p := s.peerAuth(); u != tc.user || p != tc.pass {
			t.Errorf("%+v: %q %q, want %q %q", tc.cfg, u, p, tc.user, tc.pass)
		}
	}
}

// TestReloadAuth: SIGHUP's Reload applies requirepass and the peers'
// credentials, reconnecting the peer links with the new ones, while a
// SENTINEL CONFIG SET of sentinel-pass (kept in the state file) still
// wins over the file, as at start-up.
func TestReloadAuth(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{Dir: dir, Bind: "127.0.0.1", RequirePass: "old"}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.setPeer("peer1", "127.0.0.1:1")
	s.mu.Unlock()
	creds := func() (string, string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		o := s.peers["peer1"].client.Options()
		return o.Username, o.Password
	}
	if u, p := creds(); u != "" || p != "old" {
		t.Fatalf("peer link credentials %q %q, want requirepass", u, p)
	}
	if _, err := s.Reload(Config{RequirePass: "new"}); err != nil {
		t.Fatal(err)
	}
	if got := s.requirePass(); got != "new" {
		t.Fatalf("requirepass after reload: %q", got)
	}
	if u, p := creds(); u != "" || p != "new" {
		t.Fatalf("peer link credentials after reload %q %q, want the new requirepass", u, p)
	}
	s.mu.Lock()
	s.st.Config = map[string]string{"sentinel-pass": "runtime"}
	s.cfg.SentinelPass = "runtime"
	s.mu.Unlock()
	if _, err := s.Reload(Config{RequirePass: "new", SentinelUser: "bob", SentinelPass: "file"}); err != nil {
		t.Fatal(err)
	}
	if u, p := creds(); u != "bob" || p != "runtime" {
		t.Fatalf("peer link credentials %q %q, want bob and SENTINEL CONFIG SET's password", u, p)
	}
}
