package interop

import (
	"context"
	"reflect"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/vigilkv/vigil/internal/testutil"
)

// TestDumpRestoreBothWays moves values of every encoding between a real
// redis-server and vigil-server with DUMP and RESTORE, in both
// directions, and checks they arrive intact.
func TestDumpRestoreBothWays(t *testing.T) {
	testutil.RequireRedis(t)
	ctx := context.Background()
	rs := testutil.StartRedis(t).Client()
	vs := testutil.StartVigil(t).Client()
	for _, dir := range []struct {
		name     string
		from, to *redis.Client
	}{{"redis to vigil", rs, vs}, {"vigil to redis", vs, rs}} {
		t.Run(dir.name, func(t *testing.T) {
			dir.from.FlushAll(ctx)
			dir.to.FlushAll(ctx)
			populateTypes(ctx, dir.from)
			for _, k := range typeKeys {
				payload, err := dir.from.Dump(ctx, k).Result()
				if err != nil {
					t.Fatalf("DUMP %s: %v", k, err)
				}
				if err := dir.to.Restore(ctx, k, 0, payload).Err(); err != nil {
					t.Fatalf("RESTORE %s: %v", k, err)
				}
				want, got := valueOf(ctx, dir.from, k), valueOf(ctx, dir.to, k)
				if !reflect.DeepEqual(want, got) {
					t.Fatalf("%s: restored value differs", k)
				}
				we, ge := dir.from.ObjectEncoding(ctx, k).Val(), dir.to.ObjectEncoding(ctx, k).Val()
				if we != ge {
					t.Errorf("%s: encoding %q after restore, source has %q", k, ge, we)
				}
			}
			if err := dir.to.Restore(ctx, "fresh-key", 0, "garbage").Err(); err == nil || err.Error() != "ERR DUMP payload version or checksum are wrong" {
				t.Errorf("RESTORE garbage: %v", err)
			}
			if err := dir.to.Restore(ctx, "int", 0, "garbage").Err(); err == nil || err.Error() != "BUSYKEY Target key name already exists." {
				t.Errorf("RESTORE onto an existing key: %v", err)
			}
		})
	}
}
