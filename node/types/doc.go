// Package types implements Redis's collection types with their compact and
// large encodings: lists (listpack, quicklist), hashes (listpack, hashtable),
// sets (intset, listpack, hashtable) and sorted sets (listpack, "skiplist":
// Redis's name for what is here a counted B+tree, see zbtree).
// They know nothing about keys, expiry or the protocol.
package types
