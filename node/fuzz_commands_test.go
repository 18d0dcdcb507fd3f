package node

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilkv/vigil/internal/fuzzcmd"
	"github.com/vigilkv/vigil/node/config"
)

// fuzzDenied are commands a command fuzzer must not run: they stop the
// server, wait, turn the client into something else (a replica, a
// subscriber, a monitor), change the server's configuration or users for
// every later input, or write files.
var fuzzDenied = []string{
	"shutdown", "debug", "monitor", "subscribe", "psubscribe", "ssubscribe",
	"sync", "psync", "replconf", "replicaof", "slaveof", "failover", "client",
	"config", "acl", "save", "bgsave", "bgrewriteaof", "quit", "migrate", "wait",
	"waitaof", "upgrade", "lease",
}

// fuzzTokens are the arguments a fuzzed command is mostly built from: keys,
// the options the commands take and the numbers at their edges, so that
// most inputs get past argument parsing into the commands' work.
var fuzzTokens = []string{
	"k", "k2", "{k}x", "", "a", "b", "0", "1", "2", "3", "-1", "-2", "10", "100", "-100",
	"9223372036854775807", "-9223372036854775808", "9223372036854775808", "4294967295",
	"2147483648", "0.5", "-0.5", "1e308", "-1e308", "inf", "-inf", "+inf", "nan", "1e-320",
	"(1", "(-inf", "[a", "(b", "-", "+", "*", "k*", "?", "[a-z]*", "#", "->f", "*->f", "h_*",
	"NX", "XX", "GT", "LT", "CH", "INCR", "WITHSCORES", "WITHSCORE", "WITHVALUES", "LIMIT",
	"BYSCORE", "BYLEX", "REV", "COUNT", "MATCH", "TYPE", "LEFT", "RIGHT", "BEFORE", "AFTER",
	"RANK", "MAXLEN", "STORE", "BY", "GET", "ASC", "DESC", "ALPHA", "KEEPTTL", "EX", "PX",
	"EXAT", "PXAT", "PERSIST", "AGGREGATE", "SUM", "MIN", "MAX", "WEIGHTS", "REPLACE", "DB",
	"IDLETTL", "FREQ", "ABSTTL", "LEN", "IDX", "MINMATCHLEN", "WITHMATCHLEN", "AND", "OR",
	"XOR", "NOT", "BIT", "BYTE", "OVERFLOW", "WRAP", "SAT", "FAIL", "SET", "INCRBY", "u8",
	"i16", "u63", "i64", "#1", "ENCODING", "REFCOUNT", "USAGE", "SAMPLES", "NUMSUB",
	"CHANNELS", "string", "list", "hash", "zset", "set", "ASYNC", "SYNC", "COPY",
	"\x00\xff", strings.Repeat("x", 70), "12345678901234567890123",
}

// fuzzCommandNames lists the commands a fuzzer may run, in a fixed order
// so that an input means the same sequence from one run to the next.
func fuzzCommandNames(s *Server) []string {
	var names []string
	for name, cmd := range s.cmds.byName {
		if cmd.Flags&FlagBlocking != 0 || slices.Contains(fuzzDenied, name) {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// fuzzCommandSeeds start the command fuzzers off inside each type's
// commands, at the edges of their arguments.
var fuzzCommandSeeds = [][]string{
	{"SET k a", "GETRANGE k -1 -9223372036854775808", "SETRANGE k 4294967295 a"},
	{"RPUSH k a b", "LPOS k a RANK -9223372036854775808", "LINSERT k BEFORE a b", "LRANGE k -100 100"},
	{"HSET k a b", "HRANDFIELD k -9223372036854775808 WITHVALUES", "HSCAN k 0 MATCH *"},
	{"SADD k 1 2", "SRANDMEMBER k -2", "SINTERCARD 2 k k2 LIMIT -1", "SSCAN k -1 COUNT 9223372036854775807"},
	{"ZADD k 1 a 2 b", "ZRANGE k (1 +inf BYSCORE LIMIT 0 -1", "ZRANGESTORE k2 k [a + BYLEX REV", "ZRANDMEMBER k -9223372036854775808 WITHSCORES"},
	{"ZADD k INCR nan a", "ZUNIONSTORE k2 2 k k WEIGHTS inf -inf", "ZINTER 2 k k AGGREGATE MAX"},
	{"SETBIT k 7 1", "BITFIELD k SET i64 #1 -1 INCRBY u63 0 9223372036854775807", "BITPOS k 1 -1 -9223372036854775808 BIT"},
	{"RPUSH k 3 1 2", "SORT k BY h_* GET # GET *->f LIMIT 0 -1 ALPHA STORE k2"},
	{"SET k 1", "DUMP k", "RESTORE k2 0 \x00\xff REPLACE", "OBJECT ENCODING k"},
	{"MULTI", "INCR k", "LPUSH k a", "EXEC"},
	{"SET k a", "LCS k k IDX MINMATCHLEN 1 WITHMATCHLEN", "MEMORY USAGE k SAMPLES 0"},
	{"SADD k a b 1", "SPOP k 2", "SELECT 1", "SET k 1 EX 100", "SWAPDB 0 1", "MOVE k 1"},
	{"SET k 1 PX 100", "EXPIRE k 10 GT", "COPY k k2 DB 2", "GETEX k PERSIST", "INCRBYFLOAT k 1e308"},
}

// newFuzzCommandServer is an in-process server for the command fuzzers,
// with the names they may run.
func newFuzzCommandServer(f *testing.F) (*Server, []string) {
	s, _ := newTestServer(f, func(cfg *config.Config) {
		// Bounds what one SETBIT or SETRANGE may allocate, as in Redis.
		cfg.ProtoMaxBulkLen = 1 << 20
	})
	names := fuzzCommandNames(s)
	for _, seed := range fuzzCommandSeeds {
		data, err := fuzzcmd.Encode(names, fuzzTokens, seed...)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	return s, names
}

// runFuzzCommand runs one command for a command fuzzer through the
// dispatcher on cl, a client without a connection, failing the test if
// the command panicked (the dispatcher answers a panic with an "internal
// error ... a bug in vigil" reply), did not complete or ran for a second.
func runFuzzCommand(t *testing.T, s *Server, cl *Client, args [][]byte) {
	s.mu.Lock()
	start := time.Now()
	st := s.processCommand(cl, args)
	took := time.Since(start)
	reply := bytes.Clone(cl.W.Buf)
	cl.W.Reset()
	s.mu.Unlock()
	switch {
	case bytes.Contains(reply, []byte("(a bug in vigil; the server logged it)")):
		// runHandler's reply to a panic; longer than one raw argument
		// (31 bytes), so no value a seed or a single raw argument sets
		// reads as one.
		t.Fatalf("%q panicked: %q", args, reply)
	case st != cmdDone:
		t.Fatalf("%q did not complete (status %v)", args, st)
	case took > time.Second:
		t.Fatalf("%q took %v", args, took)
	}
}

// FuzzCommands runs short command sequences built from the fuzzer's bytes
// on an in-process server, straight through the dispatcher: whatever the
// arguments, no command may panic or run for a second.
func FuzzCommands(f *testing.F) {
	s, names := newFuzzCommandServer(f)
	cl := newClient(s, nil)
	cl.Authenticated = true
	f.Fuzz(func(t *testing.T, data []byte) {
		// Every input starts from nothing: no keys, no transaction, RESP2.
		runFuzzCommand(t, s, cl, [][]byte{[]byte("RESET")})
		runFuzzCommand(t, s, cl, [][]byte{[]byte("FLUSHALL")})
		for _, args := range fuzzcmd.Decode(data, names, fuzzTokens) {
			runFuzzCommand(t, s, cl, args)
		}
	})
}

// FuzzPropagation runs FuzzCommands' sequences and replays what they fed
// the replication stream, which replicas apply and the AOF stores, on a
// second server the way an AOF is loaded. Whatever the commands, the two
// datasets must then be equal (DEBUG DIGEST: keys, values, expiry times),
// or a replica, and the master restarted from its AOF, would hold other
// data than the master: a random command propagated as itself, a relative
// expiry not made absolute, a write not propagated at all.
func FuzzPropagation(f *testing.F) {
	s, names := newFuzzCommandServer(f)
	replay, _ := newTestServer(f, func(cfg *config.Config) { cfg.ProtoMaxBulkLen = 1 << 20 })
	var stream []byte
	s.mu.Lock()
	s.repl.addConsumer(func(chunk []byte) { stream = append(stream, chunk...) })
	s.mu.Unlock()
	cl := newClient(s, nil)
	cl.Authenticated = true
	loader := replay.newLoaderClient()
	f.Fuzz(func(t *testing.T, data []byte) {
		// FLUSHALL is propagated: the replay starts from nothing too.
		runFuzzCommand(t, s, cl, [][]byte{[]byte("RESET")})
		runFuzzCommand(t, s, cl, [][]byte{[]byte("FLUSHALL")})
		cmds := fuzzcmd.Decode(data, names, fuzzTokens)
		for _, args := range cmds {
			runFuzzCommand(t, s, cl, args)
		}
		s.mu.Lock()
		fed := stream
		stream = nil
		s.mu.Unlock()
		var replayed [][]byte
		_, err := scanAOF(bytes.NewReader(fed), func(args [][]byte, _ int64) error {
			replay.mu.Lock()
			st := replay.processCommand(loader, args)
			failed, reply := loader.ctx.failed, string(loader.W.Buf)
			loader.W.Reset()
			replay.mu.Unlock()
			replayed = append(replayed, bytes.Join(args, []byte(" ")))
			switch {
			case st != cmdDone:
				return fmt.Errorf("replaying %q did not complete (status %v)", args, st)
			case failed && !strings.EqualFold(string(args[0]), "exec"):
				return fmt.Errorf("replaying %q failed: %q", args, reply)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("after %q: %v", cmds, err)
		}
		s.mu.Lock()
		want := s.datasetDigest()
		s.mu.Unlock()
		replay.mu.Lock()
		got := replay.datasetDigest()
		replay.mu.Unlock()
		if !bytes.Equal(want, got) {
			t.Fatalf("after %q the replayed stream gives another dataset than the master's (digest %x, want %x); the stream:\n%s", cmds, got, want, bytes.Join(replayed, []byte("\n")))
		}
	})
}
