package node

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vigilkv/vigil/node/config"
)

func TestEvictionPolicies(t *testing.T) {
	ctx := context.Background()
	for _, policy := range []string{"allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "noeviction"} {
		t.Run(policy, func(t *testing.T) {
			s, addr := newTestServer(t, func(c *config.Config) {
				c.MaxMemory = baseMemory + 200<<10
				c.MaxMemoryPolicy = policy
			})
			c := newTestClient(t, addr, 3)
			val := strings.Repeat("x", 1000)
			// Persistent keys first: volatile-* must never evict them.
			for i := 0; i < 50; i++ {
				if err := c.Set(ctx, fmt.Sprint("keep:", i), val, 0).Err(); err != nil {
					t.Fatal(err)
				}
			}
			var oom int
			for i := 0; i < 1000; i++ {
				err := c.Set(ctx, fmt.Sprint("vol:", i), val, 3600e9).Err()
				if err != nil {
					if !strings.HasPrefix(err.Error(), "OOM command not allowed") {
						t.Fatal(err)
					}
					oom++
				}
			}
			s.Lock()
			used, limit := s.usedMemory(), s.cfg.MaxMemory
			s.Unlock()
			if used > limit+4<<10 {
				t.Errorf("used memory %d over maxmemory %d", used, limit)
			}
			if policy == "noeviction" {
				if oom == 0 {
					t.Errorf("noeviction never refused a write")
				}
				return
			}
			if oom != 0 {
				t.Errorf("%d writes refused", oom)
			}
			if strings.HasPrefix(policy, "volatile-") {
				if n := c.Exists(ctx, func() []string {
					var ks []string
					for i := 0; i < 50; i++ {
						ks = append(ks, fmt.Sprint("keep:", i))
					}
					return ks
				}()...).Val(); n != 50 {
					t.Errorf("volatile policy evicted persistent keys: %d of 50 left", n)
				}
			}
		})
	}
}
