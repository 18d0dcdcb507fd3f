// Package keyspace holds the data node's databases: per-key values in
// Redis's types, TTLs, lazy and active expiry, LRU/LFU bookkeeping and
// eviction sampling. It knows nothing about sockets or the protocol.
package keyspace
