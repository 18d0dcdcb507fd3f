package compat

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/vigilkv/vigil/internal/testutil"
)

// TestBitfieldRandomVsRedis runs random BITFIELD commands (every width,
// signedness and overflow policy) against vigil-server and redis-server
// and compares the replies and the resulting strings byte for byte.
func TestBitfieldRandomVsRedis(t *testing.T) {
	testutil.RequireRedis(t)
	v := testutil.StartVigil(t).Raw()
	ref := testutil.StartRedis(t).Raw()
	r := rand.New(rand.NewPCG(5, 6))
	value := func() string {
		switch r.IntN(4) {
		case 0:
			return fmt.Sprint(r.Int64())
		case 1:
			return fmt.Sprint(-r.Int64())
		}
		return fmt.Sprint(r.IntN(600) - 300)
	}
	for i := 0; i < 3000; i++ {
		cmd := []string{"BITFIELD", "bf"}
		for n := 1 + r.IntN(4); n > 0; n-- {
			if r.IntN(4) == 0 {
				cmd = append(cmd, "OVERFLOW", []string{"WRAP", "SAT", "FAIL"}[r.IntN(3)])
			}
			typ := fmt.Sprint("u", 1+r.IntN(63))
			if r.IntN(2) == 0 {
				typ = fmt.Sprint("i", 1+r.IntN(64))
			}
			off := fmt.Sprint(r.IntN(200))
			if r.IntN(4) == 0 {
				off = fmt.Sprint("#", r.IntN(4))
			}
			switch r.IntN(3) {
			case 0:
				cmd = append(cmd, "GET", typ, off)
			case 1:
				cmd = append(cmd, "SET", typ, off, value())
			default:
				cmd = append(cmd, "INCRBY", typ, off, value())
			}
		}
		got, want := v.Do(cmd...), ref.Do(cmd...)
		if !bytes.Equal(got, want) {
			t.Fatalf("step %d %q:\n got %q\nwant %q", i, cmd, got, want)
		}
	}
	if got, want := v.Do("GET", "bf"), ref.Do("GET", "bf"); !bytes.Equal(got, want) {
		t.Fatalf("final value differs:\n got %q\nwant %q", got, want)
	}
}
