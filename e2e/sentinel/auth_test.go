package sentinel

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/deploy/proc"
	"github.com/vigilkv/vigil/internal/testutil"
)

const sentinelPass = "s3cret"

// TestAuthRepliesMatchRedisSentinel: a real redis-sentinel 7 and a
// vigil-sentinel read the same sentinel.conf with requirepass (quoted, as
// Redis rewrites it); each session of commands runs on a new connection
// to both, and every reply must have the same shape, error and status
// texts exactly: -NOAUTH before AUTH (after the unknown-command and arity
// checks), HELLO's own -NOAUTH, -WRONGPASS, AUTH's syntax errors, HELLO
// AUTH applied before a later bad option.
func TestAuthRepliesMatchRedisSentinel(t *testing.T) {
	master := testutil.StartVigil(t)
	rs := startRedisSentinelConf(t, master.Port, fmt.Sprintf("requirepass %q\n", sentinelPass))
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	body := fmt.Sprintf("bind 127.0.0.1\ndir %q\nrequirepass %q\nsentinel monitor mymaster 127.0.0.1 %d 2\nsentinel down-after-milliseconds mymaster 5000\n",
		dir, sentinelPass, master.Port)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	gossip, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	vs := testutil.StartProcess(t, proc.Spec{Name: "vigil-sentinel", Path: testutil.SentinelBinary(t),
		Args: []string{conf, "--gossip-port", strconv.Itoa(gossip)}, Dir: dir, LogPath: filepath.Join(dir, "sentinel.log")})
	for _, session := range [][][]string{
		// Refused before AUTH.
		{{"PING"}, {"PING", "a", "b", "c"}, {"SENTINEL", "MASTERS"}, {"SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"},
			{"SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", "1", "0", "*"}, {"SENTINEL", "HELP"}, {"SENTINEL", "DEBUG"},
			{"INFO"}, {"CLIENT", "ID"}, {"ROLE"}, {"SUBSCRIBE", "x"}, {"PSUBSCRIBE", "*"}, {"PUBLISH", "__sentinel__:hello", "x"}},
		// Redis's checks that come before authentication.
		{{"FOO", "a", "b"}, {"SENTINEL", "FOO"}, {"SENTINEL"}, {"CLIENT"}, {"CLIENT", "FOO"}, {"SENTINEL", "MASTER"},
			{"SENTINEL", "HELP", "x"}, {"SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1"}, {"PUBLISH"}, {"ROLE", "x"}},
		// HELLO and AUTH failing.
		{{"HELLO"}, {"HELLO", "3"}, {"HELLO", "x"}, {"HELLO", "4"}, {"HELLO", "3", "AUTH", "default"},
			{"HELLO", "3", "SETNAME", "x"}, {"HELLO", "2", "AUTH", "default", "wrong"}, {"PING"}, {"AUTH"},
			{"AUTH", "a", "b", "c"}, {"AUTH", "wrong"}, {"AUTH", "nouser", sentinelPass}, {"AUTH", "default", "wrong"}, {"PING"}},
		// AUTH pass; a later wrong AUTH leaves the connection authenticated.
		{{"AUTH", sentinelPass}, {"PING"}, {"AUTH", "wrong"}, {"PING"}, {"SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"}},
		{{"AUTH", "default", sentinelPass}, {"SENTINEL", "MASTER", "mymaster"}},
		// HELLO AUTH, with SETNAME; and before a bad option, which fails
		// the command but not the authentication.
		{{"HELLO", "3", "AUTH", "default", sentinelPass, "SETNAME", "probe"}, {"CLIENT", "GETNAME"}, {"PING"}},
		{{"HELLO", "3", "AUTH", "default", sentinelPass, "FOO"}, {"PING"}, {"HELLO"}},
		{{"HELLO", "2", "AUTH", "default", "wrong", "SETNAME", "x"}, {"PING"}},
	} {
		rc, vc := rs.Raw(), vs.Raw()
		for _, cmd := range session {
			rc.Send(cmd...)
			vc.Send(cmd...)
			r, v := rc.ReadValue(), vc.ReadValue()
			if shape(r) != shape(v) {
				t.Errorf("%s:\n redis-sentinel %s\n vigil-sentinel %s", strings.Join(cmd, " "), shape(r), shape(v))
			}
		}
		rc.Close()
		vc.Close()
	}
}

// TestSentinelAuthFailover: three vigil-sentinels with requirepass (and
// no sentinel-pass, so they give their peers requirepass, as Redis does)
// fail a killed master over: the opinions and votes they ask each other
// for go over authenticated links. A go-redis FailoverClient with
// SentinelPassword finds the new master; a client without the password
// gets -NOAUTH.
func TestSentinelAuthFailover(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t)
	replicaArgs := []string{"--replicaof", fmt.Sprintf("127.0.0.1 %d", master.Port)}
	replicas := []*testutil.Proc{testutil.StartVigil(t, replicaArgs...), testutil.StartVigil(t, replicaArgs...)}
	sents := testutil.StartSentinelsWith(t, 3, "--monitor", fmt.Sprintf("mymaster 127.0.0.1 %d 2", master.Port),
		"--down-after-milliseconds", "1000", "--failover-timeout", "10000", "--requirepass", sentinelPass)
	var addrs []string
	var clients []*redis.Client
	for i, s := range sents {
		addrs = append(addrs, s.Addr)
		c := redis.NewClient(&redis.Options{Addr: s.Addr, Protocol: 2, DisableIdentity: true, Password: sentinelPass})
		t.Cleanup(func() { c.Close() })
		clients = append(clients, c)
		testutil.WaitFor(t, 20*time.Second, fmt.Sprintf("sentinel %d to see the replicas and its peers", i), func() (bool, string) {
			f, err := masterInfo(ctx, c, "mymaster")
			if err != nil {
				return false, err.Error()
			}
			return f["num-slaves"] == "2" && f["num-other-sentinels"] == "2", fmt.Sprint(f)
		})
	}
	for _, opts := range []*redis.Options{
		{Addr: sents[0].Addr, Protocol: 2, DisableIdentity: true},
		{Addr: sents[0].Addr, Protocol: 3, DisableIdentity: true},
	} {
		anon := redis.NewClient(opts)
		err := anon.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").Err()
		anon.Close()
		if err == nil || err.Error() != "NOAUTH Authentication required." {
			t.Fatalf("RESP%d client without the password: %v, want NOAUTH", opts.Protocol, err)
		}
	}
	bad := redis.NewClient(&redis.Options{Addr: sents[0].Addr, Protocol: 2, DisableIdentity: true, Password: "wrong"})
	if err := bad.Ping(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Fatalf("a wrong password: %v, want WRONGPASS", err)
	}
	bad.Close()

	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "mymaster", SentinelAddrs: addrs, SentinelPassword: sentinelPass,
		MaxRetries: -1, DialTimeout: 200 * time.Millisecond, ReadTimeout: 500 * time.Millisecond})
	t.Cleanup(func() { fc.Close() })
	if err := fc.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatalf("write through the FailoverClient: %v", err)
	}
	switches := clients[0].Subscribe(ctx, "+switch-master")
	t.Cleanup(func() { switches.Close() })
	if _, err := switches.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	master.Kill()
	var msg *redis.Message
	select {
	case msg = <-switches.Channel():
	case <-time.After(30 * time.Second):
		t.Fatal("no +switch-master within 30s")
	}
	f := strings.Fields(msg.Payload)
	if len(f) != 5 || (f[4] != strconv.Itoa(replicas[0].Port) && f[4] != strconv.Itoa(replicas[1].Port)) {
		t.Fatalf("+switch-master %q does not name a replica", msg.Payload)
	}
	testutil.WaitFor(t, 10*time.Second, "the FailoverClient to write to the new master", func() (bool, string) {
		err := fc.Set(ctx, "after", "1", 0).Err()
		return err == nil, fmt.Sprint(err)
	})
	if port := fc.Do(ctx, "CONFIG", "GET", "port").Val(); !strings.Contains(fmt.Sprint(port), f[4]) {
		t.Fatalf("the FailoverClient writes to %v, not to the promoted replica %s", port, f[4])
	}
}
