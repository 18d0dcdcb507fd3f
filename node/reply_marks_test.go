package node

import (
	"testing"

	"github.com/vigilkv/vigil/internal/resp"
)

// failReplies swaps the replies of unconfirmed writes for an error, leaves
// other replies alone, and keeps the marks usable for a second pass (the
// AOF's, then the replicas').
func TestFailReplies(t *testing.T) {
	const errA, errB = "-A\r\n", "-BB\r\n"
	// Output: a read's reply, then three writes at offsets 10, 20, 30,
	// then a write with its reply turned off (CLIENT REPLY OFF).
	build := func() *Client {
		cl := &Client{W: &resp.Writer{}}
		cl.W.Buf = []byte("$1\r\nr\r\n")
		for i, reply := range []string{"+OK\r\n", ":1\r\n", "+OK\r\n"} {
			start := len(cl.W.Buf)
			cl.W.Buf = append(cl.W.Buf, reply...)
			cl.waitMarks = append(cl.waitMarks, replyMark{start: start, end: len(cl.W.Buf), offset: int64(10 * (i + 1))})
		}
		cl.waitMarks = append(cl.waitMarks, replyMark{start: len(cl.W.Buf), end: len(cl.W.Buf), offset: 40})
		return cl
	}
	type pass struct {
		confirmed int64
		msg       string
	}
	tests := []struct {
		name   string
		passes []pass
		want   string
	}{
		{"all confirmed", []pass{{30, errA}}, "$1\r\nr\r\n+OK\r\n:1\r\n+OK\r\n"},
		{"none confirmed", []pass{{0, errA}}, "$1\r\nr\r\n-A\r\n-A\r\n-A\r\n"},
		{"the first confirmed", []pass{{10, errA}}, "$1\r\nr\r\n+OK\r\n-A\r\n-A\r\n"},
		{"second pass fails the rest, not the failed again", []pass{{20, errA}, {10, errB}}, "$1\r\nr\r\n+OK\r\n-BB\r\n-A\r\n"},
		{"second pass after a longer message", []pass{{10, errB}, {0, errA}}, "$1\r\nr\r\n-A\r\n-BB\r\n-BB\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := build()
			for _, p := range tt.passes {
				cl.failReplies(p.confirmed, p.msg)
			}
			if got := string(cl.W.Buf); got != tt.want {
				t.Errorf("output %q, want %q", got, tt.want)
			}
			for _, m := range cl.waitMarks {
				if m.start > m.end || m.end > len(cl.W.Buf) {
					t.Errorf("mark %+v outside the output of %d bytes", m, len(cl.W.Buf))
				}
			}
		})
	}
}
