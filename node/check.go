package node

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/vigilkv/vigil/node/keyspace"
	"github.com/vigilkv/vigil/node/rdb"
)

// CheckRDB verifies an RDB file the way redis-check-rdb does: every
// record decodes and the checksum matches. It reports to w.
func CheckRDB(path string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var keys, expires int64
	l := rdb.Loader{Limits: rdb.DefaultLimits(), Databases: 1 << 20}
	err = l.Load(bufio.NewReaderSize(f, 1<<20), func(db int, key []byte, v keyspace.Value, expireMs int64) error {
		keys++
		if expireMs >= 0 {
			expires++
		}
		return nil
	})
	if err != nil {
		fmt.Fprintf(w, "%s: RDB is corrupt: %v\n", path, err)
		return err
	}
	fmt.Fprintf(w, "%s: RDB version %d looks OK: %d keys, %d with an expire\n", path, l.Version, keys, expires)
	return nil
}

// CheckAOF verifies an AOF, given as its manifest, a single file, or the
// AOF directory, as redis-check-aof does. With fix, a file ending in a
// truncated command or an unterminated MULTI is cut back to its last
// complete command. It reports to w.
func CheckAOF(path string, fix bool, w io.Writer) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	var files []string
	switch {
	case st.IsDir():
		matches, _ := filepath.Glob(filepath.Join(path, "*.manifest"))
		if len(matches) != 1 {
			return fmt.Errorf("%s: expected one manifest, found %d", path, len(matches))
		}
		path = matches[0]
		fallthrough
	case strings.HasSuffix(path, ".manifest"):
		mf, err := readManifest(path)
		if err != nil {
			return err
		}
		for _, f := range mf {
			if f.typ != 'h' {
				files = append(files, filepath.Join(filepath.Dir(path), f.name))
			}
		}
		fmt.Fprintf(w, "%s: manifest lists %d files\n", path, len(files))
	default:
		files = []string{path}
	}
	for _, file := range files {
		if err := checkAOFFile(file, fix, w); err != nil {
			return err
		}
	}
	return nil
}

func checkAOFFile(path string, fix bool, w io.Writer) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	if magic, _ := br.Peek(5); string(magic) == "REDIS" {
		f.Close()
		return CheckRDB(path, w)
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	sc, err := scanAOF(br, nil)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	end := sc.good
	problem := ""
	switch {
	case sc.bad != nil:
		problem = fmt.Sprintf("bad format at offset %d: %v", sc.good, sc.bad)
	case sc.multiAt >= 0:
		end = sc.multiAt
		problem = fmt.Sprintf("unterminated MULTI at offset %d", sc.multiAt)
	case end < st.Size():
		problem = fmt.Sprintf("truncated command at offset %d", end)
	}
	if problem == "" {
		fmt.Fprintf(w, "%s: AOF is valid: %d commands\n", path, sc.commands)
		return nil
	}
	if !fix {
		fmt.Fprintf(w, "%s: %s (%d bytes would be cut off by --fix)\n", path, problem, st.Size()-end)
		return fmt.Errorf("%s: %s", path, problem)
	}
	if err := f.Truncate(end); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: %s: cut off %d bytes; AOF is now valid with %d commands\n", path, problem, st.Size()-end, sc.commands)
	return nil
}
