package node

import (
	"strings"

	"github.com/vigilkv/vigil/node/keyspace"
)

// evictionCandidate is one sampled key and how good a victim it is.
type evictionCandidate struct {
	db   *keyspace.DB
	key  string
	rank int64
}

// maxEvictionsPerCall bounds the work one command can trigger, so a large
// drop of maxmemory is worked off over several commands, as Redis does
// with its eviction time limit.
const maxEvictionsPerCall = 1000

// performEvictions frees memory under maxmemory by the configured policy:
// it samples maxmemory-samples keys per db (all keys, or only those with a
// TTL for volatile-*), evicts the best candidate (longest idle for LRU,
// least used for LFU, nearest expiry for TTL, any for random) and repeats
// until used memory is under the limit or nothing is evictable.
func (s *Server) performEvictions() {
	policy := s.cfg.MaxMemoryPolicy
	if s.cfg.MaxMemory <= 0 || policy == "noeviction" || s.repl.isReplica() {
		return
	}
	volatile := strings.HasPrefix(policy, "volatile-")
	for n := 0; n < maxEvictionsPerCall && s.overMaxMemory(); n++ {
		best, ok := s.pickVictim(policy, volatile)
		if !ok {
			return
		}
		best.db.Delete(best.key)
		s.ks.EvictedKeys++
		s.repl.feed(best.db.ID, [][]byte{[]byte("DEL"), []byte(best.key)})
		s.notifyKeyspaceEvent('e', "evicted", best.key, best.db.ID)
	}
}

func (s *Server) pickVictim(policy string, volatile bool) (evictionCandidate, bool) {
	var best evictionCandidate
	found := false
	samples := s.cfg.MaxMemorySamples
	consider := func(db *keyspace.DB, key string, rank int64) {
		if !found || rank > best.rank {
			best = evictionCandidate{db: db, key: key, rank: rank}
			found = true
		}
	}
	for _, db := range s.ks.DBs {
		if db.Len() == 0 {
			continue
		}
		switch {
		case strings.HasSuffix(policy, "-random"):
			if volatile {
				db.SampleVolatile(samples, func(k string, _ int64) bool {
					consider(db, k, s.ks.Rand.Int64())
					return true
				})
			} else if key, ok := db.RandomKey(); ok {
				consider(db, key, s.ks.Rand.Int64())
			}
		case policy == "volatile-ttl":
			db.SampleVolatile(samples, func(k string, when int64) bool {
				consider(db, k, -when)
				return true
			})
		case volatile:
			db.SampleVolatile(samples, func(k string, _ int64) bool {
				if v := db.Peek(k); v != nil {
					consider(db, k, s.ks.EvictionRank(v))
				}
				return true
			})
		default:
			db.SampleKeys(samples, func(k string, v *keyspace.Value) bool {
				consider(db, k, s.ks.EvictionRank(v))
				return true
			})
		}
	}
	if found {
		best.key = strings.Clone(best.key)
	}
	return best, found
}

// overMaxMemory reports whether used memory exceeds maxmemory.
func (s *Server) overMaxMemory() bool {
	return s.cfg.MaxMemory > 0 && s.usedMemory() > s.cfg.MaxMemory
}
