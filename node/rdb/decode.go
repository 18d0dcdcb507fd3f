package rdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unsafe"

	"github.com/vigilkv/vigil/node/keyspace"
	"github.com/vigilkv/vigil/node/types"
)

// ErrCorrupt is wrapped by every error about malformed RDB data.
var ErrCorrupt = errors.New("corrupt RDB data")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// Limits are the encoding thresholds a loaded value is checked against,
// so a value that a smaller configuration would not keep compact is
// converted on load, as Redis does.
type Limits struct {
	ListFill                int
	HashMaxListpackEntries  int
	HashMaxListpackValue    int
	SetMaxIntsetEntries     int
	SetMaxListpackEntries   int
	SetMaxListpackValue     int
	ZSetMaxListpackEntries  int
	ZSetMaxListpackValue    int
	ProtoMaxBulkLen         int64
	SkipDeepIntegrityChecks bool
}

// DefaultLimits are Redis's default thresholds.
func DefaultLimits() Limits {
	return Limits{
		ListFill: -2, HashMaxListpackEntries: 512, HashMaxListpackValue: 64,
		SetMaxIntsetEntries: 512, SetMaxListpackEntries: 128, SetMaxListpackValue: 64,
		ZSetMaxListpackEntries: 128, ZSetMaxListpackValue: 64, ProtoMaxBulkLen: 512 << 20,
	}
}

// Reader is what a Decoder reads from.
type Reader interface {
	io.Reader
	io.ByteReader
}

// Decoder reads RDB-encoded data.
type Decoder struct {
	r      Reader
	Limits Limits
	// Read counts the bytes consumed, for progress reports.
	Read int64
}

// NewDecoder returns a decoder reading r.
func NewDecoder(r Reader, lim Limits) *Decoder { return &Decoder{r: r, Limits: lim} }

// Byte reads one byte.
func (d *Decoder) Byte() (byte, error) {
	b, err := d.r.ReadByte()
	if err != nil {
		return 0, unexpected(err)
	}
	d.Read++
	return b, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return fmt.Errorf("%w: unexpected end of data", ErrCorrupt)
	}
	return err
}

// Full reads exactly len(buf) bytes.
func (d *Decoder) Full(buf []byte) error {
	n, err := io.ReadFull(d.r, buf)
	d.Read += int64(n)
	if err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return fmt.Errorf("%w: unexpected end of data", ErrCorrupt)
		}
		return err
	}
	return nil
}

// Len reads a length; encoded reports a special string encoding instead
// (the length is then the encoding type).
func (d *Decoder) Len() (n uint64, encoded bool, err error) {
	b, err := d.Byte()
	if err != nil {
		return 0, false, err
	}
	switch b >> 6 {
	case len6bit:
		return uint64(b & 0x3f), false, nil
	case len14bit:
		b2, err := d.Byte()
		if err != nil {
			return 0, false, err
		}
		return uint64(b&0x3f)<<8 | uint64(b2), false, nil
	case lenEnc:
		return uint64(b & 0x3f), true, nil
	}
	var buf [8]byte
	switch b {
	case len32:
		if err := d.Full(buf[:4]); err != nil {
			return 0, false, err
		}
		return uint64(binary.BigEndian.Uint32(buf[:4])), false, nil
	case len64:
		if err := d.Full(buf[:]); err != nil {
			return 0, false, err
		}
		return binary.BigEndian.Uint64(buf[:]), false, nil
	}
	return 0, false, corrupt("unknown length encoding %d", b)
}

// Count reads a plain length (an element count), refusing encodings.
func (d *Decoder) Count() (int, error) {
	n, enc, err := d.Len()
	if err != nil {
		return 0, err
	}
	if enc || n > math.MaxInt32*8 {
		return 0, corrupt("bad length")
	}
	return int(n), nil
}

// readN reads n bytes without trusting n for the allocation: a corrupt
// length fails at the end of the data instead of exhausting memory.
func (d *Decoder) readN(n uint64) ([]byte, error) {
	if d.Limits.ProtoMaxBulkLen > 0 && n > uint64(d.Limits.ProtoMaxBulkLen) && n > 1<<32 {
		return nil, corrupt("string of %d bytes", n)
	}
	const chunk = 1 << 20
	if n <= chunk {
		buf := make([]byte, n)
		return buf, d.Full(buf)
	}
	buf := make([]byte, 0, chunk)
	for uint64(len(buf)) < n {
		step := n - uint64(len(buf))
		if step > chunk {
			step = chunk
		}
		start := len(buf)
		buf = append(buf, make([]byte, step)...)
		if err := d.Full(buf[start:]); err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// String reads a string in any of its encodings.
func (d *Decoder) String() ([]byte, error) {
	n, enc, err := d.Len()
	if err != nil {
		return nil, err
	}
	if !enc {
		return d.readN(n)
	}
	var buf [4]byte
	switch n {
	case encInt8:
		b, err := d.Byte()
		if err != nil {
			return nil, err
		}
		return strconv.AppendInt(nil, int64(int8(b)), 10), nil
	case encInt16:
		if err := d.Full(buf[:2]); err != nil {
			return nil, err
		}
		return strconv.AppendInt(nil, int64(int16(binary.LittleEndian.Uint16(buf[:2]))), 10), nil
	case encInt32:
		if err := d.Full(buf[:4]); err != nil {
			return nil, err
		}
		return strconv.AppendInt(nil, int64(int32(binary.LittleEndian.Uint32(buf[:4]))), 10), nil
	case encLZF:
		clen, enc1, err := d.Len()
		if err != nil {
			return nil, err
		}
		ulen, enc2, err := d.Len()
		if err != nil {
			return nil, err
		}
		// LZF expands at most 264 bytes from a 3-byte back reference: a
		// claimed length beyond that ratio is corrupt, and refusing it
		// keeps a corrupt header from allocating half a gigabyte.
		if enc1 || enc2 || (d.Limits.ProtoMaxBulkLen > 0 && ulen > uint64(d.Limits.ProtoMaxBulkLen)) || clen > ulen+ulen/16+64 || ulen > clen*90+64 {
			return nil, corrupt("bad LZF lengths")
		}
		c, err := d.readN(clen)
		if err != nil {
			return nil, err
		}
		out, err := lzfDecompress(c, int(ulen))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return out, nil
	}
	return nil, corrupt("unknown string encoding %d", n)
}

// Double reads a binary double.
func (d *Decoder) Double() (float64, error) {
	var buf [8]byte
	if err := d.Full(buf[:]); err != nil {
		return 0, err
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(buf[:])), nil
}

// OldDouble reads a string-encoded double (RDB_TYPE_ZSET scores).
func (d *Decoder) OldDouble() (float64, error) {
	n, err := d.Byte()
	if err != nil {
		return 0, err
	}
	switch n {
	case 253:
		return math.NaN(), nil
	case 254:
		return math.Inf(1), nil
	case 255:
		return math.Inf(-1), nil
	}
	buf := make([]byte, n)
	if err := d.Full(buf); err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(string(buf), 64)
	if err != nil {
		return 0, corrupt("bad double %q", buf)
	}
	return f, nil
}

// Uint64LE reads a little-endian 64-bit value.
func (d *Decoder) Uint64LE() (uint64, error) {
	var buf [8]byte
	if err := d.Full(buf[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(buf[:]), nil
}

// Value reads the payload of a value of RDB type t.
func (d *Decoder) Value(t byte) (keyspace.Value, error) {
	switch t {
	case TypeString:
		s, err := d.String()
		if err != nil {
			return keyspace.Value{}, err
		}
		// s is freshly allocated and not kept by the decoder: adopt it.
		return keyspace.NewString(unsafe.String(unsafe.SliceData(s), len(s))), nil
	case TypeList, TypeListZiplist, TypeListQuicklist, TypeListQuicklist2:
		l, err := d.list(t)
		if err != nil {
			return keyspace.Value{}, err
		}
		return keyspace.NewList(l), nil
	case TypeHash, TypeHashZiplist, TypeHashListpack:
		h, err := d.hash(t)
		if err != nil {
			return keyspace.Value{}, err
		}
		return keyspace.NewHash(h), nil
	case TypeSet, TypeSetIntset, TypeSetListpack:
		s, err := d.set(t)
		if err != nil {
			return keyspace.Value{}, err
		}
		return keyspace.NewSet(s), nil
	case TypeZSet, TypeZSet2, TypeZSetZiplist, TypeZSetListpack:
		z, err := d.zset(t)
		if err != nil {
			return keyspace.Value{}, err
		}
		return keyspace.NewZSet(z), nil
	case TypeModule, TypeModule2:
		return keyspace.Value{}, corrupt("module values are not supported")
	case TypeStreamListpacks, TypeStreamListpack2, TypeStreamListpack3:
		return keyspace.Value{}, corrupt("stream values are not supported")
	case TypeHashZipmap:
		return keyspace.Value{}, corrupt("zipmap hashes (RDB version < 4) are not supported")
	}
	return keyspace.Value{}, corrupt("unknown value type %d", t)
}

// packedBlob reads a string holding a ziplist (converted to a listpack
// with the same entries) or a listpack: the two encodings Redis has had
// for small collections.
func (d *Decoder) packedBlob(ziplist bool) (*types.Listpack, error) {
	if ziplist {
		return d.ziplistBlob()
	}
	return d.listpackBlob()
}

// listpackBlob reads a string holding a listpack and validates it.
func (d *Decoder) listpackBlob() (*types.Listpack, error) {
	b, err := d.String()
	if err != nil {
		return nil, err
	}
	lp, err := types.ListpackFromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return lp, nil
}

// ziplistBlob reads a string holding a ziplist and converts it to a
// listpack with the same entries.
func (d *Decoder) ziplistBlob() (*types.Listpack, error) {
	b, err := d.String()
	if err != nil {
		return nil, err
	}
	lp := types.NewListpack()
	err = walkZiplist(b, func(s []byte) { lp.Append(s) })
	if err != nil {
		return nil, err
	}
	return lp, nil
}

func (d *Decoder) list(t byte) (*types.List, error) {
	l := types.NewList(d.Limits.ListFill)
	switch t {
	case TypeList:
		n, err := d.Count()
		if err != nil {
			return nil, err
		}
		for i := 0; i < n; i++ {
			s, err := d.String()
			if err != nil {
				return nil, err
			}
			l.PushTail(s)
		}
	case TypeListZiplist:
		lp, err := d.ziplistBlob()
		if err != nil {
			return nil, err
		}
		appendElements(l, lp)
	case TypeListQuicklist, TypeListQuicklist2:
		n, err := d.Count()
		if err != nil {
			return nil, err
		}
		for i := 0; i < n; i++ {
			container := uint64(qlNodePacked)
			if t == TypeListQuicklist2 {
				c, _, err := d.Len()
				if err != nil {
					return nil, err
				}
				container = c
			}
			switch container {
			case qlNodePlain:
				s, err := d.String()
				if err != nil {
					return nil, err
				}
				l.PushTail(s)
			case qlNodePacked:
				lp, err := d.packedBlob(t == TypeListQuicklist)
				if err != nil {
					return nil, err
				}
				if lp.Len() == 0 {
					continue
				}
				if fitsNode(lp, d.Limits.ListFill) {
					l.AppendListpack(lp)
				} else {
					appendElements(l, lp)
				}
			default:
				return nil, corrupt("unknown quicklist container %d", container)
			}
		}
	}
	if l.Len() == 0 {
		return nil, corrupt("empty list")
	}
	return l, nil
}

// fitsNode reports whether a loaded listpack can stay one quicklist node
// under the configured fill.
func fitsNode(lp *types.Listpack, fill int) bool {
	if fill >= 0 {
		return lp.Len() <= fill || fill == 0
	}
	limits := []int{4096, 8192, 16384, 32768, 65536}
	i := -fill - 1
	if i >= len(limits) {
		i = len(limits) - 1
	}
	return lp.Size() <= limits[i]
}

func appendElements(l *types.List, lp *types.Listpack) {
	var buf [types.ListpackMaxIntLen]byte
	for p := lp.First(); p >= 0; p = lp.Next(p) {
		l.PushTail(lp.GetBytes(p, buf[:0]))
	}
}

func (d *Decoder) hash(t byte) (*types.Hash, error) {
	lim := d.Limits
	var h *types.Hash
	switch t {
	case TypeHash:
		n, err := d.Count()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, corrupt("empty hash")
		}
		h = types.NewHash()
		for i := 0; i < n; i++ {
			f, err := d.String()
			if err != nil {
				return nil, err
			}
			v, err := d.String()
			if err != nil {
				return nil, err
			}
			if !h.Set(f, v, lim.HashMaxListpackEntries, lim.HashMaxListpackValue) {
				return nil, corrupt("duplicate hash field")
			}
		}
		return h, nil
	case TypeHashZiplist, TypeHashListpack:
		lp, err := d.packedBlob(t == TypeHashZiplist)
		if err != nil {
			return nil, err
		}
		if lp.Len() == 0 {
			return nil, corrupt("empty hash")
		}
		h, err = types.HashFromListpack(lp)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		h.ConvertIfNeeded(lim.HashMaxListpackEntries, lim.HashMaxListpackValue)
		return h, nil
	}
	return nil, corrupt("unknown hash type %d", t)
}

// walkZiplist calls fn with each entry of a ziplist (the pre-7.0 packed
// encoding), validating its structure.
func walkZiplist(b []byte, fn func(s []byte)) error {
	if len(b) < 11 || int(binary.LittleEndian.Uint32(b)) != len(b) || b[len(b)-1] != 0xff {
		return corrupt("bad ziplist header")
	}
	p := 10
	var num [20]byte
	for p < len(b)-1 {
		// prevlen
		if b[p] == 0xfe {
			p += 5
		} else {
			p++
		}
		if p >= len(b)-1 {
			return corrupt("truncated ziplist entry")
		}
		enc := b[p]
		var v int64
		isInt := true
		switch {
		case enc>>6 == 0:
			l := int(enc & 0x3f)
			p++
			if p+l > len(b)-1 {
				return corrupt("truncated ziplist string")
			}
			fn(b[p : p+l])
			p += l
			continue
		case enc>>6 == 1:
			if p+2 > len(b)-1 {
				return corrupt("truncated ziplist entry")
			}
			l := int(enc&0x3f)<<8 | int(b[p+1])
			p += 2
			if p+l > len(b)-1 {
				return corrupt("truncated ziplist string")
			}
			fn(b[p : p+l])
			p += l
			continue
		case enc == 0x80:
			if p+5 > len(b)-1 {
				return corrupt("truncated ziplist entry")
			}
			l := int(binary.BigEndian.Uint32(b[p+1:]))
			p += 5
			if l < 0 || p+l > len(b)-1 {
				return corrupt("truncated ziplist string")
			}
			fn(b[p : p+l])
			p += l
			continue
		case enc == 0xc0:
			if p+3 > len(b)-1 {
				return corrupt("truncated ziplist int")
			}
			v = int64(int16(binary.LittleEndian.Uint16(b[p+1:])))
			p += 3
		case enc == 0xd0:
			if p+5 > len(b)-1 {
				return corrupt("truncated ziplist int")
			}
			v = int64(int32(binary.LittleEndian.Uint32(b[p+1:])))
			p += 5
		case enc == 0xe0:
			if p+9 > len(b)-1 {
				return corrupt("truncated ziplist int")
			}
			v = int64(binary.LittleEndian.Uint64(b[p+1:]))
			p += 9
		case enc == 0xf0:
			if p+4 > len(b)-1 {
				return corrupt("truncated ziplist int")
			}
			v = int64(int32(uint32(b[p+1])<<8|uint32(b[p+2])<<16|uint32(b[p+3])<<24) >> 8)
			p += 4
		case enc == 0xfe:
			if p+2 > len(b)-1 {
				return corrupt("truncated ziplist int")
			}
			v = int64(int8(b[p+1]))
			p += 2
		case enc >= 0xf1 && enc <= 0xfd:
			v = int64(enc&0x0f) - 1
			p++
		default:
			return corrupt("bad ziplist encoding %#x", enc)
		}
		if isInt {
			fn(strconv.AppendInt(num[:0], v, 10))
		}
	}
	return nil
}
