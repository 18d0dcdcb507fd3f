// Package fuzzcmd turns a fuzzer's bytes into command sequences, for the
// fuzz tests that run commands through a server's dispatcher: most
// arguments come from a dictionary of tokens (keys, options, numbers at
// their edges) so that most inputs get past argument parsing into the
// commands' work.
package fuzzcmd

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// MaxCommands is the most commands one input decodes to; MaxArgs the
// most arguments after the name.
const (
	MaxCommands = 8
	MaxArgs     = 15
)

// raw marks an argument spelled out in the input's bytes rather than
// chosen from the tokens.
const raw = 0xff

// Decode turns data into at most MaxCommands commands: per command a byte
// choosing the name from names, a byte for the argument count
// (0-MaxArgs), then per argument a byte choosing a token, or 0xff, a
// length byte (0-31) and that many raw bytes.
func Decode(data []byte, names, tokens []string) [][][]byte {
	var cmds [][][]byte
	next := func() (byte, bool) {
		if len(data) == 0 {
			return 0, false
		}
		b := data[0]
		data = data[1:]
		return b, true
	}
	for len(cmds) < MaxCommands {
		nb, ok := next()
		if !ok {
			break
		}
		cb, _ := next()
		args := [][]byte{[]byte(names[int(nb)%len(names)])}
		for range int(cb) % (MaxArgs + 1) {
			tb, ok := next()
			if !ok {
				break
			}
			if tb != raw {
				args = append(args, []byte(tokens[int(tb)%len(tokens)]))
				continue
			}
			lb, _ := next()
			n := min(int(lb%32), len(data))
			args = append(args, bytes.Clone(data[:n]))
			data = data[n:]
		}
		cmds = append(cmds, args)
	}
	return cmds
}

// Encode is Decode's inverse, for seeds: each command a line of
// space-separated words, the first one of names (any case).
func Encode(names, tokens []string, cmds ...string) ([]byte, error) {
	var out []byte
	for _, c := range cmds {
		args := strings.Fields(c)
		if len(args) == 0 || len(args) > MaxArgs+1 {
			return nil, fmt.Errorf("seed %q: a name and up to %d arguments", c, MaxArgs)
		}
		i := slices.Index(names, strings.ToLower(args[0]))
		if i < 0 || i > 0xff {
			return nil, fmt.Errorf("seed %q: %q is not one of the names", c, args[0])
		}
		out = append(out, byte(i), byte(len(args)-1))
		for _, a := range args[1:] {
			if j := slices.Index(tokens, a); j >= 0 && j < raw {
				out = append(out, byte(j))
				continue
			}
			if len(a) >= 32 {
				return nil, fmt.Errorf("seed %q: %q is neither a token nor under 32 bytes", c, a)
			}
			out = append(out, raw, byte(len(a)))
			out = append(out, a...)
		}
	}
	return out, nil
}
