package node

import (
	"context"
	"testing"
	"time"

	"github.com/vigilkv/vigil/node/config"
)

func TestPubSubRawShapes(t *testing.T) {
	_, addr := newTestServer(t)
	sub := dialRaw(t, addr)
	pub := dialRaw(t, addr)
	steps := []struct {
		conn *rawConn
		args []string
		want []string // one or more replies
	}{
		{sub, []string{"UNSUBSCRIBE"}, []string{"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"}},
		{sub, []string{"SUBSCRIBE", "a", "b"}, []string{"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n", "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"}},
		{sub, []string{"PSUBSCRIBE", "a*"}, []string{"*3\r\n$10\r\npsubscribe\r\n$2\r\na*\r\n:3\r\n"}},
		{sub, []string{"PING"}, []string{"*2\r\n$4\r\npong\r\n$0\r\n\r\n"}},
		{sub, []string{"ECHO", "x"}, []string{"-ERR Can't execute 'echo': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"}},
		{pub, []string{"PUBLISH", "a", "hi"}, []string{":2\r\n"}},
		{sub, nil, []string{"*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n", "*4\r\n$8\r\npmessage\r\n$2\r\na*\r\n$1\r\na\r\n$2\r\nhi\r\n"}},
		{pub, []string{"PUBSUB", "NUMSUB", "a", "zz"}, []string{"*4\r\n$1\r\na\r\n:1\r\n$2\r\nzz\r\n:0\r\n"}},
		{pub, []string{"PUBSUB", "NUMPAT"}, []string{":1\r\n"}},
		{pub, []string{"PUBSUB", "CHANNELS"}, []string{"*2\r\n$1\r\na\r\n$1\r\nb\r\n"}},
		{sub, []string{"UNSUBSCRIBE", "a"}, []string{"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:2\r\n"}},
		{sub, []string{"RESET"}, []string{"+RESET\r\n"}},
		{pub, []string{"PUBLISH", "a", "hi"}, []string{":0\r\n"}},
	}
	for _, st := range steps {
		if st.args != nil {
			st.conn.Send(st.args...)
		}
		for _, w := range st.want {
			if got := st.conn.Read(); got != w {
				t.Fatalf("%q: got %q, want %q", st.args, got, w)
			}
		}
	}
}

func TestPubSubResp3Push(t *testing.T) {
	_, addr := newTestServer(t)
	sub := dialRaw(t, addr)
	sub.Do("HELLO", "3")
	if got := sub.Do("SUBSCRIBE", "c"); got != ">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n" {
		t.Fatalf("subscribe: %q", got)
	}
	// RESP3 clients may run any command while subscribed.
	if got := sub.Do("ECHO", "x"); got != "$1\r\nx\r\n" {
		t.Fatalf("echo while subscribed: %q", got)
	}
	// A client publishing to its own channel gets the push first.
	sub.Send("PUBLISH", "c", "m")
	if got := sub.Read(); got != ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n" {
		t.Fatalf("push: %q", got)
	}
	if got := sub.Read(); got != ":1\r\n" {
		t.Fatalf("publish reply: %q", got)
	}
}

func TestKeyspaceNotificationsGoRedis(t *testing.T) {
	_, addr := newTestServer(t, func(c *config.Config) { c.NotifyKeyspaceEvent = "KEA" })
	ctx := context.Background()
	c := newTestClient(t, addr, 3)
	ps := c.PSubscribe(ctx, "__key*__:*")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.HSet(ctx, "h", "f", "v").Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"__keyspace@0__:h": "hset", "__keyevent@0__:hset": "h"}
	deadline := time.After(5 * time.Second)
	for len(want) > 0 {
		select {
		case m := <-ps.Channel():
			if w, ok := want[m.Channel]; ok && w == m.Payload {
				delete(want, m.Channel)
			}
		case <-deadline:
			t.Fatalf("missing notifications: %v", want)
		}
	}
}

func TestNotifyFlagsCanonicalForm(t *testing.T) {
	tests := []struct{ in, want string }{
		{"KEA", "AKE"}, {"AKEmn", "AKEm"}, {"gK", "gK"}, {"Em", "Em"}, {"nKE$", "$nKE"}, {"xE", "xE"}, {"", ""},
	}
	for _, tt := range tests {
		got, ok := NotifyEventsValid(tt.in)
		if !ok || got != tt.want {
			t.Errorf("%q: got %q %v, want %q", tt.in, got, ok, tt.want)
		}
	}
	if _, ok := NotifyEventsValid("KEq"); ok {
		t.Errorf("KEq accepted")
	}
}
