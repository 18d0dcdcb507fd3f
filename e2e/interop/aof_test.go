package interop

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/vigilkv/vigil/internal/testutil"
)

// TestAOFBothWays writes a dataset of every type through an AOF (a base
// from a rewrite plus incr commands, with and without the RDB preamble)
// on one server, starts the other kind of server on a copy of the AOF
// directory, and compares every key. vigil's AOF must pass
// redis-check-aof.
func TestAOFBothWays(t *testing.T) {
	testutil.RequireRedis(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		from, to func(t testing.TB, args ...string) *testutil.Proc
		preamble string
	}{
		{"redis to vigil", testutil.StartRedis, testutil.StartVigil, "yes"},
		{"vigil to redis", testutil.StartVigil, testutil.StartRedis, "yes"},
		{"vigil to redis without preamble", testutil.StartVigil, testutil.StartRedis, "no"},
		{"redis to vigil without preamble", testutil.StartRedis, testutil.StartVigil, "no"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			aofArgs := []string{"--appendonly", "yes", "--appendfsync", "always", "--aof-use-rdb-preamble", tc.preamble}
			src := tc.from(t, aofArgs...)
			sc := src.Client()
			sc.Set(ctx, "before-rewrite", "1", 0)
			populateTypes(ctx, sc)
			if err := sc.BgRewriteAOF(ctx).Err(); err != nil {
				t.Fatalf("BGREWRITEAOF: %v", err)
			}
			testutil.WaitInfo(t, sc, "persistence", "aof_rewrite_in_progress:0")
			// More writes land in the new incr file.
			sc.Set(ctx, "after-rewrite", "2", time.Hour)
			sc.RPush(ctx, "list", "pushed-after")
			sc.Del(ctx, "before-rewrite")
			dir := t.TempDir()
			aofDir := filepath.Join(dir, "appendonlydir")
			copyDir(t, filepath.Join(src.Dir, "appendonlydir"), aofDir)
			if tc.name[:5] == "vigil" {
				manifest := filepath.Join(aofDir, "appendonly.aof.manifest")
				if out, err := exec.Command("redis-check-aof", manifest).CombinedOutput(); err != nil {
					t.Fatalf("redis-check-aof refuses vigil's AOF: %v\n%s", err, out)
				}
			}
			dst := tc.to(t, append([]string{"--dir", dir}, aofArgs...)...)
			dc := dst.Client()
			waitLoaded(t, dc)
			for _, k := range append(typeKeys, "after-rewrite", "before-rewrite") {
				if want, got := valueOf(ctx, sc, k), valueOf(ctx, dc, k); !reflect.DeepEqual(want, got) {
					t.Errorf("%s: value differs after loading the AOF", k)
				}
			}
			if ttl := dc.TTL(ctx, "after-rewrite").Val(); ttl < 59*time.Minute {
				t.Errorf("TTL after loading: %v", ttl)
			}
		})
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
