package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"

	"github.com/vigilkv/vigil/node/keyspace"
)

// ErrBadPayload is RESTORE's "version or checksum are wrong" case.
var ErrBadPayload = errors.New("DUMP payload version or checksum are wrong")

// Dump serializes v as Redis's DUMP payload: the value's type and RDB
// encoding, then the RDB version (2 bytes) and a CRC-64 of everything
// before the checksum (8 bytes), both little-endian.
func Dump(v *keyspace.Value, compress bool) []byte {
	e := Encoder{Compress: compress}
	e.Value(v)
	e.Buf = binary.LittleEndian.AppendUint16(e.Buf, Version)
	return binary.LittleEndian.AppendUint64(e.Buf, CRC64(0, e.Buf))
}

// VerifyDump checks a DUMP payload's footer: a version this reader
// understands and a matching checksum (a zero checksum is accepted, as
// Redis does for payloads written with rdbchecksum off).
func VerifyDump(p []byte) error {
	if len(p) < 10 {
		return ErrBadPayload
	}
	footer := p[len(p)-10:]
	ver := binary.LittleEndian.Uint16(footer)
	if ver > Version {
		return ErrBadPayload
	}
	sum := binary.LittleEndian.Uint64(footer[2:])
	if sum != 0 && CRC64(0, p[:len(p)-8]) != sum {
		return ErrBadPayload
	}
	return nil
}

// Restore decodes a verified DUMP payload into a value. Any trailing data
// between the value and the footer is an error.
func Restore(p []byte, lim Limits) (keyspace.Value, error) {
	if err := VerifyDump(p); err != nil {
		return keyspace.Value{}, err
	}
	body := p[:len(p)-10]
	r := bytes.NewReader(body)
	d := NewDecoder(r, lim)
	t, err := d.Byte()
	if err != nil {
		return keyspace.Value{}, err
	}
	v, err := d.Value(t)
	if err != nil {
		return keyspace.Value{}, err
	}
	if r.Len() != 0 {
		return keyspace.Value{}, corrupt("%d trailing bytes", r.Len())
	}
	return v, nil
}
