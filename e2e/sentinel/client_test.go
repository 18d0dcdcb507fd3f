package sentinel

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

// TestClientCommands: what go-redis and redis-cli do with CLIENT on a
// sentinel works: go-redis's CLIENT SETINFO on connect shows in CLIENT
// LIST, names set with SETNAME and HELLO SETNAME are listed, CLIENT KILL
// by id closes that connection (a subscriber here), and the old
// CLIENT KILL addr form works too.
func TestClientCommands(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t)
	s := startSentinels(t, 1, master.Port, 5000)[0]
	// go-redis's default identity: CLIENT SETINFO lib-name/lib-ver on connect.
	lib := redis.NewClient(&redis.Options{Addr: s.Addr, Protocol: 3, ClientName: "watcher"})
	t.Cleanup(func() { lib.Close() })
	ps := lib.Subscribe(ctx, "+switch-master")
	t.Cleanup(func() { ps.Close() })
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatalf("subscribing with go-redis's defaults: %v", err)
	}
	admin := sentinelClient(t, s)
	if err := admin.Do(ctx, "CLIENT", "SETNAME", "admin").Err(); err != nil {
		t.Fatal(err)
	}
	if name := admin.Do(ctx, "CLIENT", "GETNAME").Val(); name != "admin" {
		t.Fatalf("CLIENT GETNAME = %v", name)
	}
	myID, err := admin.Do(ctx, "CLIENT", "ID").Int64()
	if err != nil {
		t.Fatal(err)
	}
	list := admin.Do(ctx, "CLIENT", "LIST").String()
	var subID string
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, " name=watcher ") {
			if !strings.Contains(line, "flags=P") || !strings.Contains(line, "lib-name=go-redis") || !strings.Contains(line, "resp=3") {
				t.Fatalf("the subscriber's CLIENT LIST line: %s", line)
			}
			for _, f := range strings.Fields(line) {
				if v, ok := strings.CutPrefix(f, "id="); ok {
					subID = v
				}
			}
		}
	}
	if subID == "" || !strings.Contains(list, fmt.Sprintf("id=%d ", myID)) || !strings.Contains(list, "name=admin ") {
		t.Fatalf("CLIENT LIST:\n%s", list)
	}
	if n, err := admin.Do(ctx, "CLIENT", "KILL", "ID", subID).Int64(); err != nil || n != 1 {
		t.Fatalf("CLIENT KILL ID %s: %v %v", subID, n, err)
	}
	testutil.WaitFor(t, 5*time.Second, "the subscriber to be gone", func() (bool, string) {
		l := admin.Do(ctx, "CLIENT", "LIST").String()
		return !strings.Contains(l, "name=watcher "), l
	})
	// The old form, by address, on a raw connection; it may kill itself.
	raw := s.Raw()
	raw.Send("HELLO", "2", "SETNAME", "raw")
	raw.ReadValue()
	raw.Send("CLIENT", "INFO")
	info := string(raw.ReadValue().Str)
	if !strings.Contains(info, "name=raw ") {
		t.Fatalf("CLIENT INFO after HELLO SETNAME: %s", info)
	}
	var addr string
	for _, f := range strings.Fields(info) {
		if v, ok := strings.CutPrefix(f, "addr="); ok {
			addr = v
		}
	}
	if got := admin.Do(ctx, "CLIENT", "KILL", addr).Val(); got != "OK" {
		t.Fatalf("CLIENT KILL %s = %v", addr, got)
	}
	if _, _, err := raw.TryRead(); err == nil {
		t.Fatal("the killed connection is still open")
	}
}
