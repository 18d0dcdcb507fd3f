package upgrade

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilkv/vigil/internal/testutil"
)

func TestReloadConfig(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "vigil.conf")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("maxmemory 1mb\nhz 10\ndatabases 16\n")
	p := testutil.StartVigil(t, conf)
	ctx := context.Background()
	c := p.Client()
	get := func(name string) string {
		t.Helper()
		v, err := c.ConfigGet(ctx, name).Result()
		if err != nil {
			t.Fatal(err)
		}
		return v[name]
	}

	write("maxmemory 2mb\nhz 20\ndatabases 32\n")
	got, err := c.Do(ctx, "CONFIG", "RELOAD").Slice()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || !same(got[1], "maxmemory", "hz") || !same(got[3], "databases") {
		t.Errorf("CONFIG RELOAD replied %v", got)
	}
	if get("maxmemory") != "2097152" || get("hz") != "20" || get("databases") != "16" {
		t.Errorf("after CONFIG RELOAD: maxmemory %s hz %s databases %s", get("maxmemory"), get("hz"), get("databases"))
	}

	// SIGHUP does the same.
	write("maxmemory 3mb\nhz 20\ndatabases 32\n")
	if err := syscall.Kill(p.Pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for get("maxmemory") != "3145728" {
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP did not reload: maxmemory %s", get("maxmemory"))
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A bad file changes nothing and says where it is wrong.
	write("maxmemory 4mb\nhz banana\n")
	err = c.Do(ctx, "CONFIG", "RELOAD").Err()
	if err == nil || !strings.Contains(err.Error(), "vigil.conf") || !strings.Contains(err.Error(), "vigil.conf:2:") {
		t.Errorf("CONFIG RELOAD of a bad file: %v", err)
	}
	if get("maxmemory") != "3145728" {
		t.Errorf("a bad file changed maxmemory to %s", get("maxmemory"))
	}
}

// same reports whether v is a list of exactly the names, in any order.
func same(v any, names ...string) bool {
	list, ok := v.([]any)
	if !ok || len(list) != len(names) {
		return false
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	for _, x := range list {
		if s, _ := x.(string); !want[s] {
			return false
		}
	}
	return true
}
