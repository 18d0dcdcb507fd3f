package rdb

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"

	"github.com/vigilkv/vigil/node/keyspace"
)

// Whole RDB files: the header, auxiliary fields, database selectors, keys
// with their expiry, and the EOF marker with the CRC-64 trailer.

// Header appends the magic and version ("REDIS0010").
func (e *Encoder) Header() {
	e.Buf = fmt.Appendf(e.Buf, "REDIS%04d", Version)
}

// Aux appends an auxiliary field.
func (e *Encoder) Aux(key, value string) {
	e.Byte(opAux)
	e.StringS(key)
	e.StringS(value)
}

// AuxInt appends an integer auxiliary field (stored int-encoded when it
// fits, as Redis does).
func (e *Encoder) AuxInt(key string, value int64) {
	e.Aux(key, strconv.FormatInt(value, 10))
}

// SelectDB appends a database selector.
func (e *Encoder) SelectDB(db int) {
	e.Byte(opSelectDB)
	e.Len(uint64(db))
}

// ResizeDB appends the size hint that follows a selector.
func (e *Encoder) ResizeDB(keys, expires int) {
	e.Byte(opResizeDB)
	e.Len(uint64(keys))
	e.Len(uint64(expires))
}

// KeyValue appends a key, its value and, if expireMs >= 0, its absolute
// expiry in Unix milliseconds.
func (e *Encoder) KeyValue(key string, v *keyspace.Value, expireMs int64) {
	if expireMs >= 0 {
		e.Byte(opExpireTimeMs)
		e.Uint64LE(uint64(expireMs))
	}
	t := ValueType(v)
	e.Byte(t)
	e.StringS(key)
	e.Payload(t, v)
}

// Writer streams an RDB file to w, keeping the running checksum.
type Writer struct {
	w        io.Writer
	crc      uint64
	n        int64
	checksum bool
}

// NewWriter returns a writer; checksum false writes a zero trailer
// (rdbchecksum no).
func NewWriter(w io.Writer, checksum bool) *Writer {
	return &Writer{w: w, checksum: checksum}
}

// Write writes part of the file.
func (fw *Writer) Write(p []byte) (int, error) {
	if fw.checksum {
		fw.crc = CRC64(fw.crc, p)
	}
	n, err := fw.w.Write(p)
	fw.n += int64(n)
	return n, err
}

// Written is the number of bytes written so far.
func (fw *Writer) Written() int64 { return fw.n }

// Finish writes the EOF marker and the checksum.
func (fw *Writer) Finish() error {
	if _, err := fw.Write([]byte{opEOF}); err != nil {
		return err
	}
	var sum [8]byte
	binary.LittleEndian.PutUint64(sum[:], fw.crc)
	_, err := fw.w.Write(sum[:])
	fw.n += 8
	return err
}

// crcReader is a buffered reader that checksums what it hands out, so the
// loader can check the trailer without reading the file twice.
type crcReader struct {
	r        io.Reader
	buf      []byte
	pos, end int
	crcPos   int
	crc      uint64
	err      error
	consumed int64
}

func newCRCReader(r io.Reader) *crcReader {
	return &crcReader{r: r, buf: make([]byte, 32<<10)}
}

func (c *crcReader) fold() {
	c.crc = CRC64(c.crc, c.buf[c.crcPos:c.pos])
	c.crcPos = c.pos
}

func (c *crcReader) fill() {
	c.fold()
	n := copy(c.buf, c.buf[c.pos:c.end])
	c.pos, c.end, c.crcPos = 0, n, 0
	for c.end < len(c.buf) && c.err == nil {
		m, err := c.r.Read(c.buf[c.end:])
		c.end += m
		c.err = err
		if m > 0 {
			break
		}
	}
}

func (c *crcReader) ReadByte() (byte, error) {
	if c.pos == c.end {
		if c.err != nil {
			return 0, c.err
		}
		c.fill()
		if c.pos == c.end {
			return 0, c.err
		}
	}
	b := c.buf[c.pos]
	c.pos++
	c.consumed++
	return b, nil
}

func (c *crcReader) Read(p []byte) (int, error) {
	if c.pos == c.end {
		if c.err != nil {
			return 0, c.err
		}
		c.fill()
		if c.pos == c.end {
			return 0, c.err
		}
	}
	n := copy(p, c.buf[c.pos:c.end])
	c.pos += n
	c.consumed += int64(n)
	return n, nil
}

// sum is the checksum of everything handed out so far.
func (c *crcReader) sum() uint64 {
	c.fold()
	return c.crc
}

// LoadFunc receives each key of a file being loaded. key is a fresh copy;
// expireMs is the absolute expiry in Unix ms, or -1.
type LoadFunc func(db int, key []byte, v keyspace.Value, expireMs int64) error

// Loader reads a whole RDB file.
type Loader struct {
	// Limits are the encoding thresholds of the loading server.
	Limits Limits
	// Databases is the number of databases; a selector beyond it is an
	// error, as in Redis.
	Databases int
	// Progress, if set, is called now and then with the bytes read.
	Progress func(read int64)
	// Resize, if set, receives RESIZEDB's size hints for a database.
	Resize func(db, keys, expires int)
	// Aux collects the auxiliary fields.
	Aux map[string]string
	// Version is the file's RDB version.
	Version int
	// Leftover holds the bytes read from the stream beyond the end of the
	// RDB (a replication payload is followed by the EOF mark and the
	// command stream).
	Leftover []byte
}

// Load reads an RDB file from r, passing each key to fn, and checks the
// trailer. Errors wrap ErrCorrupt for malformed data, naming the offset.
func (l *Loader) Load(r io.Reader, fn LoadFunc) error {
	cr := newCRCReader(r)
	d := NewDecoder(cr, l.Limits)
	err := l.load(cr, d, fn)
	if err != nil {
		return fmt.Errorf("at offset %d: %w", cr.consumed, err)
	}
	l.Leftover = append([]byte(nil), cr.buf[cr.pos:cr.end]...)
	return nil
}

func (l *Loader) load(cr *crcReader, d *Decoder, fn LoadFunc) error {
	var magic [9]byte
	if err := d.Full(magic[:]); err != nil {
		return err
	}
	if string(magic[:5]) != "REDIS" {
		return corrupt("wrong signature trying to load DB from file")
	}
	ver, err := strconv.Atoi(string(magic[5:]))
	if err != nil || ver < 1 || ver > Version {
		return fmt.Errorf("can't handle RDB format version %s", magic[5:])
	}
	l.Version = ver
	if l.Aux == nil {
		l.Aux = map[string]string{}
	}
	db := 0
	expire := int64(-1)
	var lastProgress int64
	for {
		if l.Progress != nil && cr.consumed-lastProgress >= 1<<20 {
			lastProgress = cr.consumed
			l.Progress(cr.consumed)
		}
		t, err := d.Byte()
		if err != nil {
			return err
		}
		switch t {
		case opExpireTime:
			var b [4]byte
			if err := d.Full(b[:]); err != nil {
				return err
			}
			expire = int64(binary.LittleEndian.Uint32(b[:])) * 1000
			continue
		case opExpireTimeMs:
			v, err := d.Uint64LE()
			if err != nil {
				return err
			}
			expire = int64(v)
			continue
		case opFreq:
			if _, err := d.Byte(); err != nil {
				return err
			}
			continue
		case opIdle:
			if _, _, err := d.Len(); err != nil {
				return err
			}
			continue
		case opEOF:
			if ver < 5 {
				return nil
			}
			want := cr.sum()
			got, err := d.Uint64LE()
			if err != nil {
				return err
			}
			if got != 0 && got != want {
				return corrupt("wrong RDB checksum expected: (%x) got: (%x)", want, got)
			}
			return nil
		case opSelectDB:
			n, enc, err := d.Len()
			if err != nil {
				return err
			}
			if enc || n >= uint64(l.Databases) {
				return fmt.Errorf("data file was created with a server configured to handle more than %d databases", l.Databases)
			}
			db = int(n)
			continue
		case opResizeDB:
			var n [2]uint64
			for i := range n {
				v, _, err := d.Len()
				if err != nil {
					return err
				}
				n[i] = v
			}
			// A hint only: capped so a corrupt one cannot allocate much.
			if l.Resize != nil && n[0] < 1<<28 && n[1] < 1<<28 {
				l.Resize(db, int(n[0]), int(n[1]))
			}
			continue
		case opAux:
			k, err := d.String()
			if err != nil {
				return err
			}
			v, err := d.String()
			if err != nil {
				return err
			}
			l.Aux[string(k)] = string(v)
			continue
		case opModuleAux:
			return corrupt("module data is not supported")
		case opFunction2, opFunction2 - 1:
			return corrupt("functions are not supported")
		}
		key, err := d.String()
		if err != nil {
			return err
		}
		v, err := d.Value(t)
		if err != nil {
			return err
		}
		if err := fn(db, key, v, expire); err != nil {
			return err
		}
		expire = -1
	}
}
