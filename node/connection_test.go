package node

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/node/config"
)

func TestConnectionCommandsRaw(t *testing.T) {
	_, addr := newTestServer(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "+PONG\r\n"},
		{[]string{"PING", "hi"}, "$2\r\nhi\r\n"},
		{[]string{"PING", "a", "b"}, "-ERR wrong number of arguments for 'ping' command\r\n"},
		{[]string{"ECHO", "x"}, "$1\r\nx\r\n"},
		{[]string{"SELECT", "16"}, "-ERR DB index is out of range\r\n"},
		{[]string{"SELECT", "x"}, "-ERR value is not an integer or out of range\r\n"},
		{[]string{"SELECT", "3"}, "+OK\r\n"},
		{[]string{"AUTH", "x"}, "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"},
		{[]string{"AUTH", "default", "anything"}, "+OK\r\n"},
		{[]string{"AUTH", "bob", "x"}, "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{[]string{"HELLO", "4"}, "-NOPROTO unsupported protocol version\r\n"},
		{[]string{"HELLO", "x"}, "-ERR Protocol version is not an integer or out of range\r\n"},
		{[]string{"HELLO", "3", "bogus"}, "-ERR Syntax error in HELLO option 'bogus'\r\n"},
		{[]string{"CLIENT", "SETNAME", "a b"}, "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"},
		{[]string{"CLIENT", "SETNAME", "worker"}, "+OK\r\n"},
		{[]string{"CLIENT", "GETNAME"}, "$6\r\nworker\r\n"},
		{[]string{"CLIENT", "SETINFO", "lib-name", "go-redis(x)"}, "+OK\r\n"},
		{[]string{"CLIENT", "SETINFO", "bad", "x"}, "-ERR Unrecognized option 'bad'\r\n"},
		{[]string{"CLIENT", "KILL", "1.2.3.4:5"}, "-ERR No such client\r\n"},
		{[]string{"CLIENT", "KILL", "TYPE", "bogus"}, "-ERR Unknown client type 'bogus'\r\n"},
		{[]string{"CLIENT", "NOSUCH"}, "-ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP.\r\n"},
		{[]string{"CLIENT", "NO-EVICT", "maybe"}, "-ERR syntax error\r\n"},
		{[]string{"CLIENT", "PAUSE", "x"}, "-ERR timeout is not an integer or out of range\r\n"},
		{[]string{"RESET"}, "+RESET\r\n"},
		{[]string{"CLIENT", "GETNAME"}, "$-1\r\n"},
	}
	rc := dialRaw(t, addr)
	for _, tt := range tests {
		if got := rc.Do(tt.args...); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.args, got, tt.want)
		}
	}
	if got := rc.Do("QUIT"); got != "+OK\r\n" {
		t.Errorf("QUIT: got %q", got)
	}
}

func TestHelloAndClientInfoWithGoRedis(t *testing.T) {
	_, addr := newTestServer(t)
	ctx := context.Background()
	for _, proto := range []int{2, 3} {
		c := newTestClient(t, addr, proto)
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatalf("proto %d: ping: %v", proto, err)
		}
		info, err := c.ClientInfo(ctx).Result()
		if err != nil {
			t.Fatalf("proto %d: client info: %v", proto, err)
		}
		if info.Resp != proto || !strings.HasPrefix(info.LibName, "go-redis") {
			t.Errorf("proto %d: client info resp=%d lib-name=%q", proto, info.Resp, info.LibName)
		}
		list, err := c.ClientList(ctx).Result()
		if err != nil || !strings.Contains(list, "cmd=client|list") {
			t.Errorf("proto %d: client list %q, %v", proto, list, err)
		}
	}
}

func TestRequirePass(t *testing.T) {
	_, addr := newTestServer(t, func(c *config.Config) { c.RequirePass = "s3cret" })
	rc := dialRaw(t, addr)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"ECHO", "k"}, "-NOAUTH Authentication required.\r\n"},
		{[]string{"HELLO", "3"}, "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n"},
		{[]string{"AUTH", "wrong"}, "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{[]string{"AUTH", "s3cret"}, "+OK\r\n"},
		{[]string{"PING"}, "+PONG\r\n"},
		{[]string{"RESET"}, "+RESET\r\n"},
		{[]string{"PING"}, "-NOAUTH Authentication required.\r\n"},
	}
	for _, tt := range tests {
		if got := rc.Do(tt.args...); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.args, got, tt.want)
		}
	}
	c := redis.NewClient(&redis.Options{Addr: addr, Password: "s3cret", Protocol: 3})
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("go-redis with password: %v", err)
	}
}

func TestClientKillAndReply(t *testing.T) {
	_, addr := newTestServer(t)
	victim := dialRaw(t, addr)
	victim.Do("CLIENT", "SETNAME", "victim")
	rc := dialRaw(t, addr)
	if got := rc.Do("CLIENT", "KILL", "TYPE", "normal"); got != ":1\r\n" {
		t.Fatalf("CLIENT KILL TYPE normal: %q", got)
	}
	victim.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := victim.br.ReadByte(); err == nil {
		t.Fatalf("killed client still connected")
	}
	// CLIENT REPLY SKIP drops exactly the next reply; OFF drops all until ON.
	rc.Send("CLIENT", "REPLY", "SKIP")
	rc.Send("ECHO", "skipped")
	if got := rc.Do("ECHO", "seen"); got != "$4\r\nseen\r\n" {
		t.Fatalf("after SKIP: %q", got)
	}
	rc.Send("CLIENT", "REPLY", "OFF")
	rc.Send("ECHO", "a")
	if got := rc.Do("CLIENT", "REPLY", "ON"); got != "+OK\r\n" {
		t.Fatalf("REPLY ON: %q", got)
	}
}

func TestSentinelReconfigTransaction(t *testing.T) {
	// What a real redis-sentinel sends to reconfigure an instance must
	// queue and run in one EXEC; an unknown command would abort it.
	_, addr := newTestServer(t)
	other := dialRaw(t, addr)
	other.Do("PING")
	rc := dialRaw(t, addr)
	for _, args := range [][]string{
		{"MULTI"}, {"CLIENT", "KILL", "TYPE", "normal"}, {"CLIENT", "KILL", "TYPE", "pubsub"},
	} {
		rc.Do(args...)
	}
	got := rc.Do("EXEC")
	if got != "*2\r\n:1\r\n:0\r\n" {
		t.Fatalf("EXEC: %q", got)
	}
}

// TestCommandPanicIsContained: a handler that panics (a bug some input
// found) must fail that command with an error, drop its partial reply and
// leave the server serving; it once left the keyspace lock held and hung
// every client.
func TestCommandPanicIsContained(t *testing.T) {
	s, addr := newTestServer(t)
	s.mu.Lock()
	s.cmds.lookup([]byte("echo")).Handler = func(c *Ctx) {
		c.W.Simple("partial")
		panic("boom")
	}
	s.mu.Unlock()
	conn := dialRaw(t, addr)
	if got, want := conn.Do("ECHO", "x"), "-ERR internal error executing 'echo' (a bug in vigil; the server logged it)\r\n"; got != want {
		t.Fatalf("ECHO = %q, want %q", got, want)
	}
	if got := conn.Do("SET", "k", "v"); got != "+OK\r\n" {
		t.Fatalf("SET after the panic = %q", got)
	}
	if got := dialRaw(t, addr).Do("GET", "k"); got != "$1\r\nv\r\n" {
		t.Fatalf("GET from another client = %q", got)
	}
}

// A deep pipeline is run with its keys read ahead (readAhead); the
// replies must be those of running the commands one by one, across SELECT
// and keys that change under it.
func TestDeepPipelineReplies(t *testing.T) {
	_, addr := newTestServer(t)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: addr, DB: 0})
	defer rdb.Close()
	pipe := rdb.Pipeline()
	const n = 300
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("key:%d", i%37)
		pipe.Set(ctx, k, i, 0)
		pipe.Get(ctx, k)
		if i%50 == 0 {
			pipe.Do(ctx, "SELECT", i/50%3)
		}
		if i%11 == 0 {
			pipe.Del(ctx, k)
			pipe.Exists(ctx, k)
		}
	}
	cmds, err := pipe.Exec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for _, c := range cmds {
		switch c := c.(type) {
		case *redis.StringCmd:
			if c.Val() != strconv.Itoa(i) {
				t.Fatalf("GET after SET %d = %q", i, c.Val())
			}
			i++
		case *redis.IntCmd:
			if c.Name() == "exists" && c.Val() != 0 {
				t.Fatalf("EXISTS after DEL = %d", c.Val())
			}
		}
	}
	if i != n {
		t.Fatalf("checked %d GETs, want %d", i, n)
	}
}

// Commands of one batch take their start time from where the previous one
// ended; a slow command in the middle must move that time on, or keys
// would outlive their TTL within the batch.
func TestBatchClockFollowsSlowCommands(t *testing.T) {
	_, addr := newTestServer(t)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	pipe := rdb.Pipeline()
	pipe.Set(ctx, "k", "v", 100*time.Millisecond)
	pipe.Do(ctx, "DEBUG", "SLEEP", "0.2")
	get := pipe.Get(ctx, "k")
	pttl := pipe.PTTL(ctx, "k")
	if _, err := pipe.Exec(ctx); err != redis.Nil {
		t.Fatalf("pipeline: %v (GET %q, PTTL %v)", err, get.Val(), pttl.Val())
	}
	if get.Err() != redis.Nil {
		t.Fatalf("GET 200 ms after a 100 ms TTL = %q, %v; want nil", get.Val(), get.Err())
	}
}

// A command held by CLIENT PAUSE runs later with a fresh clock, and so do
// the commands after it in the same batch: a key that expired during the
// pause must read as gone.
func TestBatchClockAfterPause(t *testing.T) {
	_, addr := newTestServer(t)
	ctx := context.Background()
	admin := redis.NewClient(&redis.Options{Addr: addr})
	defer admin.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	// Only the lookup may find the key expired, not the expiry cycle.
	if err := admin.Do(ctx, "DEBUG", "SET-ACTIVE-EXPIRE", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := admin.Set(ctx, "short", "v", 150*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	if err := admin.Do(ctx, "CLIENT", "PAUSE", 400, "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	pipe := rdb.Pipeline()
	pipe.Ping(ctx)
	pipe.Set(ctx, "other", "v", 0) // held until the pause ends
	get := pipe.Get(ctx, "short")
	pipe.Exec(ctx)
	if get.Err() != redis.Nil {
		t.Fatalf("GET of a key whose TTL ran out during the pause = %q, %v; want nil", get.Val(), get.Err())
	}
}
