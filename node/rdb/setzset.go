package rdb

import (
	"fmt"
	"math"

	"github.com/vigilkv/vigil/node/types"
)

// Sets are written as RDB 10 types redis 7.0 reads: intsets, or plain
// member lists. Listpack sets (redis 7.2, type 20) are read too.

func setValueType(s *types.Set) byte {
	if s.Encoding() == "intset" {
		return TypeSetIntset
	}
	return TypeSet
}

func (e *Encoder) set(t byte, s *types.Set) {
	if t == TypeSetIntset {
		b, _ := s.IntsetBytes()
		e.String(b)
		return
	}
	e.Len(uint64(s.Len()))
	s.ForEach(func(m string) bool {
		e.StringS(m)
		return true
	})
}

func (d *Decoder) set(t byte) (*types.Set, error) {
	lim := d.Limits
	switch t {
	case TypeSetIntset:
		b, err := d.String()
		if err != nil {
			return nil, err
		}
		s, err := types.SetFromIntset(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if s.Len() > lim.SetMaxIntsetEntries {
			return rebuildSet(s, lim), nil
		}
		return s, nil
	case TypeSetListpack:
		lp, err := d.listpackBlob()
		if err != nil {
			return nil, err
		}
		s := types.NewSet()
		var buf [types.ListpackMaxIntLen]byte
		for p := lp.First(); p >= 0; p = lp.Next(p) {
			if !s.Add(lp.GetBytes(p, buf[:0]), lim.SetMaxIntsetEntries) {
				return nil, corrupt("duplicate set member")
			}
		}
		if s.Len() == 0 {
			return nil, corrupt("empty set")
		}
		return s, nil
	}
	n, err := d.Count()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, corrupt("empty set")
	}
	s := types.NewSet()
	for i := 0; i < n; i++ {
		m, err := d.String()
		if err != nil {
			return nil, err
		}
		if !s.Add(m, lim.SetMaxIntsetEntries) {
			return nil, corrupt("duplicate set member")
		}
	}
	return s, nil
}

// rebuildSet re-adds an intset's members under the configured limit, so a
// set too big for this server's intset limit converts.
func rebuildSet(s *types.Set, lim Limits) *types.Set {
	out := types.NewSet()
	s.ForEach(func(m string) bool {
		out.Add([]byte(m), lim.SetMaxIntsetEntries)
		return true
	})
	return out
}

// Sorted sets are written as redis 7.0 does: a listpack blob (type 17)
// or, for skiplists, member and binary-double score pairs from the
// highest to the lowest (type 5), so a loader inserting at the head does
// no searching.

func zsetValueType(z *types.ZSet) byte {
	if z.Listpack() != nil {
		return TypeZSetListpack
	}
	return TypeZSet2
}

func (e *Encoder) zset(t byte, z *types.ZSet) {
	if t == TypeZSetListpack {
		e.String(z.Listpack().Bytes())
		return
	}
	e.Len(uint64(z.Len()))
	z.Range(0, z.Len()-1, true, func(m []byte, s float64) bool {
		e.String(m)
		e.Double(s)
		return true
	})
}

func (d *Decoder) zset(t byte) (*types.ZSet, error) {
	lim := d.Limits
	switch t {
	case TypeZSetZiplist, TypeZSetListpack:
		lp, err := d.packedBlob(t == TypeZSetZiplist)
		if err != nil {
			return nil, err
		}
		if lp.Len() == 0 {
			return nil, corrupt("empty sorted set")
		}
		z, err := types.ZSetFromListpack(lp)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		z.ConvertIfNeeded(lim.ZSetMaxListpackEntries, lim.ZSetMaxListpackValue)
		return z, nil
	case TypeZSet, TypeZSet2:
	default:
		return nil, corrupt("unknown sorted set type %d", t)
	}
	n, err := d.Count()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, corrupt("empty sorted set")
	}
	members := make([][]byte, 0, min(n, 1<<16))
	scores := make([]float64, 0, min(n, 1<<16))
	maxLen := 0
	for i := 0; i < n; i++ {
		m, err := d.String()
		if err != nil {
			return nil, err
		}
		var s float64
		if t == TypeZSet2 {
			s, err = d.Double()
		} else {
			s, err = d.OldDouble()
		}
		if err != nil {
			return nil, err
		}
		if math.IsNaN(s) {
			return nil, corrupt("sorted set with a NaN score")
		}
		members = append(members, m)
		scores = append(scores, s)
		maxLen = max(maxLen, len(m))
	}
	// As redis does, a set small enough for a listpack becomes one,
	// whatever encoding the writer had.
	z := types.NewZSetFor(n, maxLen, lim.ZSetMaxListpackEntries, lim.ZSetMaxListpackValue)
	for i, m := range members {
		if !z.Set(m, scores[i], lim.ZSetMaxListpackEntries, lim.ZSetMaxListpackValue) {
			return nil, corrupt("duplicate sorted set member")
		}
	}
	return z, nil
}
