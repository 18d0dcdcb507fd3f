package interop

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

// TestRDBFilesBothWays saves a dataset of every type and encoding (with
// TTLs and several databases) with SAVE on one server, starts the other
// kind of server on the file, and compares every key, its encoding and
// its TTL. vigil's files must also pass redis-check-rdb.
func TestRDBFilesBothWays(t *testing.T) {
	testutil.RequireRedis(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		from, to func(t testing.TB, args ...string) *testutil.Proc
	}{
		{"redis to vigil", testutil.StartRedis, testutil.StartVigil},
		{"vigil to redis", testutil.StartVigil, testutil.StartRedis},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.from(t)
			sc := src.Client()
			populateTypes(ctx, sc)
			sc.Set(ctx, "ttl", "v", time.Hour)
			c5 := src.Client(func(o *redis.Options) { o.DB = 5 })
			c5.Set(ctx, "in-db-5", "x", 0)
			if err := sc.Save(ctx).Err(); err != nil {
				t.Fatalf("SAVE: %v", err)
			}
			file := filepath.Join(src.Dir, "dump.rdb")
			if tc.name == "vigil to redis" {
				out, err := exec.Command("redis-check-rdb", file).CombinedOutput()
				if err != nil {
					t.Fatalf("redis-check-rdb refuses vigil's file: %v\n%s", err, out)
				}
			}
			dir := t.TempDir()
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "dump.rdb"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			dst := tc.to(t, "--dir", dir)
			dc := dst.Client()
			waitLoaded(t, dc)
			for _, k := range typeKeys {
				if want, got := valueOf(ctx, sc, k), valueOf(ctx, dc, k); !reflect.DeepEqual(want, got) {
					t.Errorf("%s: value differs after loading", k)
				}
				if we, ge := sc.ObjectEncoding(ctx, k).Val(), dc.ObjectEncoding(ctx, k).Val(); we != ge {
					t.Errorf("%s: encoding %q after loading, source has %q", k, ge, we)
				}
			}
			if ttl := dc.TTL(ctx, "ttl").Val(); ttl < 59*time.Minute || ttl > time.Hour {
				t.Errorf("TTL after loading: %v", ttl)
			}
			d5 := dst.Client(func(o *redis.Options) { o.DB = 5 })
			if v := d5.Get(ctx, "in-db-5").Val(); v != "x" {
				t.Errorf("db 5 key after loading: %q", v)
			}
			if n, m := sc.DBSize(ctx).Val(), dc.DBSize(ctx).Val(); n != m {
				t.Errorf("DBSIZE %d after loading, source has %d", m, n)
			}
		})
	}
}

// waitLoaded waits until a server has finished loading its dataset.
func waitLoaded(t testing.TB, c *redis.Client) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if err := c.Ping(context.Background()).Err(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("server still loading after 30s")
}
