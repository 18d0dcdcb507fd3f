package node

import (
	"strconv"

	"github.com/vigilkv/vigil/node/rdb"
)

// dumpCommands: DUMP and RESTORE, which move values between servers
// (vigil or redis) in Redis's DUMP payload format.
func dumpCommands() []*Command {
	return []*Command{
		{Name: "dump", Arity: 2, Flags: FlagReadonly, FirstKey: 1, LastKey: 1, KeyStep: 1,
			Categories: []string{"keyspace", "read", "slow"}, Group: "generic", Since: "2.6.0",
			Summary:    "Return a serialized version of the value stored at the specified key.",
			Complexity: "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).",
			Handler:    cmdDump},
		{Name: "restore", Arity: -4, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 1, KeyStep: 1,
			Categories: []string{"keyspace", "write", "slow", "dangerous"}, Group: "generic", Since: "2.6.0",
			Summary:    "Create a key using the provided serialized value, previously obtained using DUMP.",
			Complexity: "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).",
			Handler:    cmdRestore},
	}
}

func cmdDump(c *Ctx) {
	v := c.DB.Lookup(c.Key(1))
	if v == nil {
		c.W.Null()
		return
	}
	c.W.Bulk(rdb.Dump(v, true))
}

// rdbLimits are the configured encoding thresholds for loading values.
func (s *Server) rdbLimits() rdb.Limits {
	cfg := s.cfg
	return rdb.Limits{
		ListFill:               cfg.ListMaxListpackSize,
		HashMaxListpackEntries: cfg.HashMaxListpackEntries,
		HashMaxListpackValue:   cfg.HashMaxListpackValue,
		SetMaxIntsetEntries:    cfg.SetMaxIntsetEntries,
		SetMaxListpackEntries:  cfg.SetMaxListpackEntries,
		SetMaxListpackValue:    cfg.SetMaxListpackValue,
		ZSetMaxListpackEntries: cfg.ZSetMaxListpackEntries,
		ZSetMaxListpackValue:   cfg.ZSetMaxListpackValue,
		ProtoMaxBulkLen:        cfg.ProtoMaxBulkLen,
	}
}

func cmdRestore(c *Ctx) {
	key := c.Key(1)
	replace, absTTL := false, false
	idle, freq := int64(-1), int64(-1)
	for i := 4; i < len(c.Args); i++ {
		more := len(c.Args) - i - 1
		switch {
		case c.ArgIs(i, "replace"):
			replace = true
		case c.ArgIs(i, "absttl"):
			absTTL = true
		case c.ArgIs(i, "idletime") && more >= 1 && freq < 0:
			v, ok := c.Int(i + 1)
			if !ok {
				return
			}
			if v < 0 {
				c.Error("ERR Invalid IDLETIME value, must be >= 0")
				return
			}
			idle = v
			i++
		case c.ArgIs(i, "freq") && more >= 1 && idle < 0:
			v, ok := c.Int(i + 1)
			if !ok {
				return
			}
			if v < 0 || v > 255 {
				c.Error("ERR Invalid FREQ value, must be >= 0 and <= 255")
				return
			}
			freq = v
			i++
		default:
			c.SyntaxError()
			return
		}
	}
	ttl, ok := c.Int(2)
	if !ok {
		return
	}
	if ttl < 0 {
		c.Error("ERR Invalid TTL value, must be >= 0")
		return
	}
	if !replace && c.DB.LookupWrite(key) != nil {
		c.Error("BUSYKEY Target key name already exists.")
		return
	}
	if err := rdb.VerifyDump(c.Args[3]); err != nil {
		c.Error("ERR DUMP payload version or checksum are wrong")
		return
	}
	val, err := rdb.Restore(c.Args[3], c.Srv.rdbLimits())
	if err != nil {
		c.Error("ERR Bad data format")
		return
	}
	now := c.Srv.ks.NowMs()
	if ttl > 0 && !absTTL {
		ttl += now
	}
	if ttl > 0 && ttl <= now {
		// Already expired: the restore is a deletion.
		deleted := c.DB.Delete(key)
		if deleted {
			c.Notify('g', "del", key)
			c.PropagateStrings("DEL", key)
			c.Changed(1)
		}
		c.W.OK()
		return
	}
	if replace {
		if c.DB.Delete(key) {
			c.Changed(1)
		}
	}
	c.DB.Set(key, val, false)
	if ttl > 0 {
		c.DB.SetExpire(key, ttl)
	}
	if v := c.DB.Peek(key); v != nil {
		if idle >= 0 {
			c.Srv.ks.SetIdle(v, idle)
		}
		if freq >= 0 {
			c.Srv.ks.SetFreq(v, int(freq))
		}
	}
	c.DB.SignalModified(key)
	c.Notify('g', "restore", key)
	c.Changed(1)
	if ttl > 0 && !absTTL {
		// The relative TTL would mean a later expiry on a replica that
		// applies it later: propagate the absolute time.
		args := append([][]byte(nil), c.Args...)
		args[2] = []byte(strconv.FormatInt(ttl, 10))
		args = append(args, []byte("ABSTTL"))
		c.Propagate(args...)
	}
	c.W.OK()
}
