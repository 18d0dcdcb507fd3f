package rdb

import "hash/crc64"

// Redis checksums RDB files and DUMP payloads with CRC-64/Jones: reflected
// polynomial 0xad93d23594c935a9, initial value 0 and no final xor. Go's
// crc64 package uses the same table-driven algorithm but inverts the
// value on the way in and out, which Update undoes.
var jonesTable = crc64.MakeTable(0x95ac9329ac4bc9b5)

// CRC64 continues a Redis CRC-64 over p, starting from crc (0 for a new
// checksum).
func CRC64(crc uint64, p []byte) uint64 {
	return ^crc64.Update(^crc, jonesTable, p)
}
