package node

import (
	"strconv"
	"strings"
	"time"
)

// diagState holds SLOWLOG entries and MONITOR clients.
type diagState struct {
	slowlog  []slowlogEntry
	nextID   int64
	monitors []*Client
}

// slowlogEntry is one SLOWLOG GET entry.
type slowlogEntry struct {
	id, time, usec int64
	args           []string
	addr, name     string
}

// Redis's bounds on what a slowlog entry keeps.
const (
	slowlogMaxArgc   = 32
	slowlogMaxArgLen = 128
)

func (d *diagState) init(s *Server) {}
func (d *diagState) cron(s *Server) {}
func (d *diagState) removeClient(cl *Client) {
	for i, m := range d.monitors {
		if m == cl {
			d.monitors = append(d.monitors[:i], d.monitors[i+1:]...)
			return
		}
	}
}

// feedMonitors sends an executed command to MONITOR clients, in Redis's
// line format.
func (d *diagState) feedMonitors(s *Server, cl *Client, db int, args [][]byte) {
	if len(d.monitors) == 0 {
		return
	}
	now := s.clock()
	var b strings.Builder
	b.WriteByte('+')
	b.WriteString(strconv.FormatInt(now.Unix(), 10))
	b.WriteByte('.')
	us := strconv.Itoa(now.Nanosecond() / 1000)
	b.WriteString(strings.Repeat("0", 6-len(us)) + us)
	b.WriteString(" [")
	b.WriteString(strconv.Itoa(db))
	b.WriteByte(' ')
	b.WriteString(cl.Addr())
	b.WriteByte(']')
	for _, a := range args {
		b.WriteByte(' ')
		b.WriteString(reprString(a))
	}
	b.WriteString("\r\n")
	line := []byte(b.String())
	for _, m := range d.monitors {
		if m != cl {
			m.push(line)
		}
	}
}

// reprString quotes a byte string as Redis's sdscatrepr does.
func reprString(a []byte) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, ch := range a {
		switch ch {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(ch)
		case '\n':
			b.WriteString("\\n")
		case '\r':
			b.WriteString("\\r")
		case '\t':
			b.WriteString("\\t")
		case '\a':
			b.WriteString("\\a")
		case '\b':
			b.WriteString("\\b")
		default:
			if ch >= 0x20 && ch < 0x7f {
				b.WriteByte(ch)
			} else {
				b.WriteString("\\x")
				b.WriteString(strconv.FormatUint(uint64(ch)>>4, 16))
				b.WriteString(strconv.FormatUint(uint64(ch)&0xf, 16))
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// slowlogPush records the command if it ran longer than
// slowlog-log-slower-than.
func (d *diagState) slowlogPush(s *Server, cl *Client, args [][]byte, dur time.Duration) {
	limit := s.cfg.SlowlogLogSlowerThan
	if limit < 0 || dur.Microseconds() < limit {
		return
	}
	e := slowlogEntry{id: d.nextID, time: s.clock().Unix(), usec: dur.Microseconds(), addr: cl.Addr(), name: cl.Name}
	d.nextID++
	n := min(len(args), slowlogMaxArgc)
	for i := 0; i < n; i++ {
		a := args[i]
		if i == slowlogMaxArgc-1 && len(args) > slowlogMaxArgc {
			e.args = append(e.args, "... ("+strconv.Itoa(len(args)-slowlogMaxArgc+1)+" more arguments)")
			break
		}
		if len(a) > slowlogMaxArgLen {
			e.args = append(e.args, string(a[:slowlogMaxArgLen])+"... ("+strconv.Itoa(len(a)-slowlogMaxArgLen)+" more bytes)")
			continue
		}
		e.args = append(e.args, string(a))
	}
	d.slowlog = append(d.slowlog, e)
	if over := len(d.slowlog) - s.cfg.SlowlogMaxLen; over > 0 {
		d.slowlog = append(d.slowlog[:0], d.slowlog[over:]...)
	}
}
