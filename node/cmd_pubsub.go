package node

import (
	"sort"
	"strconv"

	"github.com/vigilkv/vigil/internal/glob"
	"github.com/vigilkv/vigil/internal/resp"
)

// pubsubCommands: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH
// PUBSUB, and the sharded forms (which, without a cluster, are a second,
// separate channel namespace as in Redis 7).
func pubsubCommands() []*Command {
	ps := []string{"pubsub", "slow"}
	flags := FlagPubSub | FlagNoScript | FlagLoading | FlagStale
	sub := func(name string, arity int, summary, complexity string, h func(*Ctx)) *Command {
		return &Command{Name: "pubsub|" + name, Arity: arity, Flags: FlagPubSub | FlagLoading | FlagStale,
			Categories: ps, Group: "pubsub", Since: "2.8.0", Summary: summary, Complexity: complexity, Handler: h}
	}
	return []*Command{
		{Name: "subscribe", Arity: -2, Flags: flags | FlagOKInPubSub, Categories: ps, Group: "pubsub", Since: "2.0.0",
			Summary: "Listen for messages published to the given channels", Complexity: "O(N) where N is the number of channels to subscribe to.",
			Handler: func(c *Ctx) { pubsubSubscribe(c, kindChannel) }},
		{Name: "unsubscribe", Arity: -1, Flags: flags | FlagOKInPubSub, Categories: ps, Group: "pubsub", Since: "2.0.0",
			Summary: "Stop listening for messages posted to the given channels", Complexity: "O(N) where N is the number of clients already subscribed to a channel.",
			Handler: func(c *Ctx) { pubsubUnsubscribe(c, kindChannel) }},
		{Name: "psubscribe", Arity: -2, Flags: flags | FlagOKInPubSub, Categories: ps, Group: "pubsub", Since: "2.0.0",
			Summary: "Listen for messages published to channels matching the given patterns", Complexity: "O(N) where N is the number of patterns the client is already subscribed to.",
			Handler: func(c *Ctx) { pubsubSubscribe(c, kindPattern) }},
		{Name: "punsubscribe", Arity: -1, Flags: flags | FlagOKInPubSub, Categories: ps, Group: "pubsub", Since: "2.0.0",
			Summary: "Stop listening for messages posted to channels matching the given patterns", Complexity: "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client).",
			Handler: func(c *Ctx) { pubsubUnsubscribe(c, kindPattern) }},
		{Name: "ssubscribe", Arity: -2, Flags: flags | FlagOKInPubSub, Categories: ps, Group: "pubsub", Since: "7.0.0", FirstKey: 1, LastKey: -1, KeyStep: 1,
			Summary: "Listen for messages published to the given shard channels", Complexity: "O(N) where N is the number of shard channels to subscribe to.",
			Handler: func(c *Ctx) { pubsubSubscribe(c, kindShard) }},
		{Name: "sunsubscribe", Arity: -1, Flags: flags | FlagOKInPubSub, Categories: ps, Group: "pubsub", Since: "7.0.0", FirstKey: 1, LastKey: -1, KeyStep: 1,
			Summary: "Stop listening for messages posted to the given shard channels", Complexity: "O(N) where N is the number of clients already subscribed to a shard channel.",
			Handler: func(c *Ctx) { pubsubUnsubscribe(c, kindShard) }},
		{Name: "publish", Arity: 3, Flags: FlagPubSub | FlagLoading | FlagStale | FlagFast | FlagMayReplicate, Categories: []string{"pubsub", "fast"},
			Group: "pubsub", Since: "2.0.0", Summary: "Post a message to a channel",
			Complexity: "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).",
			Handler:    func(c *Ctx) { c.W.Int(int64(c.Srv.Publish(c.Str(1), c.Args[2], kindChannel))) }},
		{Name: "spublish", Arity: 3, Flags: FlagPubSub | FlagLoading | FlagStale | FlagFast | FlagMayReplicate, Categories: []string{"pubsub", "fast"},
			Group: "pubsub", Since: "7.0.0", FirstKey: 1, LastKey: 1, KeyStep: 1, Summary: "Post a message to a shard channel",
			Complexity: "O(N) where N is the number of clients subscribed to the receiving shard channel.",
			Handler:    func(c *Ctx) { c.W.Int(int64(c.Srv.Publish(c.Str(1), c.Args[2], kindShard))) }},
		{Name: "pubsub", Arity: -2, Categories: ps, Group: "pubsub", Since: "2.8.0", Summary: "A container for Pub/Sub commands",
			Complexity: "Depends on subcommand.", Subcommands: map[string]*Command{
				"channels": sub("channels", -2, "List active channels", "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)",
					func(c *Ctx) { pubsubChannels(c, kindChannel) }),
				"shardchannels": sub("shardchannels", -2, "List active shard channels", "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).",
					func(c *Ctx) { pubsubChannels(c, kindShard) }),
				"numsub": sub("numsub", -2, "Get the count of subscribers for channels", "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
					func(c *Ctx) { pubsubNumSub(c, kindChannel) }),
				"shardnumsub": sub("shardnumsub", -2, "Get the count of subscribers for shard channels", "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
					func(c *Ctx) { pubsubNumSub(c, kindShard) }),
				"numpat": sub("numpat", 2, "Get the count of unique patterns pattern subscriptions", "O(1)",
					func(c *Ctx) { c.W.Int(int64(len(c.Srv.pubsub.subs[kindPattern]))) }),
				"help": sub("help", 2, "Show helpful text about the different subcommands", "O(1)", func(c *Ctx) {
					c.ReplyHelp(
						"CHANNELS [<pattern>]",
						"    Return the currently active channels matching a <pattern> (default: '*').",
						"NUMPAT",
						"    Return number of subscriptions to patterns.",
						"NUMSUB [<channel> ...]",
						"    Return the number of subscribers for the specified channels, excluding",
						"    pattern subscriptions(default: no channels).",
						"SHARDCHANNELS [<pattern>]",
						"    Return the currently active shard level channels matching a <pattern> (default: '*').",
						"SHARDNUMSUB [<shardchannel> ...]",
						"    Return the number of subscribers for the specified shard level channel(s)",
					)
				}),
			}},
	}
}

// subKind is one of the three subscription namespaces.
type subKind int

const (
	kindChannel subKind = iota
	kindPattern
	kindShard
	numKinds
)

// Reply words per kind, as Redis names them.
var subWords = [numKinds][2]string{
	kindChannel: {"subscribe", "unsubscribe"},
	kindPattern: {"psubscribe", "punsubscribe"},
	kindShard:   {"ssubscribe", "sunsubscribe"},
}

// pubsubState is the server's subscriptions: per namespace, the clients
// of each channel (or pattern) in subscription order, which is the order
// messages are delivered in.
type pubsubState struct {
	subs [numKinds]map[string][]*Client
	// patterns keeps subscribed patterns in first-subscription order so
	// PUBLISH matches them deterministically.
	patterns []string
	notify   notifyFlags
}

func (p *pubsubState) init() {
	for i := range p.subs {
		p.subs[i] = make(map[string][]*Client)
	}
}

func (p *pubsubState) applyConfig(notifyEvents string) {
	p.notify, _ = parseNotifyFlags(notifyEvents)
}

// NumChannels and NumPatterns are INFO's pubsub_channels and
// pubsub_patterns.
func (p *pubsubState) NumChannels() int { return len(p.subs[kindChannel]) }

// NumPatterns is the number of distinct subscribed patterns.
func (p *pubsubState) NumPatterns() int { return len(p.subs[kindPattern]) }

// NumShardChannels is INFO's pubsubshard_channels.
func (p *pubsubState) NumShardChannels() int { return len(p.subs[kindShard]) }

func (p *pubsubState) removeClient(cl *Client) { p.unsubscribeAll(cl, false) }

// unsubscribeAll drops every subscription of cl, replying for each when
// reply is set.
func (p *pubsubState) unsubscribeAll(cl *Client, reply bool) {
	for k := subKind(0); k < numKinds; k++ {
		for _, name := range append([]string(nil), cl.ps.names[k]...) {
			p.unsubscribe(cl, k, name, reply)
		}
	}
}

func (p *pubsubState) subscribe(cl *Client, k subKind, name string) {
	if cl.ps.has(k, name) {
		return
	}
	cl.ps.names[k] = append(cl.ps.names[k], name)
	list, existed := p.subs[k][name]
	p.subs[k][name] = append(list, cl)
	if k == kindPattern && !existed {
		p.patterns = append(p.patterns, name)
	}
}

// unsubscribe removes one subscription; it reports whether cl had it.
func (p *pubsubState) unsubscribe(cl *Client, k subKind, name string, reply bool) bool {
	had := cl.ps.remove(k, name)
	if had {
		list := removeClientFrom(p.subs[k][name], cl)
		if len(list) == 0 {
			delete(p.subs[k], name)
			if k == kindPattern {
				p.patterns = removeString(p.patterns, name)
			}
		} else {
			p.subs[k][name] = list
		}
	}
	if reply {
		writeSubReply(cl.W, subWords[k][1], name, true, cl.ps.countFor(k))
	}
	if cl.ps.count() == 0 {
		cl.Flags &^= ClientPubSub
	}
	return had
}

func removeClientFrom(list []*Client, cl *Client) []*Client {
	for i, x := range list {
		if x == cl {
			copy(list[i:], list[i+1:])
			list[len(list)-1] = nil
			return list[:len(list)-1]
		}
	}
	return list
}

func removeString(list []string, s string) []string {
	for i, x := range list {
		if x == s {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}

// writeSubReply writes a (un)subscribe confirmation: a push frame in
// RESP3, an array in RESP2. A nil channel (unsubscribe with nothing to
// unsubscribe) is written as a null.
func writeSubReply(w *resp.Writer, word, name string, hasName bool, count int) {
	if w.Proto > 2 {
		w.Push(3)
	} else {
		w.Array(3)
	}
	w.BulkString(word)
	if hasName {
		w.BulkString(name)
	} else {
		w.Null()
	}
	w.Int(int64(count))
}

// clientPubSub is one client's subscriptions, in subscription order.
type clientPubSub struct {
	names [numKinds][]string
}

func (c *clientPubSub) has(k subKind, name string) bool {
	for _, n := range c.names[k] {
		if n == name {
			return true
		}
	}
	return false
}

func (c *clientPubSub) remove(k subKind, name string) bool {
	for i, n := range c.names[k] {
		if n == name {
			c.names[k] = append(c.names[k][:i], c.names[k][i+1:]...)
			return true
		}
	}
	return false
}

// count is the number of channels and patterns the client subscribes to.
func (c *clientPubSub) count() int {
	return len(c.names[kindChannel]) + len(c.names[kindPattern]) + len(c.names[kindShard])
}

// countFor is the count a (un)subscribe reply carries: shard channels are
// counted on their own, channels and patterns together.
func (c *clientPubSub) countFor(k subKind) int {
	if k == kindShard {
		return len(c.names[kindShard])
	}
	return len(c.names[kindChannel]) + len(c.names[kindPattern])
}

// counts reports channels, patterns and shard channels (CLIENT LIST).
func (c *clientPubSub) counts() (sub, psub, ssub int) {
	return len(c.names[kindChannel]), len(c.names[kindPattern]), len(c.names[kindShard])
}

func pubsubSubscribe(c *Ctx, k subKind) {
	cl := c.Client
	p := &c.Srv.pubsub
	for i := 1; i < len(c.Args); i++ {
		name := c.Str(i)
		p.subscribe(cl, k, name)
		writeSubReply(c.W, subWords[k][0], name, true, cl.ps.countFor(k))
	}
	cl.Flags |= ClientPubSub
	cl.enableAsync()
}

func pubsubUnsubscribe(c *Ctx, k subKind) {
	cl := c.Client
	p := &c.Srv.pubsub
	if len(c.Args) == 1 {
		names := append([]string(nil), cl.ps.names[k]...)
		if len(names) == 0 {
			writeSubReply(c.W, subWords[k][1], "", false, cl.ps.countFor(k))
			return
		}
		for _, name := range names {
			p.unsubscribe(cl, k, name, true)
		}
		return
	}
	for i := 1; i < len(c.Args); i++ {
		p.unsubscribe(cl, k, c.Str(i), true)
	}
}

// Publish delivers a message to the subscribers of channel (and, for plain
// channels, of matching patterns) and returns how many received it.
// Called with the lock held.
func (s *Server) Publish(channel string, msg []byte, k subKind) int {
	p := &s.pubsub
	var frames pushFrames
	n := 0
	word := "message"
	if k == kindShard {
		word = "smessage"
	}
	for _, cl := range p.subs[k][channel] {
		cl.push(frames.get(cl.W.Proto, func(w *resp.Writer) {
			w.BulkString(word)
			w.BulkString(channel)
			w.Bulk(msg)
		}, 3))
		n++
	}
	if k != kindChannel {
		return n
	}
	for _, pat := range p.patterns {
		if !channelMatch([]byte(pat), []byte(channel)) {
			continue
		}
		var pframes pushFrames
		for _, cl := range p.subs[kindPattern][pat] {
			cl.push(pframes.get(cl.W.Proto, func(w *resp.Writer) {
				w.BulkString("pmessage")
				w.BulkString(pat)
				w.BulkString(channel)
				w.Bulk(msg)
			}, 4))
			n++
		}
	}
	return n
}

// pushFrames encodes a message once per protocol version.
type pushFrames struct {
	enc [2][]byte
}

func (f *pushFrames) get(proto int, body func(w *resp.Writer), n int) []byte {
	i := 0
	if proto > 2 {
		i = 1
	}
	if f.enc[i] == nil {
		w := resp.NewWriter()
		w.Proto = proto
		if proto > 2 {
			w.Push(n)
		} else {
			w.Array(n)
		}
		body(w)
		f.enc[i] = w.Buf
	}
	return f.enc[i]
}

func pubsubChannels(c *Ctx, k subKind) {
	if len(c.Args) > 3 {
		c.WrongArity()
		return
	}
	var out []string
	for name := range c.Srv.pubsub.subs[k] {
		if len(c.Args) == 3 && !channelMatch(c.Args[2], []byte(name)) {
			continue
		}
		out = append(out, name)
	}
	sort.Strings(out)
	c.W.Array(len(out))
	for _, name := range out {
		c.W.BulkString(name)
	}
}

func pubsubNumSub(c *Ctx, k subKind) {
	n := len(c.Args) - 2
	if c.W.Proto > 2 {
		c.W.Map(n)
	} else {
		c.W.Array(2 * n)
	}
	for i := 2; i < len(c.Args); i++ {
		c.W.Bulk(c.Args[i])
		c.W.Int(int64(len(c.Srv.pubsub.subs[k][c.Key(i)])))
	}
}

// notifyFlags is the parsed notify-keyspace-events setting.
type notifyFlags uint16

const (
	notifyKeyspace notifyFlags = 1 << iota // K
	notifyKeyevent                         // E
	notifyGeneric                          // g
	notifyString                           // $
	notifyList                             // l
	notifySet                              // s
	notifyHash                             // h
	notifyZSet                             // z
	notifyExpired                          // x
	notifyEvicted                          // e
	notifyStream                           // t
	notifyKeyMiss                          // m
	notifyModule                           // d
	notifyNew                              // n
	notifyAll      = notifyGeneric | notifyString | notifyList | notifySet | notifyHash |
		notifyZSet | notifyExpired | notifyEvicted | notifyStream | notifyModule // A
)

var notifyLetters = []struct {
	c byte
	f notifyFlags
}{
	{'g', notifyGeneric}, {'$', notifyString}, {'l', notifyList}, {'s', notifySet},
	{'h', notifyHash}, {'z', notifyZSet}, {'x', notifyExpired}, {'e', notifyEvicted},
	{'t', notifyStream}, {'m', notifyKeyMiss}, {'d', notifyModule}, {'n', notifyNew},
	{'K', notifyKeyspace}, {'E', notifyKeyevent},
}

// parseNotifyFlags parses notify-keyspace-events letters.
func parseNotifyFlags(s string) (notifyFlags, bool) {
	var f notifyFlags
	for i := 0; i < len(s); i++ {
		if s[i] == 'A' {
			f |= notifyAll
			continue
		}
		found := false
		for _, l := range notifyLetters {
			if l.c == s[i] {
				f |= l.f
				found = true
				break
			}
		}
		if !found {
			return 0, false
		}
	}
	return f, true
}

// String formats the flags as CONFIG GET shows them, in Redis's order:
// A (or the type classes one by one, n among them), then K, E and m. As in
// Redis, n is not shown when A is.
func (f notifyFlags) String() string {
	var b []byte
	if f&notifyAll == notifyAll {
		b = append(b, 'A')
	} else {
		for _, l := range notifyLetters {
			if f&l.f != 0 && l.f&(notifyAll|notifyNew) != 0 {
				b = append(b, l.c)
			}
		}
	}
	for _, l := range []struct {
		c byte
		f notifyFlags
	}{{'K', notifyKeyspace}, {'E', notifyKeyevent}, {'m', notifyKeyMiss}} {
		if f&l.f != 0 {
			b = append(b, l.c)
		}
	}
	return string(b)
}

// NotifyEventsValid reports whether a notify-keyspace-events value parses,
// and returns its canonical form (for CONFIG SET validation).
func NotifyEventsValid(s string) (string, bool) {
	f, ok := parseNotifyFlags(s)
	if !ok {
		return "", false
	}
	return f.String(), true
}

func notifyClass(class byte) notifyFlags {
	for _, l := range notifyLetters {
		if l.c == class {
			return l.f
		}
	}
	return 0
}

// notifyKeyspaceEvent publishes a keyspace notification on the
// __keyspace@<db>__:<key> and __keyevent@<db>__:<event> channels, as
// notify-keyspace-events enables. Called with the lock held.
func (s *Server) notifyKeyspaceEvent(class byte, event, key string, db int) {
	f := s.pubsub.notify
	if f == 0 || f&notifyClass(class) == 0 {
		return
	}
	dbs := strconv.Itoa(db)
	if f&notifyKeyspace != 0 {
		s.Publish("__keyspace@"+dbs+"__:"+key, []byte(event), kindChannel)
	}
	if f&notifyKeyevent != 0 {
		s.Publish("__keyevent@"+dbs+"__:"+event, []byte(key), kindChannel)
	}
}

// channelMatch matches a channel name against a subscription pattern.
func channelMatch(pat, s []byte) bool { return glob.Match(pat, s, false) }
