package compat

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilkv/vigil/internal/testutil"
)

// envAgainst set to "redis" runs redis-server on the vigil side too: a
// check that the scripts themselves are deterministic, and a way to work
// on scripts before vigil supports their commands.
const envAgainst = "VIGIL_COMPAT_AGAINST"

// envTrace set to 1 logs every step with both replies (run with -v): a
// help for writing scripts.
const envTrace = "VIGIL_COMPAT_TRACE"

// maxMismatches per run before giving up: by then the two keyspaces have
// usually diverged and later differences are noise.
const maxMismatches = 20

func TestMain(m *testing.M) { testutil.Main(m) }

// TestCompat runs every testdata/*.txt script against vigil-server and
// redis-server and compares the replies byte for byte.
func TestCompat(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scripts in testdata")
	}
	testutil.RequireRedis(t)
	if os.Getenv(envAgainst) != "redis" {
		// Fail once, up front, rather than once per script.
		testutil.ServerBinary(t)
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".txt")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			script, err := ParseScript(path, src)
			if err != nil {
				t.Fatal(err)
			}
			for _, proto := range script.Protocols {
				t.Run(fmt.Sprintf("resp%d", proto), func(t *testing.T) {
					runScript(t, path, script, proto)
				})
			}
		})
	}
}

// TestParseScript checks the script syntax on a sample of every directive.
func TestParseScript(t *testing.T) {
	src := "!args --hz 100\n!protocols 3\n# comment\n\nSET k \"a b\"\n!nocompare TIME\n!sametype INFO\n" +
		"!send BLPOP l 0\n!read\n!raw \"PING\\r\\n\"\n!rawsend \"*1\\r\\n\"\n!sleep 5\n!conn 2\n!closed\n!reconnect\n!resp2\n"
	s, err := ParseScript("x.txt", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.ServerArgs, " "); got != "--hz 100" {
		t.Errorf("ServerArgs = %q", got)
	}
	if len(s.Protocols) != 1 || s.Protocols[0] != 3 {
		t.Errorf("Protocols = %v", s.Protocols)
	}
	wantOps := []Op{OpCommand, OpCommand, OpCommand, OpSend, OpRead, OpRaw, OpRawSend, OpSleep, OpConn, OpClosed, OpReconnect, OpProto}
	if len(s.Steps) != len(wantOps) {
		t.Fatalf("got %d steps, want %d", len(s.Steps), len(wantOps))
	}
	for i, op := range wantOps {
		if s.Steps[i].Op != op {
			t.Errorf("step %d (%s): op %d, want %d", i, s.Steps[i].Text, s.Steps[i].Op, op)
		}
	}
	if s.Steps[0].Args[2] != "a b" || s.Steps[0].Line != 5 || s.Steps[1].Compare != CompareNone ||
		s.Steps[2].Compare != CompareType || string(s.Steps[5].Raw) != "PING\r\n" ||
		s.Steps[7].Sleep != 5*time.Millisecond || s.Steps[8].Conn != 2 || s.Steps[11].Proto != 2 {
		t.Errorf("step details wrong: %+v", s.Steps)
	}
	for _, bad := range []string{"SET \"a\n", "!bogus\n", "!sleep x\n", "!conn 0\n", "PING\n!args --x y\n", "!protocols 4\n", "!send\n", "!raw\n"} {
		if _, err := ParseScript("bad.txt", []byte(bad)); err == nil {
			t.Errorf("ParseScript(%q) accepted", bad)
		}
	}
}

// side is one server under comparison and its open connections.
type side struct {
	name  string
	addr  string
	proto int // the run's protocol, applied to every new connection
	conns map[int]*testutil.RawConn
}

func (s *side) conn(t *testing.T, n int) (*testutil.RawConn, error) {
	if c, ok := s.conns[n]; ok {
		return c, nil
	}
	c, err := testutil.TryDialRaw(t, s.addr)
	if err != nil {
		return nil, err
	}
	if s.proto == 3 {
		if err := hello(c, 3); err != nil {
			c.Close()
			return nil, err
		}
	}
	s.conns[n] = c
	return c, nil
}

func hello(c *testutil.RawConn, proto int) error {
	if err := c.TrySend("HELLO", fmt.Sprint(proto)); err != nil {
		return err
	}
	v, raw, err := c.TryRead()
	if err != nil {
		return err
	}
	if v.IsError() {
		return fmt.Errorf("HELLO %d: %q", proto, raw)
	}
	return nil
}

// outcome is what one server did for a step: a reply, or an error
// (connection closed, timeout).
type outcome struct {
	raw []byte
	err error
}

func (o outcome) String() string {
	if o.err != nil {
		return "<" + o.err.Error() + ">"
	}
	return fmt.Sprintf("%q", o.raw)
}

func startSides(t *testing.T, script *Script, proto int) (vigil, redis *side) {
	var vigilProc *testutil.Proc
	if os.Getenv(envAgainst) == "redis" {
		vigilProc = testutil.StartRedis(t, script.ServerArgs...)
	} else {
		vigilProc = testutil.StartVigil(t, script.ServerArgs...)
	}
	redisProc := testutil.StartRedis(t, script.ServerArgs...)
	return &side{name: "vigil", addr: vigilProc.Addr, proto: proto, conns: map[int]*testutil.RawConn{}},
		&side{name: "redis", addr: redisProc.Addr, proto: proto, conns: map[int]*testutil.RawConn{}}
}

func runScript(t *testing.T, path string, script *Script, proto int) {
	testutil.RequireRedis(t)
	vigil, redis := startSides(t, script, proto)
	sides := []*side{vigil, redis}
	cur := 1
	mismatches := 0
	trace := os.Getenv(envTrace) == "1"
	for _, st := range script.Steps {
		where := fmt.Sprintf("%s:%d (resp%d)", path, st.Line, proto)
		// report describes a difference; fatal ones end the run because
		// the connections are no longer in step.
		report := func(fatal bool, what string, out []outcome) {
			t.Helper()
			msg := fmt.Sprintf("%s: %s\n    line:    %s", where, what, st.Text)
			if st.Args != nil {
				msg += fmt.Sprintf("\n    command: %q", st.Args)
			}
			shown := showOutcomes(out)
			for i, s := range sides {
				msg += fmt.Sprintf("\n    %s:%s %s", s.name, strings.Repeat(" ", 8-len(s.name)), shown[i])
			}
			if fatal {
				t.Fatal(msg)
			}
			t.Error(msg)
			if mismatches++; mismatches >= maxMismatches {
				t.Fatalf("%s: stopping after %d mismatches", path, mismatches)
			}
		}
		switch st.Op {
		case OpSleep:
			time.Sleep(st.Sleep)
			continue
		case OpConn:
			cur = st.Conn
			continue
		}
		out := make([]outcome, len(sides))
		for i, s := range sides {
			out[i] = perform(t, s, cur, st)
		}
		if trace {
			t.Logf("%d: %-40s vigil %s | redis %s", st.Line, st.Text, out[0], out[1])
		}
		switch st.Op {
		case OpClosed:
			for _, o := range out {
				if o.err == nil || isTimeout(o.err) {
					report(true, "expected the server to close the connection", out)
				}
			}
			continue
		case OpSend, OpRawSend, OpReconnect, OpProto:
			for _, o := range out {
				if o.err != nil {
					report(true, "step failed", out)
				}
			}
			continue
		}
		if out[0].err != nil || out[1].err != nil {
			report(true, "the step failed on one side (connection closed, timeout or failed HELLO)", out)
		}
		switch st.Compare {
		case CompareExact:
			if !bytes.Equal(out[0].raw, out[1].raw) {
				report(false, "replies differ", out)
			}
		case CompareType:
			if out[0].raw[0] != out[1].raw[0] {
				report(false, "reply types differ", out)
			}
		}
	}
}

// perform runs one step on one side.
func perform(t *testing.T, s *side, n int, st Step) outcome {
	if st.Op == OpReconnect {
		if c, ok := s.conns[n]; ok {
			c.Close()
			delete(s.conns, n)
		}
		_, err := s.conn(t, n)
		return outcome{err: err}
	}
	c, err := s.conn(t, n)
	if err != nil {
		return outcome{err: err}
	}
	var werr error
	switch st.Op {
	case OpCommand, OpSend:
		werr = c.TrySend(st.Args...)
	case OpRaw, OpRawSend:
		werr = c.TryWrite(st.Raw)
	case OpProto:
		return outcome{err: hello(c, st.Proto)}
	case OpClosed:
		c.Timeout = time.Second
		_, raw, err := c.TryRead()
		c.Timeout = 0
		if err != nil {
			// The next step will need a new connection.
			c.Close()
			delete(s.conns, n)
		}
		return outcome{raw: raw, err: err}
	}
	if werr != nil || st.Op == OpSend || st.Op == OpRawSend {
		return outcome{err: werr}
	}
	_, raw, err := c.TryRead()
	return outcome{raw: raw, err: err}
}

// fullReplyMax is the longest reply shown whole in a mismatch report;
// longer ones are shown around their first difference.
const fullReplyMax = 400

// showOutcomes renders the outcomes for a report, quoted.
func showOutcomes(out []outcome) []string {
	shown := make([]string, len(out))
	long := false
	for i, o := range out {
		shown[i] = o.String()
		long = long || len(o.raw) > fullReplyMax
	}
	if !long || out[0].err != nil || out[1].err != nil {
		return shown
	}
	a, b := out[0].raw, out[1].raw
	at := 0
	for at < len(a) && at < len(b) && a[at] == b[at] {
		at++
	}
	from := max(0, at-80)
	for i, r := range [][]byte{a, b} {
		to := min(len(r), at+80)
		shown[i] = fmt.Sprintf("%d bytes, first difference at byte %d: ...%q...", len(r), at, r[from:to])
	}
	return shown
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
