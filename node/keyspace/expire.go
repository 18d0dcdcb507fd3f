package keyspace

import "time"

const (
	activeExpireKeysPerLoop = 20
	// Keep sampling a db while more than this percentage of the sampled
	// keys were expired.
	activeExpireAcceptableStale = 10
)

// ActiveExpireCycle deletes expired keys by walking each db's TTL table
// with a persistent cursor, in rounds of about 20 keys, as Redis's active
// expire cycle does: a db gets another round while more than 10% of a
// round was expired, and the whole cycle stops when the budget is spent.
// It does nothing on a replica. It returns how many keys it deleted.
func (ks *Keyspace) ActiveExpireCycle(budget time.Duration) int {
	if ks.Config.ReplicaMode || ks.Config.NoActiveExpire {
		return 0
	}
	start := ks.clock()
	deleted := 0
	for _, db := range ks.DBs {
		for db.expires.Len() > 0 {
			ks.UpdateTime()
			sampled, expired := 0, 0
			var ttlSum, ttlN int64
			var victims []string
			for sampled < activeExpireKeysPerLoop {
				db.expireCursor = db.expires.Scan(db.expireCursor, func(key string, when *int64) {
					sampled++
					if *when <= ks.nowMs {
						victims = append(victims, key)
					} else {
						ttlSum += *when - ks.nowMs
						ttlN++
					}
				})
				if db.expireCursor == 0 {
					break
				}
			}
			for _, k := range victims {
				if db.isExpired(k) {
					db.deleteExpired(k)
					expired++
				}
			}
			deleted += expired
			if ttlN > 0 {
				avg := ttlSum / ttlN
				if db.AvgTTL == 0 {
					db.AvgTTL = avg
				} else {
					db.AvgTTL = (db.AvgTTL/50)*49 + avg/50
				}
			}
			if ks.clock().Sub(start) > budget {
				return deleted
			}
			if sampled == 0 || expired*100/sampled <= activeExpireAcceptableStale {
				break
			}
		}
	}
	return deleted
}
