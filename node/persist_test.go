package node

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilkv/vigil/internal/resp"
	"github.com/vigilkv/vigil/node/config"
	"github.com/vigilkv/vigil/node/keyspace"
	"github.com/vigilkv/vigil/node/rdb"
)

// readRDB loads an RDB file into db/key -> value string.
func readRDB(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	l := rdb.Loader{Limits: rdb.DefaultLimits(), Databases: 16}
	err = l.Load(bufio.NewReader(f), func(db int, key []byte, v keyspace.Value, expireMs int64) error {
		id := fmt.Sprint(db, "/", string(key))
		if _, dup := out[id]; dup {
			return fmt.Errorf("duplicate %s", id)
		}
		switch v.Type() {
		case keyspace.TypeString:
			out[id] = string(v.Bytes())
		case keyspace.TypeList:
			out[id] = "list:" + strings.Join(v.List().Strings(), ",")
		default:
			out[id] = v.Type().String()
		}
		if expireMs >= 0 {
			out[id] += "@ttl"
		}
		return nil
	})
	if err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	return out
}

// TestSnapshotWalksDBAfterFullSide: writes ahead of a snapshot's walk
// preserve more than a chunk of old values before the walk of a database
// begins; the walk must still visit every key (it once took the full
// chunk for a finished walk and skipped the database).
func TestSnapshotWalksDBAfterFullSide(t *testing.T) {
	s, _ := newTestServer(t)
	const keys = 5000
	// Random bytes, which LZF does not shrink.
	raw := make([]byte, 1024)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range raw {
		raw[i] = byte(r.Uint32())
	}
	big := keyspace.NewString(string(raw))
	s.mu.Lock()
	db := s.ks.DBs[0]
	for i := 0; i < keys; i++ {
		db.Set("k"+strconv.Itoa(i), big, false)
	}
	rs := s.beginSnapshot(false)
	for i := 0; i < 2*snapshotChunk/1024; i++ {
		db.Set("k"+strconv.Itoa(i), keyspace.NewString("new"), false)
	}
	s.mu.Unlock()
	path := filepath.Join(t.TempDir(), "dump.rdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.stream(f, false, nil); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got := readRDB(t, path)
	if len(got) != keys {
		t.Fatalf("snapshot has %d keys, want %d", len(got), keys)
	}
	for k, v := range got {
		if len(v) != 1024 {
			t.Fatalf("%s has a value of %d bytes, want the 1024 of the snapshot's start", k, len(v))
		}
	}
}

// TestBgsaveIsPointInTime runs BGSAVE in the middle of a pipelined stream
// of writes on one connection (so which writes precede it is known) and
// checks the file holds exactly the dataset as of the BGSAVE: later sets,
// deletes, renames, pushes, expiries and flushes of other databases do not
// leak in, and nothing is missing.
func TestBgsaveIsPointInTime(t *testing.T) {
	dir := t.TempDir()
	_, addr := newTestServer(t, func(c *config.Config) { c.Dir = dir })
	conn := dialRaw(t, addr)
	model := map[string]string{}
	const keys = 60000
	var batch []string
	send := func(args ...string) { batch = append(batch, string(resp.AppendCommandStrings(nil, args...))) }
	flush := func() {
		conn.c.Write([]byte(strings.Join(batch, "")))
		for range batch {
			conn.Read()
		}
		batch = batch[:0]
	}
	// The initial dataset: strings and lists in db 0, strings in db 2.
	for i := 0; i < keys; i++ {
		k := "k" + strconv.Itoa(i)
		send("SET", k, "v"+strconv.Itoa(i))
		model["0/"+k] = "v" + strconv.Itoa(i)
		if len(batch) == 1000 {
			flush()
		}
	}
	for i := 0; i < 500; i++ {
		k := "l" + strconv.Itoa(i)
		send("RPUSH", k, "a", "b")
		model["0/"+k] = "list:a,b"
		send("SELECT", "2")
		send("SET", "d2-"+strconv.Itoa(i), "x")
		model["2/d2-"+strconv.Itoa(i)] = "x"
		send("SELECT", "0")
	}
	flush()
	// BGSAVE, then a burst of changes pipelined right behind it.
	send("BGSAVE")
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		k := "k" + strconv.Itoa(r.IntN(keys))
		switch r.IntN(7) {
		case 0:
			send("SET", k, "changed")
		case 1:
			send("DEL", k)
		case 2:
			send("RENAME", k, "renamed"+strconv.Itoa(i))
		case 3:
			send("RPUSH", "l"+strconv.Itoa(r.IntN(500)), "c")
		case 4:
			send("PEXPIRE", k, "1")
		case 5:
			send("SET", "new"+strconv.Itoa(i), "n")
		case 6:
			send("APPEND", k, "+")
		}
	}
	send("SELECT", "2")
	send("FLUSHDB")
	send("SELECT", "0")
	flush()
	deadline := time.Now().Add(30 * time.Second)
	for {
		info := conn.Do("INFO", "persistence")
		if strings.Contains(info, "rdb_bgsave_in_progress:0") {
			if !strings.Contains(info, "rdb_last_bgsave_status:ok") || !strings.Contains(info, "rdb_saves:1") {
				t.Fatalf("save failed:\n%s", info)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("BGSAVE did not finish")
		}
		time.Sleep(10 * time.Millisecond)
	}
	got := readRDB(t, filepath.Join(dir, "dump.rdb"))
	if len(got) != len(model) {
		t.Errorf("file has %d keys, the dataset had %d", len(got), len(model))
	}
	bad := 0
	for k, want := range model {
		if g := got[k]; g != want && bad < 10 {
			bad++
			t.Errorf("%s: file has %q, the dataset had %q", k, g, want)
		}
	}
}
