// Package compat checks that vigil-server replies byte for byte like
// redis-server. Command scripts in testdata/*.txt run against a fresh
// instance of each over raw TCP, once in RESP2 and once in RESP3, and
// every reply is compared exactly.
//
// Adding coverage is dropping a file into testdata: the test picks up
// every *.txt there and runs it as its own subtest (TestCompat/<name>).
//
// # Script format
//
// One command per line, quoted the way redis-cli and redis.conf quote
// ("a b", 'c', "\x00\r\n"); it is sent as a RESP array of bulk strings and
// the raw replies of the two servers must be equal. Blank lines and lines
// starting with # are ignored. Lines starting with ! are directives:
//
//	!nocompare CMD ...   run CMD on both, do not compare (TIME, INFO)
//	!sametype CMD ...    run CMD on both, compare only the reply type byte
//	!sleep MS            wait MS milliseconds (expiry)
//	!conn N              switch to connection N (opened on first use;
//	                     connection 1 is the default)
//	!send CMD ...        send CMD without reading its reply (blocking
//	                     commands, pipelines)
//	!read                read one reply and compare (after !send, pushes)
//	!raw "BYTES"         write BYTES as they are (inline commands, bad
//	                     protocol) and compare one reply
//	!rawsend "BYTES"     write BYTES without reading a reply
//	!closed              expect the server to have closed the connection
//	!reconnect           close and reopen the current connection
//	!resp2, !resp3       switch the current connection's protocol with
//	                     HELLO (its reply is not compared)
//
// Header directives, before the first command:
//
//	!args --directive value ...   extra arguments for both servers
//	!protocols 2                  run only in the listed protocols
//	                              (default: 2 3)
package compat

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vigilkv/vigil/internal/resp"
)

// Op is what a script step does.
type Op int

// Step operations.
const (
	OpCommand   Op = iota // send Args, read one reply, compare per Compare
	OpSend                // send Args, read nothing
	OpRead                // read one reply, compare
	OpRaw                 // write Raw, read one reply, compare
	OpRawSend             // write Raw, read nothing
	OpSleep               // wait Sleep
	OpConn                // switch to connection Conn
	OpClosed              // expect the connection to be closed
	OpReconnect           // reopen the current connection
	OpProto               // switch the current connection to protocol Proto
)

// Compare is how two replies are compared.
type Compare int

// Comparison modes.
const (
	CompareExact Compare = iota // byte for byte
	CompareType                 // first byte only
	CompareNone                 // not at all
)

// Step is one executable line of a script.
type Step struct {
	Line    int    // 1-based line number in the script
	Text    string // the line as written
	Op      Op
	Args    []string
	Raw     []byte
	Compare Compare
	Sleep   time.Duration
	Conn    int
	Proto   int
}

// Script is a parsed command script.
type Script struct {
	Name       string
	ServerArgs []string // from !args
	Protocols  []int    // from !protocols; default 2 and 3
	Steps      []Step
}

// ParseScript parses a script; name is used in error messages.
func ParseScript(name string, src []byte) (*Script, error) {
	s := &Script{Name: name, Protocols: []int{2, 3}}
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s: %s", name, lineNo, fmt.Sprintf(format, args...), text)
		}
		args, ok := resp.SplitArgs([]byte(text), nil)
		if !ok {
			return nil, fail("unbalanced quotes")
		}
		words := make([]string, len(args))
		for i, a := range args {
			words[i] = string(a)
		}
		step := Step{Line: lineNo, Text: text}
		if !strings.HasPrefix(text, "!") {
			step.Op, step.Args = OpCommand, words
			s.Steps = append(s.Steps, step)
			continue
		}
		directive, rest := words[0], words[1:]
		needArgs := func(n int) error {
			if n >= 0 && len(rest) != n {
				return fail("%s takes %d argument(s)", directive, n)
			}
			return nil
		}
		var err error
		switch directive {
		case "!args", "!protocols":
			if len(s.Steps) > 0 {
				return nil, fail("%s must come before the first command", directive)
			}
			if directive == "!args" {
				s.ServerArgs = append(s.ServerArgs, rest...)
				continue
			}
			s.Protocols = nil
			for _, w := range rest {
				if w != "2" && w != "3" {
					return nil, fail("protocols are 2 and 3")
				}
				s.Protocols = append(s.Protocols, int(w[0]-'0'))
			}
			if len(s.Protocols) == 0 {
				return nil, fail("!protocols needs at least one protocol")
			}
			continue
		case "!nocompare", "!sametype", "!send":
			if len(rest) == 0 {
				return nil, fail("%s needs a command", directive)
			}
			step.Op, step.Args = OpCommand, rest
			switch directive {
			case "!nocompare":
				step.Compare = CompareNone
			case "!sametype":
				step.Compare = CompareType
			case "!send":
				step.Op = OpSend
			}
		case "!read":
			step.Op, err = OpRead, needArgs(0)
		case "!raw", "!rawsend":
			step.Op = OpRaw
			if directive == "!rawsend" {
				step.Op = OpRawSend
			}
			if err = needArgs(1); err == nil {
				step.Raw = []byte(rest[0])
			}
		case "!sleep":
			if err = needArgs(1); err == nil {
				ms, perr := strconv.Atoi(rest[0])
				if perr != nil || ms < 0 {
					return nil, fail("!sleep takes milliseconds")
				}
				step.Op, step.Sleep = OpSleep, time.Duration(ms)*time.Millisecond
			}
		case "!conn":
			if err = needArgs(1); err == nil {
				n, perr := strconv.Atoi(rest[0])
				if perr != nil || n < 1 {
					return nil, fail("!conn takes a connection number from 1")
				}
				step.Op, step.Conn = OpConn, n
			}
		case "!closed":
			step.Op, err = OpClosed, needArgs(0)
		case "!reconnect":
			step.Op, err = OpReconnect, needArgs(0)
		case "!resp2", "!resp3":
			step.Op, step.Proto, err = OpProto, int(directive[5]-'0'), needArgs(0)
		default:
			return nil, fail("unknown directive %s", directive)
		}
		if err != nil {
			return nil, err
		}
		s.Steps = append(s.Steps, step)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}
