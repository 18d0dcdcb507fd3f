package sentinel

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilkv/vigil/internal/fuzzcmd"
	"github.com/vigilkv/vigil/internal/resp"
)

// fuzzSentinelTokens are the arguments a fuzzed sentinel command is
// mostly built from: the SENTINEL and CLIENT subcommands, their options,
// and names, addresses and numbers at their edges. Left out: what would end or
// stall the fuzzing process (SIMULATE-FAILURE, DEBUG timings, SHUTDOWN,
// SUBSCRIBE's endless queue) or wait on DNS (resolve-hostnames).
var fuzzSentinelTokens = []string{
	"myid", "get-master-addr-by-name", "masters", "master", "replicas",
	"slaves", "sentinels", "is-master-down-by-addr", "ckquorum", "reset", "failover", "help",
	"pending-scripts", "monitor", "remove", "set", "config", "flushconfig", "info-cache",
	"get", "list", "setname", "getname", "id", "kill", "no-evict", "info", "reply", "on", "off",
	"fz", "other", "*", "f*", "[a", "", "127.0.0.1", "::1", "localhost", "0", "1", "2", "-1",
	"65535", "65536", "9223372036854775807", "-9223372036854775808", "1e3", "3", "2",
	"down-after-milliseconds", "failover-timeout", "parallel-syncs", "quorum", "auth-pass",
	"auth-user", "notification-script", "client-reconfig-script", "rename-command",
	"announce-ip", "announce-port", "announce-hostnames", "sentinel-user", "sentinel-pass",
	"requirepass", "loglevel", "yes", "no", "maybe", "x", "1.2.3.4", "0000000000000000000000000000000000000000",
	"\x00\xff", strings.Repeat("y", 70),
}

// fuzzSentinelCommands are the commands a sentinel answers.
var fuzzSentinelCommands = []string{
	"ping", "hello", "client", "auth", "select", "info", "role", "unsubscribe", "punsubscribe",
	"sentinel", "publish",
}

// fuzzSentinelDenied are words a fuzzed command is skipped for, even when
// the fuzzer spells them in raw bytes.
var fuzzSentinelDenied = []string{"simulate-failure", "debug", "shutdown", "subscribe", "psubscribe", "resolve-hostnames"}

// FuzzSentinelCommands runs short command sequences built from the
// fuzzer's bytes through a running sentinel's command dispatcher, as a
// client's connection would. None may panic (the connection's recover
// would hide a bug, so exec is called here without it), nor run for a
// second.
func FuzzSentinelCommands(f *testing.F) {
	dead := freePort(f)
	s, _ := runTestSentinel(f, Group{Name: "fz", Host: "127.0.0.1", Port: dead, Quorum: 2, DownAfter: time.Hour, FailoverTimeout: time.Hour})
	for _, seed := range [][]string{
		{"sentinel masters", "sentinel master fz", "sentinel replicas fz", "sentinel sentinels fz"},
		{"sentinel set fz quorum 9223372036854775807", "sentinel set fz down-after-milliseconds -1 parallel-syncs 0"},
		{"sentinel is-master-down-by-addr 127.0.0.1 65536 -1 *", "sentinel ckquorum fz", "sentinel failover fz"},
		{"sentinel monitor other ::1 0 2", "sentinel reset [a", "sentinel remove other"},
		{"sentinel config set announce-port 65536", "sentinel config get *", "sentinel info-cache fz"},
		{"client setname x", "client list", "client kill id 1", "client reply off", "ping"},
		{"hello 3 auth x x", "punsubscribe f*", "role", "info"},
	} {
		data, err := fuzzcmd.Encode(fuzzSentinelCommands, fuzzSentinelTokens, seed...)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	denied := func(a []byte) bool {
		return slices.ContainsFunc(fuzzSentinelDenied, func(d string) bool { return strings.EqualFold(string(a), d) })
	}
	run := func(t *testing.T, c *conn, args [][]byte) {
		w := resp.NewWriter()
		w.Proto = c.proto
		start := time.Now()
		c.exec(w, args)
		if took := time.Since(start); took > time.Second {
			t.Fatalf("%q took %v", args, took)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		server, client := net.Pipe()
		defer client.Close()
		c := &conn{s: s, nc: server, proto: 2, channels: map[string]bool{}, patterns: map[string]bool{}}
		c.authed.Store(true)
		s.clients.add(c)
		defer s.clients.remove(c)
		// Every input starts from the one group, at its settings, and no
		// password.
		s.mu.Lock()
		var names []string
		for name := range s.grps {
			names = append(names, name)
		}
		s.mu.Unlock()
		for _, name := range names {
			run(t, c, [][]byte{[]byte("sentinel"), []byte("remove"), []byte(name)})
		}
		run(t, c, [][]byte{[]byte("sentinel"), []byte("config"), []byte("set"), []byte("requirepass"), nil})
		run(t, c, [][]byte{[]byte("sentinel"), []byte("monitor"), []byte("fz"), []byte("127.0.0.1"), []byte(strconv.Itoa(dead)), []byte("2")})
		for _, args := range fuzzcmd.Decode(data, fuzzSentinelCommands, fuzzSentinelTokens) {
			if !slices.ContainsFunc(args, denied) {
				run(t, c, args)
			}
		}
	})
}

// FuzzPeerInput feeds what other processes tell a sentinel, a peer's
// gossip metadata and a node's INFO, to a running sentinel: nothing may
// panic, and nothing malformed may become a peer, a replica or a master
// without a usable address.
func FuzzPeerInput(f *testing.F) {
	dead := freePort(f)
	s, _ := runTestSentinel(f, Group{Name: "fz", Host: "127.0.0.1", Port: dead, Quorum: 2, DownAfter: time.Hour, FailoverTimeout: time.Hour})
	f.Add([]byte(`{"id":"p1","addr":"127.0.0.1:26999","configs":{"fz":{"e":3,"h":"127.0.0.1","p":1}}}`), "role:master\r\nslave0:ip=127.0.0.1,port=1,state=online,offset=1,lag=0\r\n")
	f.Add([]byte(`{"id":"p2","addr":"127.0.0.1","configs":{"fz":{"e":9,"h":"","p":0}}}`), "role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:x\r\nslave0:ip=,port=99999\r\n")
	f.Add([]byte(`{"id":"p3","addr":"[::1]:0"}`), "slave1:ip=::1,port=-5\nslave2:port=7,ip=a,ip=b\nmaster_link_down_since_seconds:-9\n")
	f.Fuzz(func(t *testing.T, meta []byte, info string) {
		c := &conn{s: s, channels: map[string]bool{}, patterns: map[string]bool{}}
		c.authed.Store(true)
		w := resp.NewWriter()
		c.exec(w, [][]byte{[]byte("sentinel"), []byte("remove"), []byte("fz")})
		c.exec(w, [][]byte{[]byte("sentinel"), []byte("monitor"), []byte("fz"), []byte("127.0.0.1"), []byte(strconv.Itoa(dead)), []byte("2")})
		s.learn(meta)
		s.mu.Lock()
		defer s.mu.Unlock()
		for id, addr := range s.st.Peers {
			if !validHostPort(addr) {
				t.Fatalf("peer %q learnt at %q", id, addr)
			}
		}
		g := s.grps["fz"]
		if g == nil {
			t.Fatal("the group is gone")
		}
		if gc := s.st.Groups["fz"]; gc.Host == "" || gc.Port <= 0 || gc.Port > 65535 {
			t.Fatalf("master learnt at %q:%d", gc.Host, gc.Port)
		}
		s.parseInfo(g, g.master, info, time.Now())
		for _, a := range g.master.replicas {
			if !validHostPort(a) {
				t.Fatalf("replica learnt at %q", a)
			}
		}
	})
}
