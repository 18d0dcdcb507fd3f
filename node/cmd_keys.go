package node

import (
	"math"
	"strconv"
	"strings"

	"github.com/vigilkv/vigil/internal/glob"
	"github.com/vigilkv/vigil/node/keyspace"
	"github.com/vigilkv/vigil/node/types"
)

// keyCommands: the generic (type-independent) key commands.
func keyCommands() []*Command {
	kwf := []string{"keyspace", "write", "fast"}
	kws := []string{"keyspace", "write", "slow"}
	krf := []string{"keyspace", "read", "fast"}
	krs := []string{"keyspace", "read", "slow"}
	key1 := func(cmd *Command) *Command {
		cmd.FirstKey, cmd.LastKey, cmd.KeyStep, cmd.Group = 1, 1, 1, "generic"
		return cmd
	}
	keysAll := func(cmd *Command) *Command {
		cmd.FirstKey, cmd.LastKey, cmd.KeyStep, cmd.Group = 1, -1, 1, "generic"
		return cmd
	}
	keys2 := func(cmd *Command) *Command {
		cmd.FirstKey, cmd.LastKey, cmd.KeyStep, cmd.Group = 1, 2, 1, "generic"
		return cmd
	}
	expire := func(name, since, summary string, unitMs int64, abs bool) *Command {
		return key1(&Command{Name: name, Arity: -3, Flags: FlagWrite | FlagFast, Categories: kwf, Since: since,
			Summary: summary, Complexity: "O(1)", Handler: func(c *Ctx) { expireGeneric(c, unitMs, abs) }})
	}
	ttl := func(name, since, summary string, ms, abs bool) *Command {
		return key1(&Command{Name: name, Arity: 2, Flags: FlagReadonly | FlagFast, Categories: krf, Since: since,
			Summary: summary, Complexity: "O(1)", Handler: func(c *Ctx) { ttlGeneric(c, ms, abs) }})
	}
	objSub := func(name string, summary string, h func(*Ctx)) *Command {
		cmd := key1(&Command{Name: "object|" + name, Arity: 3, Flags: FlagReadonly, Categories: krs, Since: "2.2.3",
			Summary: summary, Complexity: "O(1)", Handler: h})
		cmd.FirstKey, cmd.LastKey = 2, 2
		return cmd
	}
	return []*Command{
		keysAll(&Command{Name: "del", Arity: -2, Flags: FlagWrite, Categories: kws, Since: "1.0.0",
			Summary: "Delete a key", Complexity: "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).", Handler: cmdDel}),
		keysAll(&Command{Name: "unlink", Arity: -2, Flags: FlagWrite | FlagFast, Categories: kwf, Since: "4.0.0",
			Summary: "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", Complexity: "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.", Handler: cmdDel}),
		keysAll(&Command{Name: "exists", Arity: -2, Flags: FlagReadonly | FlagFast, Categories: krf, Since: "1.0.0",
			Summary: "Determine if a key exists", Complexity: "O(N) where N is the number of keys to check.", Handler: cmdExists}),
		keysAll(&Command{Name: "touch", Arity: -2, Flags: FlagReadonly | FlagFast, Categories: krf, Since: "3.2.1",
			Summary: "Alters the last access time of a key(s). Returns the number of existing keys specified.", Complexity: "O(N) where N is the number of keys that will be touched.", Handler: cmdExists}),
		key1(&Command{Name: "type", Arity: 2, Flags: FlagReadonly | FlagFast, Categories: krf, Since: "1.0.0",
			Summary: "Determine the type stored at key", Complexity: "O(1)", Handler: cmdType}),
		{Name: "keys", Arity: 2, Flags: FlagReadonly, Categories: []string{"keyspace", "read", "slow", "dangerous"}, Group: "generic", Since: "1.0.0",
			Summary: "Find all keys matching the given pattern", Complexity: "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.", Handler: cmdKeys},
		{Name: "scan", Arity: -2, Flags: FlagReadonly, Categories: krs, Group: "generic", Since: "2.8.0",
			Summary: "Incrementally iterate the keys space", Complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", Handler: cmdScan},
		{Name: "randomkey", Arity: 1, Flags: FlagReadonly, Categories: krs, Group: "generic", Since: "1.0.0",
			Summary: "Return a random key from the keyspace", Complexity: "O(1)", Handler: cmdRandomKey},
		keys2(&Command{Name: "rename", Arity: 3, Flags: FlagWrite, Categories: kws, Since: "1.0.0",
			Summary: "Rename a key", Complexity: "O(1)", Handler: func(c *Ctx) { renameGeneric(c, false) }}),
		keys2(&Command{Name: "renamenx", Arity: 3, Flags: FlagWrite | FlagFast, Categories: kwf, Since: "1.0.0",
			Summary: "Rename a key, only if the new key does not exist", Complexity: "O(1)", Handler: func(c *Ctx) { renameGeneric(c, true) }}),
		keys2(&Command{Name: "copy", Arity: -3, Flags: FlagWrite | FlagDenyOOM, Categories: kws, Since: "6.2.0",
			Summary: "Copy a key", Complexity: "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.", Handler: cmdCopy}),
		key1(&Command{Name: "move", Arity: 3, Flags: FlagWrite | FlagFast, Categories: kwf, Since: "1.0.0",
			Summary: "Move a key to another database", Complexity: "O(1)", Handler: cmdMove}),
		expire("expire", "1.0.0", "Set a key's time to live in seconds", 1000, false),
		expire("pexpire", "2.6.0", "Set a key's time to live in milliseconds", 1, false),
		expire("expireat", "1.2.0", "Set the expiration for a key as a UNIX timestamp", 1000, true),
		expire("pexpireat", "2.6.0", "Set the expiration for a key as a UNIX timestamp specified in milliseconds", 1, true),
		ttl("ttl", "1.0.0", "Get the time to live for a key in seconds", false, false),
		ttl("pttl", "2.6.0", "Get the time to live for a key in milliseconds", true, false),
		ttl("expiretime", "7.0.0", "Get the expiration Unix timestamp for a key", false, true),
		ttl("pexpiretime", "7.0.0", "Get the expiration Unix timestamp for a key in milliseconds", true, true),
		key1(&Command{Name: "persist", Arity: 2, Flags: FlagWrite | FlagFast, Categories: kwf, Since: "2.2.0",
			Summary: "Remove the expiration from a key", Complexity: "O(1)", Handler: cmdPersist}),
		{Name: "object", Arity: -2, Categories: []string{"slow"}, Group: "generic", Since: "2.2.3",
			Summary: "A container for object introspection commands", Complexity: "Depends on subcommand.",
			Subcommands: map[string]*Command{
				"encoding": objSub("encoding", "Inspect the internal encoding of a Redis object", func(c *Ctx) {
					if v := objectLookup(c); v != nil {
						c.W.BulkString(v.Encoding())
					}
				}),
				"refcount": objSub("refcount", "Get the number of references to the value of the key", func(c *Ctx) {
					if v := objectLookup(c); v != nil {
						c.W.Int(objectRefcount(c, v))
					}
				}),
				"idletime": objSub("idletime", "Get the time since a Redis object was last accessed", cmdObjectIdletime),
				"freq":     objSub("freq", "Get the logarithmic access frequency counter of a Redis object", cmdObjectFreq),
				"help": {Name: "object|help", Arity: 2, Flags: FlagLoading | FlagStale, Categories: []string{"keyspace", "slow"},
					Group: "generic", Since: "6.2.0", Summary: "Show helpful text about the different subcommands", Complexity: "O(1)",
					Handler: func(c *Ctx) {
						c.ReplyHelp(
							"ENCODING <key>",
							"    Return the kind of internal representation used in order to store the value",
							"    associated with a <key>.",
							"FREQ <key>",
							"    Return the access frequency index of the <key>. The returned integer is",
							"    proportional to the logarithm of the recent access frequency of the key.",
							"IDLETIME <key>",
							"    Return the idle time of the <key>, that is the approximated number of",
							"    seconds elapsed since the last access to the key.",
							"REFCOUNT <key>",
							"    Return the number of references of the value associated with the specified",
							"    <key>.",
						)
					}},
			}},
	}
}

func cmdDel(c *Ctx) {
	n := 0
	for i := 1; i < len(c.Args); i++ {
		key := c.Key(i)
		c.DB.LookupWrite(key) // expire first, so an expired key does not count
		if c.DB.Delete(key) {
			c.Notify('g', "del", key)
			n++
		}
	}
	c.Changed(int64(n))
	c.W.Int(int64(n))
}

func cmdExists(c *Ctx) {
	n := 0
	for i := 1; i < len(c.Args); i++ {
		if c.DB.Lookup(c.Key(i)) != nil {
			n++
		}
	}
	c.W.Int(int64(n))
}

// lookupNoTouch reads a key without updating its LRU/LFU data (TYPE, TTL,
// OBJECT), as Redis's LOOKUP_NOTOUCH.
func lookupNoTouch(c *Ctx, key string) *keyspace.Value {
	ks := c.Srv.ks
	prev := ks.NoTouch
	ks.NoTouch = true
	v := c.DB.Lookup(key)
	ks.NoTouch = prev
	return v
}

func cmdType(c *Ctx) {
	v := lookupNoTouch(c, c.Key(1))
	if v == nil {
		c.W.Simple("none")
		return
	}
	c.W.Simple(v.Type().String())
}

func cmdKeys(c *Ctx) {
	pat := c.Args[1]
	all := len(pat) == 1 && pat[0] == '*'
	var keys []string
	var expired []string
	c.DB.ForEach(func(key string, v *keyspace.Value) bool {
		if !all && !glob.Match(pat, []byte(key), false) {
			return true
		}
		if c.DB.IsLogicallyExpired(key) {
			expired = append(expired, key)
			return true
		}
		keys = append(keys, key)
		return true
	})
	for _, k := range expired {
		c.DB.LookupWrite(k) // deletes it (on a master)
	}
	c.W.Array(len(keys))
	for _, k := range keys {
		c.W.BulkString(k)
	}
}

func cmdRandomKey(c *Ctx) {
	key, ok := c.DB.RandomKey()
	if !ok {
		c.W.Null()
		return
	}
	c.W.BulkString(key)
}

// cloneValue deep-copies a value (COPY).
func cloneValue(v *keyspace.Value) keyspace.Value {
	switch v.Type() {
	case keyspace.TypeList:
		return keyspace.NewList(v.List().Clone())
	case keyspace.TypeHash:
		return keyspace.NewHash(v.Hash().Clone())
	case keyspace.TypeSet:
		if s, ok := any(v.Set()).(interface{ Clone() *types.Set }); ok {
			return keyspace.NewSet(s.Clone())
		}
	case keyspace.TypeZSet:
		if z, ok := any(v.ZSet()).(interface{ Clone() *types.ZSet }); ok {
			return keyspace.NewZSet(z.Clone())
		}
	}
	return keyspace.NewString(strings.Clone(v.Str()))
}

// moveValue stores val under dst in db, with the given expiry (0 = none),
// replacing what is there.
func moveValue(db *keyspace.DB, dst string, val keyspace.Value, expireAt int64) {
	db.Delete(dst)
	db.Add(dst, val)
	if expireAt > 0 {
		db.SetExpire(dst, expireAt)
	}
}

func renameGeneric(c *Ctx, nx bool) {
	src, dst := c.Key(1), c.Key(2)
	v := c.DB.LookupWrite(src)
	if v == nil {
		c.Error(ErrNoSuchKey)
		return
	}
	if src == dst {
		if nx {
			c.W.Int(0)
		} else {
			c.W.OK()
		}
		return
	}
	if c.DB.LookupWrite(dst) != nil && nx {
		c.W.Int(0)
		return
	}
	val := *v
	at, _ := c.DB.Expire(src)
	// The value moves: take it out of src without freeing it.
	c.DB.Delete(src)
	moveValue(c.DB, dst, val, at)
	c.Notify('g', "rename_from", src)
	c.Notify('g', "rename_to", dst)
	c.Changed(1)
	if nx {
		c.W.Int(1)
	} else {
		c.W.OK()
	}
}

func cmdCopy(c *Ctx) {
	src, dst := c.Key(1), c.Key(2)
	dstDB := c.DB
	replace := false
	for i := 3; i < len(c.Args); i++ {
		switch {
		case c.ArgIs(i, "replace"):
			replace = true
		case c.ArgIs(i, "db") && i+1 < len(c.Args):
			id, ok := c.DBIndex(i + 1)
			if !ok {
				return
			}
			dstDB = c.Srv.ks.DBs[id]
			i++
		default:
			c.SyntaxError()
			return
		}
	}
	if dstDB == c.DB && src == dst {
		c.Error("ERR source and destination objects are the same")
		return
	}
	v := c.DB.LookupWrite(src)
	if v == nil {
		c.W.Int(0)
		return
	}
	if dstDB.LookupWrite(dst) != nil && !replace {
		c.W.Int(0)
		return
	}
	at, _ := c.DB.Expire(src)
	moveValue(dstDB, dst, cloneValue(v), at)
	c.Srv.notifyKeyspaceEvent('g', "copy_to", dst, dstDB.ID)
	c.Changed(1)
	c.W.Int(1)
}

func cmdMove(c *Ctx) {
	key := c.Key(1)
	id, ok := c.DBIndex(2)
	if !ok {
		return
	}
	dstDB := c.Srv.ks.DBs[id]
	if dstDB == c.DB {
		c.Error("ERR source and destination objects are the same")
		return
	}
	v := c.DB.LookupWrite(key)
	if v == nil || dstDB.LookupWrite(key) != nil {
		c.W.Int(0)
		return
	}
	val := *v
	at, _ := c.DB.Expire(key)
	c.DB.Delete(key)
	moveValue(dstDB, key, val, at)
	c.Notify('g', "move_from", key)
	c.Srv.notifyKeyspaceEvent('g', "move_to", key, dstDB.ID)
	c.Changed(1)
	c.W.Int(1)
}

// expireGeneric is EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT: when is in
// units of unitMs, relative to now unless abs.
func expireGeneric(c *Ctx, unitMs int64, abs bool) {
	key := c.Key(1)
	var nx, xx, gt, lt bool
	for i := 3; i < len(c.Args); i++ {
		switch {
		case c.ArgIs(i, "nx"):
			nx = true
		case c.ArgIs(i, "xx"):
			xx = true
		case c.ArgIs(i, "gt"):
			gt = true
		case c.ArgIs(i, "lt"):
			lt = true
		default:
			c.Error("ERR Unsupported option " + c.Str(i))
			return
		}
	}
	if nx && (xx || gt || lt) {
		c.Error("ERR NX and XX, GT or LT options at the same time are not compatible")
		return
	}
	if gt && lt {
		c.Error("ERR GT and LT options at the same time are not compatible")
		return
	}
	when, ok := c.Int(2)
	if !ok {
		return
	}
	invalid := func() {
		c.Error("ERR invalid expire time in '" + c.Cmd.FullName() + "' command")
	}
	if unitMs == 1000 {
		if when > math.MaxInt64/1000 || when < math.MinInt64/1000 {
			invalid()
			return
		}
		when *= 1000
	}
	if !abs {
		now := c.Srv.ks.NowMs()
		if (when > 0 && now > math.MaxInt64-when) || (when < 0 && now < math.MinInt64-when) {
			invalid()
			return
		}
		when += now
	}
	if c.DB.LookupWrite(key) == nil {
		c.W.Int(0)
		return
	}
	cur, hasTTL := c.DB.Expire(key)
	switch {
	case nx && hasTTL, xx && !hasTTL:
		c.W.Int(0)
		return
	case gt && (!hasTTL || when <= cur):
		c.W.Int(0)
		return
	case lt && hasTTL && when >= cur:
		c.W.Int(0)
		return
	}
	if when <= c.Srv.ks.NowMs() && !c.Srv.repl.isReplica() {
		// Already in the past: delete now, and propagate the deletion.
		c.DB.Delete(key)
		c.Notify('g', "del", key)
		c.Changed(1)
		c.PropagateStrings("DEL", key)
		c.W.Int(1)
		return
	}
	c.DB.SetExpire(key, when)
	c.DB.SignalModified(key)
	c.Notify('g', "expire", key)
	c.Changed(1)
	if c.Cmd.Name != "pexpireat" {
		// Replicas and the AOF get the absolute time.
		args := append([][]byte(nil), c.Args...)
		args[0] = []byte("PEXPIREAT")
		args[2] = []byte(strconv.FormatInt(when, 10))
		c.Propagate(args...)
	}
	c.W.Int(1)
}

func ttlGeneric(c *Ctx, ms, abs bool) {
	key := c.Key(1)
	if lookupNoTouch(c, key) == nil {
		c.W.Int(-2)
		return
	}
	at, ok := c.DB.Expire(key)
	if !ok {
		c.W.Int(-1)
		return
	}
	v := at
	if !abs {
		v = max(at-c.Srv.ks.NowMs(), 0)
	}
	if !ms {
		v = (v + 500) / 1000
	}
	c.W.Int(v)
}

func cmdPersist(c *Ctx) {
	key := c.Key(1)
	if c.DB.LookupWrite(key) == nil {
		c.W.Int(0)
		return
	}
	if !c.DB.Persist(key) {
		c.W.Int(0)
		return
	}
	c.DB.SignalModified(key)
	c.Notify('g', "persist", key)
	c.Changed(1)
	c.W.Int(1)
}

// objectLookup finds OBJECT's key without touching it; a missing key
// replies null and returns nil.
func objectLookup(c *Ctx) *keyspace.Value {
	v := lookupNoTouch(c, c.Key(2))
	if v == nil {
		c.W.Null()
	}
	return v
}

// objectRefcount mimics Redis's shared small integers: 0..9999 stored as
// strings share one object (refcount INT_MAX) unless an LRU/LFU maxmemory
// policy needs per-key access data.
func objectRefcount(c *Ctx, v *keyspace.Value) int64 {
	if v.Type() == keyspace.TypeString && v.Encoding() == "int" {
		n, _ := strconv.ParseInt(v.Str(), 10, 64)
		pol := c.Srv.cfg.MaxMemoryPolicy
		noShare := c.Srv.cfg.MaxMemory > 0 && (strings.HasSuffix(pol, "-lru") || strings.HasSuffix(pol, "-lfu"))
		if n >= 0 && n < 10000 && !noShare {
			return math.MaxInt32
		}
	}
	return 1
}

func isLFUPolicy(p string) bool { return strings.HasSuffix(p, "-lfu") }

func cmdObjectIdletime(c *Ctx) {
	v := objectLookup(c)
	if v == nil {
		return
	}
	if isLFUPolicy(c.Srv.cfg.MaxMemoryPolicy) {
		c.Error("ERR An LRU maxmemory policy is not selected, access time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
		return
	}
	c.W.Int(c.Srv.ks.IdleMs(v) / 1000)
}

func cmdObjectFreq(c *Ctx) {
	v := objectLookup(c)
	if v == nil {
		return
	}
	if !isLFUPolicy(c.Srv.cfg.MaxMemoryPolicy) {
		c.Error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
		return
	}
	c.W.Int(int64(c.Srv.ks.Freq(v)))
}
