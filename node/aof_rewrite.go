package node

import (
	"strconv"

	"github.com/vigilkv/vigil/internal/resp"
	"github.com/vigilkv/vigil/node/keyspace"
	"github.com/vigilkv/vigil/node/types"
)

// aofRewriteBatch bounds the elements of one rewritten command, as
// Redis's AOF_REWRITE_ITEMS_PER_CMD.
const aofRewriteBatch = 64

// appendRewriteCommands appends the commands that recreate key (an AOF
// base written without the RDB preamble).
func appendRewriteCommands(buf []byte, key string, v *keyspace.Value, expireMs int64) []byte {
	batched := func(cmd string, each func(add func(parts ...[]byte))) {
		args := [][]byte{[]byte(cmd), []byte(key)}
		n := 0
		each(func(parts ...[]byte) {
			for _, p := range parts {
				args = append(args, append([]byte(nil), p...))
			}
			n++
			if n == aofRewriteBatch {
				buf = resp.AppendCommand(buf, args...)
				args, n = args[:2], 0
			}
		})
		if n > 0 {
			buf = resp.AppendCommand(buf, args...)
		}
	}
	switch v.Type() {
	case keyspace.TypeString:
		buf = resp.AppendCommand(buf, []byte("SET"), []byte(key), v.Bytes())
	case keyspace.TypeList:
		batched("RPUSH", func(add func(...[]byte)) {
			for _, e := range v.List().Strings() {
				add([]byte(e))
			}
		})
	case keyspace.TypeHash:
		batched("HSET", func(add func(...[]byte)) {
			v.Hash().ForEach(func(f, val []byte) bool { add(f, val); return true })
		})
	case keyspace.TypeSet:
		batched("SADD", func(add func(...[]byte)) {
			v.Set().ForEach(func(m string) bool { add([]byte(m)); return true })
		})
	case keyspace.TypeZSet:
		batched("ZADD", func(add func(...[]byte)) {
			v.ZSet().ForEach(func(m []byte, score float64) bool {
				add(types.AppendScore(nil, score), m)
				return true
			})
		})
	}
	if expireMs >= 0 {
		buf = resp.AppendCommandStrings(buf, "PEXPIREAT", key, strconv.FormatInt(expireMs, 10))
	}
	return buf
}
