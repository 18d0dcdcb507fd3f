package sentinel

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigilkv/vigil/internal/resp"
)

// The CLIENT command on the sentinel port: what redis-cli, go-redis and
// operators send to a sentinel (SETNAME, GETNAME, ID, LIST, INFO, KILL,
// SETINFO). Replies and errors are Redis 7's; CLIENT LIST lines carry
// 7.2's lib-name and lib-ver fields, like vigil-server's.

// clientRegistry knows every connection on the RESP port.
type clientRegistry struct {
	mu     sync.Mutex
	nextID int64
	conns  map[*conn]bool
}

// clientMeta is what CLIENT LIST shows of a connection; guarded by the
// registry's mutex.
type clientMeta struct {
	id               int64
	name             string
	libName, libVer  string
	created, lastCmd time.Time
	cmd              string
	// closeAfterReply: CLIENT KILL killed the caller itself.
	closeAfterReply bool
}

// add registers c and gives it an id.
func (r *clientRegistry) add(c *conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns == nil {
		r.conns = map[*conn]bool{}
	}
	r.nextID++
	now := time.Now()
	c.meta = clientMeta{id: r.nextID, created: now, lastCmd: now, cmd: "NULL"}
	r.conns[c] = true
}

func (r *clientRegistry) remove(c *conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.conns, c)
}

// closeAll closes every connection (the end of Run).
func (r *clientRegistry) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.conns {
		c.nc.Close()
	}
}

// touch records the command c is running, for CLIENT LIST's cmd and idle.
func (r *clientRegistry) touch(c *conn, args [][]byte) {
	name := strings.ToLower(string(args[0]))
	if len(args) > 1 && (name == "client" || name == "sentinel" || name == "config") {
		name += "|" + strings.ToLower(string(args[1]))
	}
	r.mu.Lock()
	c.meta.lastCmd, c.meta.cmd = time.Now(), name
	r.mu.Unlock()
}

// line is c's CLIENT LIST line; under the registry's mutex and the pubsub
// mutex (for the subscription counts and the protocol).
func (c *conn) line(now time.Time) string {
	m := &c.meta
	flags := "N"
	if len(c.channels)+len(c.patterns) > 0 {
		flags = "P"
	}
	return fmt.Sprintf("id=%d addr=%s laddr=%s fd=-1 name=%s age=%d idle=%d flags=%s db=0 sub=%d psub=%d ssub=0 multi=-1 "+
		"qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=%s user=default "+
		"redir=-1 resp=%d lib-name=%s lib-ver=%s\n",
		m.id, c.nc.RemoteAddr(), c.nc.LocalAddr(), m.name, int(now.Sub(m.created).Seconds()), int(now.Sub(m.lastCmd).Seconds()),
		flags, len(c.channels), len(c.patterns), m.cmd, c.proto, m.libName, m.libVer)
}

// validClientName is Redis's rule for names and lib fields: printable
// ASCII without spaces.
func validClientName(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '!' || s[i] > '~' {
			return false
		}
	}
	return true
}

// clientCmd runs CLIENT <subcommand>.
func (c *conn) clientCmd(w *resp.Writer, args [][]byte) {
	reg := &c.s.clients
	sub := strings.ToLower(string(args[1]))
	switch sub {
	case "id":
		reg.mu.Lock()
		w.Int(c.meta.id)
		reg.mu.Unlock()
	case "getname":
		reg.mu.Lock()
		name := c.meta.name
		reg.mu.Unlock()
		if name == "" {
			w.Null()
		} else {
			w.BulkString(name)
		}
	case "setname":
		if !validClientName(string(args[2])) {
			w.Error("ERR Client names cannot contain spaces, newlines or special characters.")
			return
		}
		reg.mu.Lock()
		c.meta.name = string(args[2])
		reg.mu.Unlock()
		w.OK()
	case "setinfo":
		// Redis 7.2 declares at least four; it takes exactly four.
		if len(args) != 4 {
			w.Error("ERR wrong number of arguments for 'client|setinfo' command")
			return
		}
		attr, v := strings.ToLower(string(args[2])), string(args[3])
		if attr != "lib-name" && attr != "lib-ver" {
			w.Error(fmt.Sprintf("ERR Unrecognized option '%s'", args[2]))
			return
		}
		if !validClientName(v) {
			w.Error(fmt.Sprintf("ERR %s cannot contain spaces, newlines or special characters.", attr))
			return
		}
		reg.mu.Lock()
		if attr == "lib-name" {
			c.meta.libName = v
		} else {
			c.meta.libVer = v
		}
		reg.mu.Unlock()
		w.OK()
	case "list", "info":
		c.clientList(w, args, sub == "info")
	case "kill":
		c.clientKill(w, args)
	case "no-evict", "no-touch":
		if v := strings.ToLower(string(args[2])); v != "on" && v != "off" {
			w.Error("ERR syntax error")
			return
		}
		w.OK()
	default:
		w.Error(fmt.Sprintf("ERR unknown subcommand '%s'. Try CLIENT HELP.", args[1]))
	}
}

// clientList answers CLIENT LIST [TYPE t] [ID id ...] and CLIENT INFO.
func (c *conn) clientList(w *resp.Writer, args [][]byte, self bool) {
	reg := &c.s.clients
	var typ string
	var ids map[int64]bool
	if !self {
		for i := 2; i < len(args); i++ {
			opt := strings.ToLower(string(args[i]))
			switch {
			case opt == "type" && i+1 < len(args):
				typ = strings.ToLower(string(args[i+1]))
				switch typ {
				case "normal", "pubsub", "master", "replica", "slave":
				default:
					w.Error(fmt.Sprintf("ERR Unknown client type '%s'", args[i+1]))
					return
				}
				i++
			case opt == "id" && i+1 < len(args):
				ids = map[int64]bool{}
				for i++; i < len(args); i++ {
					id, err := strconv.ParseInt(string(args[i]), 10, 64)
					if err != nil || id <= 0 {
						w.Error("ERR Invalid client ID")
						return
					}
					ids[id] = true
				}
			default:
				w.Error("ERR syntax error")
				return
			}
		}
	}
	c.s.subs.mu.Lock()
	defer c.s.subs.mu.Unlock()
	reg.mu.Lock()
	defer reg.mu.Unlock()
	now := time.Now()
	if self {
		w.BulkString(c.line(now))
		return
	}
	conns := make([]*conn, 0, len(reg.conns))
	for o := range reg.conns {
		conns = append(conns, o)
	}
	sort.Slice(conns, func(i, j int) bool { return conns[i].meta.id < conns[j].meta.id })
	var b strings.Builder
	for _, o := range conns {
		pubsub := len(o.channels)+len(o.patterns) > 0
		if (typ == "normal" && pubsub) || (typ == "pubsub" && !pubsub) || typ == "master" || typ == "replica" || typ == "slave" {
			continue
		}
		if ids != nil && !ids[o.meta.id] {
			continue
		}
		b.WriteString(o.line(now))
	}
	w.BulkString(b.String())
}

// clientKill answers CLIENT KILL addr (the old form: +OK or an error)
// and CLIENT KILL <filter> <value> ... (the count of killed clients).
func (c *conn) clientKill(w *resp.Writer, args [][]byte) {
	reg := &c.s.clients
	var match []func(o *conn, now time.Time) bool
	oldForm := len(args) == 3
	skipMe := true
	if oldForm {
		addr := string(args[2])
		match = append(match, func(o *conn, _ time.Time) bool { return o.nc.RemoteAddr().String() == addr })
		skipMe = false
	} else {
		if (len(args)-2)%2 != 0 {
			w.Error("ERR syntax error")
			return
		}
		for i := 2; i < len(args); i += 2 {
			opt, val := strings.ToLower(string(args[i])), string(args[i+1])
			switch opt {
			case "id":
				id, err := strconv.ParseInt(val, 10, 64)
				if err != nil || id <= 0 {
					w.Error("ERR client-id should be greater than 0")
					return
				}
				match = append(match, func(o *conn, _ time.Time) bool { return o.meta.id == id })
			case "addr":
				match = append(match, func(o *conn, _ time.Time) bool { return o.nc.RemoteAddr().String() == val })
			case "laddr":
				match = append(match, func(o *conn, _ time.Time) bool { return o.nc.LocalAddr().String() == val })
			case "user":
				match = append(match, func(*conn, time.Time) bool { return val == "default" })
			case "type":
				t := strings.ToLower(val)
				switch t {
				case "normal", "pubsub":
					match = append(match, func(o *conn, _ time.Time) bool {
						return (len(o.channels)+len(o.patterns) > 0) == (t == "pubsub")
					})
				case "master", "replica", "slave":
					match = append(match, func(*conn, time.Time) bool { return false })
				default:
					w.Error(fmt.Sprintf("ERR Unknown client type '%s'", val))
					return
				}
			case "skipme":
				switch strings.ToLower(val) {
				case "yes":
					skipMe = true
				case "no":
					skipMe = false
				default:
					w.Error("ERR syntax error")
					return
				}
			case "maxage":
				secs, err := strconv.ParseInt(val, 10, 64)
				if err != nil || secs < 0 {
					w.Error("ERR syntax error")
					return
				}
				match = append(match, func(o *conn, now time.Time) bool { return now.Sub(o.meta.created) >= time.Duration(secs)*time.Second })
			default:
				w.Error("ERR syntax error")
				return
			}
		}
	}
	killed := func() int {
		c.s.subs.mu.Lock()
		defer c.s.subs.mu.Unlock()
		reg.mu.Lock()
		defer reg.mu.Unlock()
		now := time.Now()
		killed := 0
		for o := range reg.conns {
			if o == c && skipMe {
				continue
			}
			all := true
			for _, m := range match {
				all = all && m(o, now)
			}
			if !all {
				continue
			}
			killed++
			if o == c {
				c.meta.closeAfterReply = true
			} else {
				o.nc.Close()
			}
		}
		return killed
	}()
	switch {
	case !oldForm:
		w.Int(int64(killed))
	case killed == 0:
		w.Error("ERR No such client")
	default:
		w.OK()
	}
}
