package persistence

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilkv/vigil/deploy/proc"
	"github.com/vigilkv/vigil/internal/testutil"
)

// runExpectingFailure starts vigil-server on dir and expects it to exit
// with an error; it returns the output.
func runExpectingFailure(t *testing.T, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	port, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	all := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--save", ""}, args...)
	out, err := exec.CommandContext(ctx, testutil.ServerBinary(t), all...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("vigil-server kept running on a corrupt dataset:\n%s", out)
	}
	if err == nil {
		t.Fatalf("vigil-server exited 0 on a corrupt dataset:\n%s", out)
	}
	return string(out)
}

// TestCorruptRDBStopsStartup: a damaged dump.rdb is refused with a
// message naming the file and the offset; the file is left as it was.
func TestCorruptRDBStopsStartup(t *testing.T) {
	p := testutil.StartVigil(t)
	c := p.Client()
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		c.Set(ctx, "key"+strings.Repeat("x", i), i, 0)
	}
	if err := c.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	p.Stop()
	path := filepath.Join(p.Dir, "dump.rdb")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"flipped byte": flip(data, len(data)/2),
		"truncated":    data[:len(data)*2/3],
		"bad checksum": flip(data, len(data)-1),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "dump.rdb")
			os.WriteFile(file, bad, 0o644)
			out := runExpectingFailure(t, dir)
			if !strings.Contains(out, file) || !strings.Contains(out, "offset") {
				t.Fatalf("the error does not name the file and offset:\n%s", out)
			}
			if after, _ := os.ReadFile(file); string(after) != string(bad) {
				t.Fatal("the corrupt file was modified")
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	out := append([]byte(nil), b...)
	out[i] ^= 0x20
	return out
}

// TestAOFTailAndMiddle: a command cut off at the end of the AOF is
// dropped with a warning and the server starts; garbage in the middle
// stops startup naming the file and offset.
func TestAOFTailAndMiddle(t *testing.T) {
	p := testutil.StartVigil(t, "--appendonly", "yes")
	c := p.Client()
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		c.RPush(ctx, "l", i)
	}
	p.Stop()
	aofDir := filepath.Join(p.Dir, "appendonlydir")
	incrs, _ := filepath.Glob(filepath.Join(aofDir, "*.incr.aof"))
	if len(incrs) != 1 {
		t.Fatalf("incr files: %v", incrs)
	}
	incr := incrs[0]
	data, _ := os.ReadFile(incr)

	// A torn last command: accepted, cut off.
	os.WriteFile(incr, append(append([]byte(nil), data...), "*3\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$2\r\n5"...), 0o644)
	p.Restart()
	if n := p.Client().LLen(ctx, "l").Val(); n != 50 {
		t.Fatalf("LLEN after a torn tail: %d", n)
	}
	if !strings.Contains(p.Log(), "cutting it off") {
		t.Error("no warning about the torn tail in the log")
	}
	p.Stop()
	if after, _ := os.ReadFile(incr); len(after) != len(data) {
		t.Fatalf("torn tail not trimmed: %d bytes, want %d", len(after), len(data))
	}

	// Garbage in the middle: refused.
	bad := append([]byte(nil), data[:len(data)/2]...)
	bad = append(bad, "garbage\r\n"...)
	bad = append(bad, data[len(data)/2:]...)
	os.WriteFile(incr, bad, 0o644)
	out := runExpectingFailure(t, p.Dir, "--appendonly", "yes")
	if !strings.Contains(out, incr) || !strings.Contains(out, "offset") {
		t.Fatalf("the error does not name the file and offset:\n%s", out)
	}
}
