package sentinel

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/deploy/proc"
	"github.com/vigilkv/vigil/internal/resp"
	"github.com/vigilkv/vigil/internal/testutil"
)

// startRedisSentinel starts a real redis-sentinel 7 monitoring mymaster
// at masterPort (skipped when it is not installed).
func startRedisSentinel(t *testing.T, masterPort int) *testutil.Proc {
	t.Helper()
	return startRedisSentinelConf(t, masterPort, "")
}

// startRedisSentinelConf is startRedisSentinel with extra lines for its
// sentinel.conf (requirepass ...).
func startRedisSentinelConf(t *testing.T, masterPort int, extra string) *testutil.Proc {
	t.Helper()
	testutil.RequireBinary(t, "redis-sentinel")
	path, _ := exec.LookPath("redis-sentinel")
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	body := fmt.Sprintf("bind 127.0.0.1\ndir %s\nsentinel monitor mymaster 127.0.0.1 %d 2\nsentinel down-after-milliseconds mymaster 5000\n%s", dir, masterPort, extra)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return testutil.StartProcess(t, proc.Spec{Name: "redis-sentinel", Path: path, Args: []string{conf}, Dir: dir,
		LogPath: filepath.Join(dir, "sentinel.log")})
}

// shape describes a reply's structure: kinds and nesting, with the text
// of simple strings and errors (which must match exactly) but not the
// payload of bulk strings and integers (ids, ages, addresses differ).
func shape(v resp.Value) string {
	switch v.Kind {
	case resp.KindSimple:
		return "+" + string(v.Str)
	case resp.KindError:
		return "-" + string(v.Str)
	case resp.KindInt:
		return ":"
	case resp.KindBulk:
		return "$"
	case resp.KindNull:
		return "_"
	case resp.KindArray, resp.KindMap:
		open := "["
		if v.Kind == resp.KindMap {
			open = "%["
		}
		parts := make([]string, len(v.Elems))
		for i, e := range v.Elems {
			parts[i] = shape(e)
		}
		return open + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprintf("?%v", v.Kind)
}

// keys lists the field names of a flat field/value array.
func keys(v resp.Value) []string {
	var out []string
	for i := 0; i+1 < len(v.Elems); i += 2 {
		out = append(out, string(v.Elems[i].Str))
	}
	return out
}

// TestRepliesMatchRedisSentinel sends the same commands to a real
// redis-sentinel 7 and to vigil-sentinel, both monitoring the same vigil
// master and replica, and compares the replies: error texts and simple
// replies exactly, the structure of the others, and the field names of
// SENTINEL MASTER and REPLICAS in order.
func TestRepliesMatchRedisSentinel(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t)
	testutil.StartVigil(t, "--replicaof", fmt.Sprintf("127.0.0.1 %d", master.Port))
	rs := startRedisSentinel(t, master.Port)
	vs := testutil.StartSentinelsWith(t, 1, "--monitor", fmt.Sprintf("mymaster 127.0.0.1 %d 2", master.Port), "--down-after-milliseconds", "5000")[0]
	for _, p := range []*testutil.Proc{rs, vs} {
		c := redis.NewClient(&redis.Options{Addr: p.Addr, Protocol: 2, DisableIdentity: true})
		t.Cleanup(func() { c.Close() })
		testutil.WaitFor(t, 30*time.Second, p.Spec.Name+" to know the replica", func() (bool, string) {
			v, err := c.Do(ctx, "SENTINEL", "REPLICAS", "mymaster").Slice()
			if err != nil || len(v) != 1 {
				return false, fmt.Sprint(v, err)
			}
			f := fields(v[0].([]any))
			return f["master-link-status"] == "ok" && f["role-reported"] == "slave", fmt.Sprint(f)
		})
	}
	rc, vc := rs.Raw(), vs.Raw()
	both := func(args ...string) (resp.Value, resp.Value) {
		rc.Send(args...)
		vc.Send(args...)
		return rc.ReadValue(), vc.ReadValue()
	}
	mp := strconv.Itoa(master.Port)
	// Same reply shape (and same error and status texts).
	for _, cmd := range [][]string{
		{"SENTINEL", "MONITOR", "mymaster", "127.0.0.1", mp, "2"},
		{"SENTINEL", "MONITOR", "x", "127.0.0.1", "abc", "2"},
		{"SENTINEL", "MONITOR", "x", "127.0.0.1", "1", "q"},
		{"SENTINEL", "MONITOR", "x", "127.0.0.1", "1", "0"},
		{"SENTINEL", "MONITOR", "x", "not-an-ip", "1", "1"},
		{"SENTINEL", "MONITOR", "x", "127.0.0.1", "70000", "1"},
		{"SENTINEL", "MONITOR", "x"},
		{"SENTINEL", "MONITOR", "added", "127.0.0.1", mp, "2"},
		{"SENTINEL", "REMOVE", "added"},
		{"SENTINEL", "REMOVE", "added"},
		// A failover with no replica to promote is refused at once.
		{"SENTINEL", "MONITOR", "lonely", "127.0.0.1", "1", "2"},
		{"SENTINEL", "FAILOVER", "lonely"},
		{"SENTINEL", "FAILOVER", "lonely", "x"},
		{"SENTINEL", "FAILOVER", "nope"},
		{"SENTINEL", "REMOVE", "lonely"},
		{"SENTINEL", "REMOVE"},
		{"SENTINEL", "SET", "nope", "quorum", "1"},
		{"SENTINEL", "SET", "mymaster", "quorum", "0"},
		{"SENTINEL", "SET", "mymaster", "foo", "1"},
		{"SENTINEL", "SET", "mymaster", "quorum"},
		{"SENTINEL", "SET", "mymaster", "down-after-milliseconds", "abc"},
		{"SENTINEL", "SET", "mymaster", "parallel-syncs", "-1"},
		{"SENTINEL", "SET", "mymaster", "notification-script", "/bin/true"},
		{"SENTINEL", "SET", "mymaster", "quorum", "2", "down-after-milliseconds", "4000", "failover-timeout", "90000", "parallel-syncs", "2"},
		{"SENTINEL", "SET", "mymaster", "auth-pass", ""},
		{"SENTINEL", "CONFIG", "SET", "foo", "bar"},
		{"SENTINEL", "CONFIG", "SET", "announce-port", "abc"},
		{"SENTINEL", "CONFIG", "SET", "resolve-hostnames", "maybe"},
		{"SENTINEL", "CONFIG", "SET", "announce-port", "0"},
		{"SENTINEL", "CONFIG", "SET", "announce-ip", "1.2.3.4", "announce-port", "5"},
		{"SENTINEL", "CONFIG", "GET"},
		{"SENTINEL", "CONFIG"},
		{"SENTINEL", "CONFIG", "GET", "announce-*"},
		{"SENTINEL", "CONFIG", "GET", "nomatch"},
		// Redis's glob, not Go's path.Match: case folded, an unclosed
		// class taken as written, a backslash escaping.
		{"SENTINEL", "CONFIG", "GET", "ANNOUNCE-[ip]*"},
		{"SENTINEL", "CONFIG", "GET", "announce-[ip"},
		{"SENTINEL", "CONFIG", "GET", "announce\\-port"},
		{"SENTINEL", "CONFIG", "SET", "sentinel-user", "bob"},
		{"SENTINEL", "CONFIG", "SET", "sentinel-pass", "peerpass"},
		{"SENTINEL", "CONFIG", "SET", "requirepass", "x"},
		{"SENTINEL", "CONFIG", "GET", "sentinel-*"},
		{"SENTINEL", "CONFIG", "SET", "sentinel-user", ""},
		{"SENTINEL", "CONFIG", "SET", "sentinel-pass", ""},
		{"SENTINEL", "FLUSHCONFIG"},
		{"SENTINEL", "FLUSHCONFIG", "x"},
		{"SENTINEL", "INFO-CACHE"},
		{"SENTINEL", "INFO-CACHE", "nope"},
		{"SENTINEL", "INFO-CACHE", "mymaster"},
		{"SENTINEL", "SIMULATE-FAILURE", "HELP"},
		{"SENTINEL", "SIMULATE-FAILURE", "foo"},
		{"SENTINEL", "SIMULATE-FAILURE"},
		{"SENTINEL", "PENDING-SCRIPTS"},
		{"SENTINEL", "PENDING-SCRIPTS", "x"},
		{"SENTINEL", "HELP", "x"},
		{"SENTINEL", "DEBUG", "foo", "1"},
		{"SENTINEL", "DEBUG", "info-period"},
		{"SENTINEL", "DEBUG", "info-period", "abc"},
		{"SENTINEL", "DEBUG", "info-period", "0"},
		{"SENTINEL", "DEBUG", "INFO-PERIOD", "10000", "ping-period", "1000"},
		{"CLIENT", "ID"},
		{"CLIENT", "GETNAME"},
		{"CLIENT", "SETNAME", "a b"},
		{"CLIENT", "SETNAME", "probe"},
		{"CLIENT", "GETNAME"},
		{"CLIENT", "GETNAME", "x"},
		{"CLIENT", "LIST"},
		{"CLIENT", "LIST", "TYPE", "bogus"},
		{"CLIENT", "LIST", "ID", "abc"},
		{"CLIENT", "INFO"},
		{"CLIENT", "KILL", "1.2.3.4:5"},
		{"CLIENT", "KILL", "ID", "99999"},
		{"CLIENT", "KILL", "ID", "abc"},
		{"CLIENT", "KILL", "TYPE", "bogus"},
		{"CLIENT", "KILL", "foo", "bar"},
		{"CLIENT", "KILL"},
		{"CLIENT", "NO-EVICT", "on"},
		{"CLIENT", "FOO"},
		{"CLIENT"},
		{"PUBLISH", "foo", "bar"},
		{"PUBLISH", "__sentinel__:hello", "x"},
		{"PUBLISH"},
		{"NOSUCHCOMMAND", "a", "b"},
		// Without requirepass: AUTH's one-argument form is an error, the
		// default user takes any password, no other user exists.
		{"AUTH", "x"},
		{"AUTH", "default", "x"},
		{"AUTH", "bob", "x"},
		{"AUTH", "a", "b", "c"},
		{"HELLO", "2", "AUTH", "bob", "x"},
		{"HELLO", "x"},
		{"HELLO", "2", "AUTH", "default", "x"},
	} {
		r, v := both(cmd...)
		if os.Getenv("VIGIL_SHOW_SHAPES") != "" {
			t.Logf("%s: %s", strings.Join(cmd, " "), shape(v))
		}
		if shape(r) != shape(v) {
			t.Errorf("%s:\n redis-sentinel %s\n vigil-sentinel %s", strings.Join(cmd, " "), shape(r), shape(v))
		}
	}
	// Field names, in order, and the values both must agree on. Redis
	// drops its links after SET auth-pass (so flags say "disconnected" for
	// a moment): retry until the values settle.
	testutil.WaitFor(t, 15*time.Second, "SENTINEL MASTER and REPLICAS to agree", func() (bool, string) {
		r, v := both("SENTINEL", "MASTER", "mymaster")
		if !slices.Equal(keys(r), keys(v)) {
			return false, fmt.Sprintf("SENTINEL MASTER fields:\n redis-sentinel %v\n vigil-sentinel %v", keys(r), keys(v))
		}
		rf, vf := fields(toAny(r)), fields(toAny(v))
		for _, k := range []string{"name", "ip", "port", "flags", "role-reported", "quorum", "down-after-milliseconds", "failover-timeout", "parallel-syncs", "num-slaves"} {
			if rf[k] != vf[k] {
				return false, fmt.Sprintf("SENTINEL MASTER %s: redis-sentinel %q, vigil-sentinel %q", k, rf[k], vf[k])
			}
		}
		r, v = both("SENTINEL", "REPLICAS", "mymaster")
		if len(r.Elems) != 1 || len(v.Elems) != 1 || !slices.Equal(keys(r.Elems[0]), keys(v.Elems[0])) {
			return false, fmt.Sprintf("SENTINEL REPLICAS fields:\n redis-sentinel %v\n vigil-sentinel %v", shape(r), shape(v))
		}
		rf, vf = fields(toAny(r.Elems[0])), fields(toAny(v.Elems[0]))
		for _, k := range []string{"name", "flags", "role-reported", "master-link-status", "master-host", "master-port", "slave-priority"} {
			if rf[k] != vf[k] {
				return false, fmt.Sprintf("SENTINEL REPLICAS %s: redis-sentinel %q, vigil-sentinel %q", k, rf[k], vf[k])
			}
		}
		return true, ""
	})
	// CONFIG GET *: the same settings in the same order, with equal
	// values.
	r, v := both("SENTINEL", "CONFIG", "GET", "*")
	if !slices.Equal(toAny(r), toAny(v)) {
		t.Errorf("CONFIG GET *: redis-sentinel %v, vigil-sentinel %v", toAny(r), toAny(v))
	}
	// SENTINEL HELP: Redis's lines, the subcommands the same (the text
	// says where vigil differs); SENTINEL DEBUG: vigil's parameters are
	// Redis's, in its order, less those vigil has no counterpart for.
	r, v = both("SENTINEL", "HELP")
	if len(r.Elems) != len(v.Elems) {
		t.Errorf("SENTINEL HELP: redis-sentinel %d lines, vigil-sentinel %d", len(r.Elems), len(v.Elems))
	}
	for i := 0; i < len(r.Elems) && i < len(v.Elems); i++ {
		rl, vl := string(r.Elems[i].Str), string(v.Elems[i].Str)
		if v.Elems[i].Kind != resp.KindSimple || (!strings.HasPrefix(rl, " ") && rl != vl) {
			t.Errorf("SENTINEL HELP line %d: redis-sentinel %q, vigil-sentinel %q (%s)", i, rl, vl, shape(v.Elems[i]))
		}
	}
	// DEFAULT-DOWN-AFTER and DEFAULT-FAILOVER-TIMEOUT are what a group
	// added with SENTINEL MONITOR starts with, in both.
	both("SENTINEL", "DEBUG", "default-down-after", "7000", "default-failover-timeout", "70000")
	both("SENTINEL", "MONITOR", "dbg", "127.0.0.1", mp, "2")
	r, v = both("SENTINEL", "MASTER", "dbg")
	for _, k := range []string{"down-after-milliseconds", "failover-timeout"} {
		if rf, vf := fields(toAny(r)), fields(toAny(v)); rf[k] != vf[k] || vf[k] == "" {
			t.Errorf("SENTINEL MASTER after SENTINEL DEBUG: %s: redis-sentinel %q, vigil-sentinel %q", k, rf[k], vf[k])
		}
	}
	both("SENTINEL", "REMOVE", "dbg")
	both("SENTINEL", "DEBUG", "default-down-after", "30000", "default-failover-timeout", "180000")
	r, v = both("SENTINEL", "DEBUG")
	rk, vk := keys(r), keys(v)
	for _, k := range vk {
		for len(rk) > 0 && rk[0] != k {
			rk = rk[1:]
		}
		if len(rk) == 0 {
			t.Errorf("SENTINEL DEBUG: vigil-sentinel's %v are not Redis's %v in its order", vk, keys(r))
			break
		}
	}
	// CLIENT LIST: Redis 7.0's fields, then 7.2's lib-name and lib-ver.
	r, v = both("CLIENT", "INFO")
	names := func(line string) []string {
		var out []string
		for _, f := range strings.Fields(line) {
			k, _, _ := strings.Cut(f, "=")
			out = append(out, k)
		}
		return out
	}
	if rn, vn := names(string(r.Str)), names(string(v.Str)); !slices.Equal(append(rn, "lib-name", "lib-ver"), vn) {
		t.Errorf("CLIENT INFO fields:\n redis-sentinel %v\n vigil-sentinel %v", rn, vn)
	}
	// RESP3: HELLO and CONFIG GET are maps.
	for _, cmd := range [][]string{{"HELLO", "3"}, {"SENTINEL", "CONFIG", "GET", "announce-*"}} {
		r, v := both(cmd...)
		if shape(r) != shape(v) || (cmd[0] == "HELLO" && !slices.Equal(keys(r), keys(v))) {
			t.Errorf("%s:\n redis-sentinel %s %v\n vigil-sentinel %s %v", strings.Join(cmd, " "), shape(r), keys(r), shape(v), keys(v))
		}
	}
}

// toAny converts a flat array reply for fields().
func toAny(v resp.Value) []any {
	out := make([]any, len(v.Elems))
	for i, e := range v.Elems {
		out[i] = string(e.Str)
	}
	return out
}
