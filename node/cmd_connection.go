package node

import (
	"crypto/subtle"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// connectionCommands: PING ECHO QUIT RESET SELECT AUTH HELLO CLIENT.
func connectionCommands() []*Command {
	conn := []string{"fast", "connection"}
	slowConn := []string{"slow", "connection"}
	adm := []string{"admin", "slow", "dangerous", "connection"}
	sub := func(name string, arity int, flags Flag, cats []string, summary string, h func(*Ctx)) *Command {
		return &Command{Name: "client|" + name, Arity: arity, Flags: flags | FlagNoScript | FlagLoading | FlagStale,
			Categories: cats, Group: "connection", Since: "2.4.0", Summary: summary, Complexity: "O(1)", Handler: h}
	}
	return []*Command{
		{Name: "ping", Arity: -1, Flags: FlagFast | FlagOKInPubSub, Categories: conn, Group: "connection", Since: "1.0.0",
			Summary: "Ping the server", Complexity: "O(1)", Handler: cmdPing},
		{Name: "echo", Arity: 2, Flags: FlagFast, Categories: conn, Group: "connection", Since: "1.0.0",
			Summary: "Echo the given string", Complexity: "O(1)", Handler: func(c *Ctx) { c.W.Bulk(c.Args[1]) }},
		{Name: "quit", Arity: -1, Flags: FlagAllowBusy | FlagNoAuth | FlagFast | FlagLoading | FlagStale | FlagOKInPubSub | FlagTxControl | FlagNoScript,
			Categories: conn, Group: "connection", Since: "1.0.0", Summary: "Close the connection", Complexity: "O(1)", Handler: cmdQuit},
		{Name: "reset", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagNoAuth | FlagAllowBusy | FlagFast | FlagOKInPubSub | FlagTxControl,
			Categories: conn, Group: "connection", Since: "6.2.0", Summary: "Reset the connection", Complexity: "O(1)", Handler: cmdReset},
		{Name: "select", Arity: 2, Flags: FlagLoading | FlagStale | FlagFast, Categories: conn, Group: "connection", Since: "1.0.0",
			Summary: "Change the selected database for the current connection", Complexity: "O(1)", Handler: cmdSelect},
		{Name: "auth", Arity: -2, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagNoAuth | FlagAllowBusy,
			Categories: conn, Group: "connection", Since: "1.0.0", Summary: "Authenticate to the server",
			Complexity: "O(N) where N is the number of passwords defined for the user", Handler: cmdAuth},
		{Name: "hello", Arity: -1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagNoAuth | FlagAllowBusy,
			Categories: conn, Group: "connection", Since: "6.0.0", Summary: "Handshake with Redis", Complexity: "O(1)", Handler: cmdHello},
		{Name: "client", Arity: -2, Categories: slowConn, Group: "connection", Since: "2.4.0", Summary: "A container for client connection commands",
			Complexity: "Depends on subcommand.", Subcommands: map[string]*Command{
				"list":         sub("list", -2, FlagAdmin, adm, "Get the list of client connections", cmdClientList),
				"info":         sub("info", 2, 0, slowConn, "Returns information about the current client connection.", cmdClientInfo),
				"kill":         sub("kill", -3, FlagAdmin, adm, "Kill the connection of a client", cmdClientKill),
				"setname":      sub("setname", 3, 0, slowConn, "Set the current connection name", cmdClientSetName),
				"getname":      sub("getname", 2, 0, slowConn, "Get the current connection name", cmdClientGetName),
				"id":           sub("id", 2, 0, slowConn, "Returns the client ID for the current connection", func(c *Ctx) { c.W.Int(c.Client.ID) }),
				"setinfo":      sub("setinfo", 4, 0, slowConn, "Set client or connection specific info", cmdClientSetInfo),
				"no-evict":     sub("no-evict", 3, FlagAdmin, adm, "Set client eviction mode for the current connection", cmdClientNoEvict),
				"no-touch":     sub("no-touch", 3, 0, slowConn, "Controls whether commands sent by the client will alter the LRU/LFU of the keys they access.", cmdClientNoTouch),
				"pause":        sub("pause", -3, FlagAdmin, adm, "Stop processing commands from clients for some time", cmdClientPause),
				"unpause":      sub("unpause", 2, FlagAdmin, adm, "Resume processing of clients that were paused", func(c *Ctx) { c.Srv.Unpause(); c.W.OK() }),
				"reply":        sub("reply", 3, 0, slowConn, "Instruct the server whether to reply to commands", cmdClientReply),
				"unblock":      sub("unblock", -3, FlagAdmin, adm, "Unblock a client blocked in a blocking command from a different connection", cmdClientUnblock),
				"getredir":     sub("getredir", 2, 0, slowConn, "Get tracking notifications redirection client ID if any", func(c *Ctx) { c.W.Int(-1) }),
				"trackinginfo": sub("trackinginfo", 2, 0, slowConn, "Return information about server assisted client side caching for the current connection", cmdClientTrackingInfo),
				"tracking":     sub("tracking", -3, 0, slowConn, "Enable or disable server assisted client side caching support", cmdClientTracking),
				"caching":      sub("caching", 3, 0, slowConn, "Instruct the server about tracking or not keys in the next request", cmdClientCaching),
				"help":         sub("help", 2, 0, slowConn, "Show helpful text about the different subcommands", cmdClientHelp),
			}},
	}
}

func cmdPing(c *Ctx) {
	if len(c.Args) > 2 {
		c.WrongArity()
		return
	}
	if c.W.Proto == 2 && c.Client.ps.count() > 0 {
		// A subscribed RESP2 connection can only carry push-shaped
		// replies, so PING answers as a "pong" message.
		c.W.Array(2)
		c.W.BulkString("pong")
		if len(c.Args) == 2 {
			c.W.Bulk(c.Args[1])
		} else {
			c.W.BulkString("")
		}
		return
	}
	if len(c.Args) == 2 {
		c.W.Bulk(c.Args[1])
		return
	}
	c.W.Simple("PONG")
}

func cmdQuit(c *Ctx) {
	c.W.OK()
	c.Client.Flags |= ClientCloseAfterReply
}

func cmdReset(c *Ctx) {
	s, cl := c.Srv, c.Client
	if cl.Flags&ClientMulti != 0 {
		cl.tx.discard()
		cl.Flags &^= ClientMulti | ClientDirtyCAS | ClientDirtyExec
	}
	s.tx.unwatchAll(cl)
	s.diag.removeClient(cl)
	cl.Flags &^= ClientMonitor
	s.pubsub.unsubscribeAll(cl, false)
	cl.DB = 0
	cl.W.Proto = 2
	cl.Name = ""
	cl.Flags &^= ClientNoEvict | ClientNoTouch | ClientReplySkip | ClientReplyOff | ClientReplySkipNext
	if s.cfg.RequirePass != "" {
		cl.Authenticated = false
		cl.rd.Unauthenticated = true
	}
	cl.User = "default"
	c.W.Simple("RESET")
}

func cmdSelect(c *Ctx) {
	id, ok := c.DBIndex(1)
	if !ok {
		return
	}
	c.Client.DB = id
	c.DB = c.Srv.ks.DBs[id]
	c.W.OK()
}

// checkPassword verifies credentials for the only user vigil has,
// "default", in constant time.
func (s *Server) checkPassword(user, pass string) bool {
	if user != "default" {
		return false
	}
	if s.cfg.RequirePass == "" {
		// The default user has nopass: any password is accepted.
		return true
	}
	return subtle.ConstantTimeCompare([]byte(pass), []byte(s.cfg.RequirePass)) == 1
}

const errWrongPass = "WRONGPASS invalid username-password pair or user is disabled."

func (cl *Client) setAuthenticated(user string) {
	cl.Authenticated = true
	cl.rd.Unauthenticated = false
	cl.User = user
}

func cmdAuth(c *Ctx) {
	if len(c.Args) > 3 {
		c.SyntaxError()
		return
	}
	user, pass := "default", c.Str(1)
	if len(c.Args) == 3 {
		user, pass = c.Str(1), c.Str(2)
	} else if c.Srv.cfg.RequirePass == "" {
		c.Error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
		return
	}
	if !c.Srv.checkPassword(user, pass) {
		c.Error(errWrongPass)
		return
	}
	c.Client.setAuthenticated(user)
	c.W.OK()
}

func cmdHello(c *Ctx) {
	cl := c.Client
	proto := cl.W.Proto
	i := 1
	if len(c.Args) >= 2 {
		v, ok := ParseInt(c.Args[1])
		if !ok {
			c.Error("ERR Protocol version is not an integer or out of range")
			return
		}
		if v < 2 || v > 3 {
			c.Error("NOPROTO unsupported protocol version")
			return
		}
		proto = int(v)
		i = 2
	}
	var name string
	setName := false
	var user, pass string
	auth := false
	for ; i < len(c.Args); i++ {
		more := len(c.Args) - i - 1
		switch {
		case c.ArgIs(i, "auth") && more >= 2:
			user, pass, auth = c.Str(i+1), c.Str(i+2), true
			i += 2
		case c.ArgIs(i, "setname") && more >= 1:
			name, setName = c.Str(i+1), true
			i++
		default:
			c.Error("ERR Syntax error in HELLO option '" + c.Str(i) + "'")
			return
		}
	}
	if auth {
		if !c.Srv.checkPassword(user, pass) {
			c.Error(errWrongPass)
			return
		}
		cl.setAuthenticated(user)
	}
	if !cl.Authenticated {
		c.Error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if setName {
		if !validClientName(name) {
			c.Error("ERR Client names cannot contain spaces, newlines or special characters.")
			return
		}
		cl.Name = name
	}
	cl.W.Proto = proto
	w := c.W
	w.Map(7)
	w.BulkString("server")
	w.BulkString("redis")
	w.BulkString("version")
	w.BulkString(Version)
	w.BulkString("proto")
	w.Int(int64(proto))
	w.BulkString("id")
	w.Int(cl.ID)
	w.BulkString("mode")
	w.BulkString("standalone")
	w.BulkString("role")
	if c.Srv.repl.isReplica() {
		w.BulkString("replica")
	} else {
		w.BulkString("master")
	}
	w.BulkString("modules")
	w.Array(0)
}

// validClientName reports whether a client name (or library name) has
// only the printable, space-free characters Redis allows.
func validClientName(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '!' || s[i] > '~' {
			return false
		}
	}
	return true
}

func cmdClientSetName(c *Ctx) {
	name := c.Str(2)
	if !validClientName(name) {
		c.Error("ERR Client names cannot contain spaces, newlines or special characters.")
		return
	}
	c.Client.Name = name
	c.W.OK()
}

func cmdClientGetName(c *Ctx) {
	if c.Client.Name == "" {
		c.W.Null()
		return
	}
	c.W.BulkString(c.Client.Name)
}

func cmdClientSetInfo(c *Ctx) {
	val := c.Str(3)
	switch {
	case c.ArgIs(2, "lib-name"):
		if !validClientName(val) {
			c.Error("ERR lib-name cannot contain spaces, newlines or special characters.")
			return
		}
		c.Client.LibName = val
	case c.ArgIs(2, "lib-ver"):
		if !validClientName(val) {
			c.Error("ERR lib-ver cannot contain spaces, newlines or special characters.")
			return
		}
		c.Client.LibVer = val
	default:
		c.Error("ERR Unrecognized option '" + c.Str(2) + "'")
		return
	}
	c.W.OK()
}

// onOff parses ON|OFF arguments, replying a syntax error otherwise.
func onOff(c *Ctx, i int) (on, ok bool) {
	switch {
	case c.ArgIs(i, "on"):
		return true, true
	case c.ArgIs(i, "off"):
		return false, true
	}
	c.SyntaxError()
	return false, false
}

func cmdClientNoEvict(c *Ctx) {
	on, ok := onOff(c, 2)
	if !ok {
		return
	}
	setFlag(&c.Client.Flags, ClientNoEvict, on)
	c.W.OK()
}

func cmdClientNoTouch(c *Ctx) {
	on, ok := onOff(c, 2)
	if !ok {
		return
	}
	setFlag(&c.Client.Flags, ClientNoTouch, on)
	c.W.OK()
}

func setFlag(flags *int, f int, on bool) {
	if on {
		*flags |= f
	} else {
		*flags &^= f
	}
}

func cmdClientPause(c *Ctx) {
	ms, ok := c.IntErr(2, "ERR timeout is not an integer or out of range")
	if !ok {
		return
	}
	if ms < 0 {
		c.Error("ERR timeout is negative")
		return
	}
	all := true
	if len(c.Args) == 4 {
		switch {
		case c.ArgIs(3, "write"):
			all = false
		case c.ArgIs(3, "all"):
		default:
			c.Error("ERR CLIENT PAUSE mode must be WRITE or ALL")
			return
		}
	} else if len(c.Args) > 4 {
		c.SyntaxError()
		return
	}
	c.Srv.Pause(time.Duration(ms)*time.Millisecond, all)
	c.W.OK()
}

func cmdClientReply(c *Ctx) {
	cl := c.Client
	switch {
	case c.ArgIs(2, "on"):
		cl.Flags &^= ClientReplyOff | ClientReplySkip | ClientReplySkipNext
		c.W.OK()
	case c.ArgIs(2, "off"):
		cl.Flags |= ClientReplyOff
	case c.ArgIs(2, "skip"):
		if cl.Flags&ClientReplyOff == 0 {
			cl.Flags |= ClientReplySkipNext
		}
	default:
		c.SyntaxError()
	}
}

func cmdClientUnblock(c *Ctx) {
	if len(c.Args) > 4 {
		c.SyntaxError()
		return
	}
	id, ok := c.Int(2)
	if !ok {
		return
	}
	withError := false
	if len(c.Args) == 4 {
		switch {
		case c.ArgIs(3, "timeout"):
		case c.ArgIs(3, "error"):
			withError = true
		default:
			c.Error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
			return
		}
	}
	target := c.Srv.clients[id]
	if target == nil || target == c.Client || !c.Srv.UnblockClient(target, withError) {
		c.W.Int(0)
		return
	}
	c.W.Int(1)
}

func cmdClientTracking(c *Ctx) {
	if on, ok := onOff(c, 2); ok {
		if on {
			c.Error("ERR client-side caching (CLIENT TRACKING) is not supported by this server")
			return
		}
		c.W.OK()
	}
}

func cmdClientCaching(c *Ctx) {
	c.Error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
}

func cmdClientTrackingInfo(c *Ctx) {
	w := c.W
	w.Map(3)
	w.BulkString("flags")
	w.Set(1)
	w.BulkString("off")
	w.BulkString("redirect")
	w.Int(-1)
	w.BulkString("prefixes")
	w.Array(0)
}

func cmdClientHelp(c *Ctx) {
	c.ReplyHelp(
		"CACHING (YES|NO)",
		"    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
		"GETREDIR",
		"    Return the client ID we are redirecting to when tracking is enabled.",
		"GETNAME",
		"    Return the name of the current connection.",
		"ID",
		"    Return the ID of the current connection.",
		"INFO",
		"    Return information about the current client connection.",
		"KILL <ip:port>",
		"    Kill connection made from <ip:port>.",
		"KILL <option> <value> [<option> <value> [...]]",
		"    Kill connections. Options are:",
		"    * ADDR (<ip:port>|<unixsocket>:0)",
		"      Kill connections made from the specified address",
		"    * LADDR (<ip:port>|<unixsocket>:0)",
		"      Kill connections made to specified local address",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
		"      Kill connections by type.",
		"    * USER <username>",
		"      Kill connections authenticated by <username>.",
		"    * SKIPME (YES|NO)",
		"      Skip killing current connection (default: yes).",
		"LIST [options ...]",
		"    Return information about client connections. Options:",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
		"      Return clients of specified type.",
		"UNPAUSE",
		"    Stop the current client pause, resuming traffic.",
		"PAUSE <timeout> [WRITE|ALL]",
		"    Suspend all, or just write, clients for <timeout> milliseconds.",
		"REPLY (ON|OFF|SKIP)",
		"    Control the replies sent to the current connection.",
		"SETNAME <name>",
		"    Assign the name <name> to the current connection.",
		"UNBLOCK <clientid> [TIMEOUT|ERROR]",
		"    Unblock the specified blocked client.",
		"TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
		"         [OPTIN] [OPTOUT] [NOLOOP]",
		"    Control server assisted client side caching.",
		"TRACKINGINFO",
		"    Report tracking status for the current connection.",
		"NO-EVICT (ON|OFF)",
		"    Protect current client connection from eviction.",
	)
}

// ReplyHelp replies to a HELP subcommand in Redis's shape: a usage line,
// the given lines, and the closing HELP entry, as status replies.
func (c *Ctx) ReplyHelp(lines ...string) {
	name := c.Cmd.Name
	if c.Cmd.parent != nil {
		name = c.Cmd.parent.Name
	}
	c.W.Array(len(lines) + 3)
	c.W.Simple(strings.ToUpper(name) + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
	for _, l := range lines {
		c.W.Simple(l)
	}
	c.W.Simple("HELP")
	c.W.Simple("    Prints this help.")
}

// clientType is the class CLIENT LIST/KILL TYPE filters on.
func (cl *Client) clientType() string {
	switch {
	case cl.Flags&ClientMaster != 0:
		return "master"
	case cl.Flags&ClientReplica != 0 && cl.Flags&ClientMonitor == 0:
		return "replica"
	case cl.Flags&ClientPubSub != 0:
		return "pubsub"
	}
	return "normal"
}

func parseClientType(s string) (string, bool) {
	switch strings.ToLower(s) {
	case "normal", "master", "replica", "pubsub":
		return strings.ToLower(s), true
	case "slave":
		return "replica", true
	}
	return "", false
}

// sortedClients returns the connected clients by id, as Redis lists them.
func (s *Server) sortedClients() []*Client {
	out := make([]*Client, 0, len(s.clients))
	for _, cl := range s.clients {
		out = append(out, cl)
	}
	sortClients(out)
	return out
}

func sortClients(cls []*Client) {
	for i := 1; i < len(cls); i++ {
		for j := i; j > 0 && cls[j].ID < cls[j-1].ID; j-- {
			cls[j], cls[j-1] = cls[j-1], cls[j]
		}
	}
}

func cmdClientList(c *Ctx) {
	var typ string
	var ids map[int64]bool
	if len(c.Args) > 2 {
		switch {
		case c.ArgIs(2, "type") && len(c.Args) == 4:
			t, ok := parseClientType(c.Str(3))
			if !ok {
				c.Error("ERR Unknown client type '" + c.Str(3) + "'")
				return
			}
			typ = t
		case c.ArgIs(2, "id") && len(c.Args) >= 4:
			ids = make(map[int64]bool)
			for i := 3; i < len(c.Args); i++ {
				id, ok := ParseInt(c.Args[i])
				if !ok || id <= 0 {
					c.Error("ERR Invalid client ID")
					return
				}
				ids[id] = true
			}
		default:
			c.SyntaxError()
			return
		}
	}
	var b strings.Builder
	for _, cl := range c.Srv.sortedClients() {
		if typ != "" && cl.clientType() != typ {
			continue
		}
		if ids != nil && !ids[cl.ID] {
			continue
		}
		c.Srv.writeClientInfo(&b, cl, c.Client)
		b.WriteByte('\n')
	}
	c.W.Verbatim("txt", b.String())
}

func cmdClientInfo(c *Ctx) {
	var b strings.Builder
	c.Srv.writeClientInfo(&b, c.Client, c.Client)
	b.WriteByte('\n')
	c.W.Verbatim("txt", b.String())
}

// writeClientInfo writes one CLIENT LIST line (without the newline) in
// Redis's field order. self is the client running the command: its own
// command is the one in progress.
func (s *Server) writeClientInfo(b *strings.Builder, cl, self *Client) {
	now := s.clock()
	flags := cl.flagLetters()
	// Another client's buffers belong to its goroutine: report the sizes
	// it published after its last read.
	qused, qcap := int(cl.qbufUsed.Load()), int(cl.qbufCap.Load())
	obl := 0
	if cl == self {
		qused, qcap = cl.rd.Buffered(), cl.rd.BufferCap()
		obl = cl.W.Len()
	}
	qfree := qcap - qused
	cl.outMu.Lock()
	oll := len(cl.out)
	cl.outMu.Unlock()
	sub, psub, ssub := cl.ps.counts()
	multi := -1
	if cl.Flags&ClientMulti != 0 {
		multi = cl.tx.len()
	}
	cmd := cl.LastCmd
	if cmd == "" {
		cmd = "NULL"
	}
	fields := []struct {
		k, v string
	}{
		{"id", strconv.FormatInt(cl.ID, 10)},
		{"addr", cl.Addr()},
		{"laddr", cl.LocalAddr()},
		{"fd", strconv.Itoa(cl.fd())},
		{"name", cl.Name},
		{"age", strconv.FormatInt(int64(now.Sub(cl.Created)/time.Second), 10)},
		{"idle", strconv.FormatInt(int64(cl.Idle()/time.Second), 10)},
		{"flags", flags},
		{"db", strconv.Itoa(cl.DB)},
		{"sub", strconv.Itoa(sub)},
		{"psub", strconv.Itoa(psub)},
		{"ssub", strconv.Itoa(ssub)},
		{"multi", strconv.Itoa(multi)},
		{"qbuf", strconv.Itoa(qused)},
		{"qbuf-free", strconv.Itoa(qfree)},
		{"argv-mem", "0"},
		{"multi-mem", "0"},
		{"rbs", strconv.Itoa(qused + qfree)},
		{"rbp", strconv.Itoa(qused)},
		{"obl", strconv.Itoa(obl)},
		{"oll", strconv.Itoa(oll)},
		{"omem", strconv.Itoa(oll)},
		{"tot-mem", strconv.Itoa(qused + qfree + obl + oll)},
		{"events", "r"},
		{"cmd", cmd},
		{"user", cl.User},
		{"redir", "-1"},
		{"resp", strconv.Itoa(cl.W.Proto)},
		{"lib-name", cl.LibName},
		{"lib-ver", cl.LibVer},
	}
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.k)
		b.WriteByte('=')
		b.WriteString(f.v)
	}
}

func (cl *Client) flagLetters() string {
	var b []byte
	f := cl.Flags
	if f&ClientReplica != 0 {
		if f&ClientMonitor != 0 {
			b = append(b, 'O')
		} else {
			b = append(b, 'S')
		}
	} else if f&ClientMonitor != 0 {
		b = append(b, 'O')
	}
	if f&ClientMaster != 0 {
		b = append(b, 'M')
	}
	if f&ClientPubSub != 0 {
		b = append(b, 'P')
	}
	if f&ClientMulti != 0 {
		b = append(b, 'x')
	}
	if cl.block != nil {
		b = append(b, 'b')
	}
	if f&ClientDirtyCAS != 0 {
		b = append(b, 'd')
	}
	if f&ClientCloseAfterReply != 0 {
		b = append(b, 'c')
	}
	if f&ClientReadonly != 0 {
		b = append(b, 'r')
	}
	if f&ClientNoEvict != 0 {
		b = append(b, 'e')
	}
	if f&ClientNoTouch != 0 {
		b = append(b, 'T')
	}
	if len(b) == 0 {
		return "N"
	}
	return string(b)
}

// fd is the connection's file descriptor, for CLIENT LIST.
func (cl *Client) fd() int {
	sc, ok := cl.conn.(syscall.Conn)
	if !ok {
		return -1
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	rc.Control(func(f uintptr) { fd = int(f) })
	return fd
}

// clientKillFilter is CLIENT KILL's new-style filter set.
type clientKillFilter struct {
	id     int64
	addr   string
	laddr  string
	typ    string
	user   string
	skipMe bool
}

func (f *clientKillFilter) matches(cl, self *Client) bool {
	switch {
	case f.id != 0 && cl.ID != f.id,
		f.addr != "" && cl.Addr() != f.addr,
		f.laddr != "" && cl.LocalAddr() != f.laddr,
		f.typ != "" && cl.clientType() != f.typ,
		f.user != "" && cl.User != f.user,
		f.skipMe && cl == self:
		return false
	}
	return true
}

func cmdClientKill(c *Ctx) {
	s := c.Srv
	if len(c.Args) == 3 {
		// Old form: CLIENT KILL addr, replies OK or an error.
		addr := c.Str(2)
		for _, cl := range s.sortedClients() {
			if cl.Addr() == addr {
				s.killClient(c, cl)
				c.W.OK()
				return
			}
		}
		c.Error("ERR No such client")
		return
	}
	f := clientKillFilter{skipMe: true}
	for i := 2; i < len(c.Args); i += 2 {
		if i+1 >= len(c.Args) {
			c.SyntaxError()
			return
		}
		val := c.Str(i + 1)
		switch {
		case c.ArgIs(i, "id"):
			id, ok := ParseInt(c.Args[i+1])
			if !ok || id <= 0 {
				c.Error("ERR client-id should be greater than 0")
				return
			}
			f.id = id
		case c.ArgIs(i, "type"):
			t, ok := parseClientType(val)
			if !ok {
				c.Error("ERR Unknown client type '" + val + "'")
				return
			}
			f.typ = t
		case c.ArgIs(i, "addr"):
			f.addr = val
		case c.ArgIs(i, "laddr"):
			f.laddr = val
		case c.ArgIs(i, "user"):
			if val != "default" {
				c.Error("ERR No such user '" + val + "'")
				return
			}
			f.user = val
		case c.ArgIs(i, "skipme"):
			switch strings.ToLower(val) {
			case "yes":
				f.skipMe = true
			case "no":
				f.skipMe = false
			default:
				c.SyntaxError()
				return
			}
		default:
			c.SyntaxError()
			return
		}
	}
	n := 0
	for _, cl := range s.sortedClients() {
		if f.matches(cl, c.Client) {
			s.killClient(c, cl)
			n++
		}
	}
	c.W.Int(int64(n))
}

// killClient disconnects cl; the caller's own connection is closed after
// the reply, as Redis does.
func (s *Server) killClient(c *Ctx, cl *Client) {
	if cl == c.Client {
		cl.Flags |= ClientCloseAfterReply
		return
	}
	cl.kill()
}
