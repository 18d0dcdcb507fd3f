package rdb

import (
	"fmt"

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

func zsetValueType(z *types.ZSet) byte { return TypeZSet2 }

func (e *Encoder) zset(t byte, z *types.ZSet) { e.Len(0) }

func (d *Decoder) zset(t byte) (*types.ZSet, error) {
	return nil, corrupt("sorted sets are not supported yet")
}
