// Package config is the data node's configuration model: Redis directive
// names and semantics, loaded from a redis.conf-style file, a YAML file,
// environment variables and flags, and changed at runtime by CONFIG SET.
package config

import "time"

// Config holds every setting of a data node. Field names follow the Redis
// directives (kebab-case in files, flags and CONFIG GET). The server reads
// it under its keyspace lock; CONFIG SET changes it under the same lock.
type Config struct {
	// Network.
	Port            int
	Bind            []string
	ProtectedMode   bool
	TCPKeepalive    int // seconds
	Timeout         int // seconds; 0 disables idle disconnects
	MaxClients      int
	RequirePass     string
	ProtoMaxBulkLen int64
	// ClientQueryBufferLimit is client-query-buffer-limit in bytes.
	ClientQueryBufferLimit int64
	// Client output buffer hard limits per class (bytes, 0 = none).
	ClientOutputBufferLimitPubSubHard int64
	ClientOutputBufferLimitReplica    int64

	// Keyspace.
	Databases int
	// IOThreads is how many processors serve clients (GOMAXPROCS
	// outside background work; see node/procs).
	IOThreads           int
	Hz                  int
	ActiveRehashing     bool
	MaxMemory           int64
	MaxMemoryPolicy     string
	MaxMemorySamples    int
	LFULogFactor        int
	LFUDecayTime        int
	NotifyKeyspaceEvent string

	// Collection encodings.
	ListMaxListpackSize    int
	ListCompressDepth      int
	HashMaxListpackEntries int
	HashMaxListpackValue   int
	SetMaxIntsetEntries    int
	SetMaxListpackEntries  int
	SetMaxListpackValue    int
	ZSetMaxListpackEntries int
	ZSetMaxListpackValue   int

	// Diagnostics.
	SlowlogLogSlowerThan int64 // microseconds; negative disables
	SlowlogMaxLen        int
	LogLevel             string
	LogFormat            string // console or json
	LogFile              string
	EnableDebugCommand   string // yes, no, local

	// Persistence.
	Dir                      string
	DBFilename               string
	Save                     string
	RDBCompression           bool
	RDBChecksum              bool
	StopWritesOnBgsaveError  bool
	AppendOnly               bool
	AppendFsync              string
	AppendFilename           string
	AppendDirname            string
	AutoAOFRewritePercentage int
	AutoAOFRewriteMinSize    int64
	AOFLoadTruncated         bool
	AOFUseRDBPreamble        bool
	AOFIOUring               bool
	AOFTimestampEnabled      bool

	// Replication.
	ReplicaOf           string
	ReplicaReadOnly     bool
	ReplicaPriority     int
	ReplicaServeStale   bool
	ReplBacklogSize     int64
	ReplBacklogTTL      int
	MinReplicasToWrite  int
	MinReplicasMaxLag   int
	SyncReplicas        int
	MasterLease         bool
	SyncReplicasTimeout int
	// UpgradePauseTimeout bounds, in ms, how long an in-place binary upgrade
	// holds commands while the new process catches up and takes over.
	UpgradePauseTimeout int
	ReplPingPeriod      int
	ReplTimeout         int
	ReplDisklessSync    bool
	ReplDisklessDelay   int
	// ReplDisklessLoad is repl-diskless-load: how a replica loads a full
	// sync's payload (disabled: through a file; on-empty-db: from the
	// socket when it has no data; swapdb: from the socket into a separate
	// dataset swapped in at the end).
	ReplDisklessLoad    string
	MasterAuth          string
	MasterUser          string
	ReplicaAnnounceIP   string
	ReplicaAnnouncePort int

	// File is the redis.conf-style or YAML file the config was read from
	// (CONFIG REWRITE writes back to it); empty when there is none.
	File string
}

// Default returns redis-server 7.0.15's built-in defaults (what it runs with when no config file sets otherwise; its sample redis.conf lowers hash-max-listpack-entries to 128).
func Default() *Config {
	return &Config{
		Port:                              6379,
		Bind:                              []string{"*", "-::*"},
		ProtectedMode:                     true,
		TCPKeepalive:                      300,
		MaxClients:                        10000,
		ProtoMaxBulkLen:                   512 << 20,
		ClientQueryBufferLimit:            1 << 30,
		ClientOutputBufferLimitPubSubHard: 32 << 20,
		ClientOutputBufferLimitReplica:    256 << 20,
		Databases:                         16,
		Hz:                                10,
		ActiveRehashing:                   true,
		MaxMemoryPolicy:                   "noeviction",
		MaxMemorySamples:                  5,
		LFULogFactor:                      10,
		LFUDecayTime:                      1,
		ListMaxListpackSize:               -2,
		HashMaxListpackEntries:            512,
		HashMaxListpackValue:              64,
		SetMaxIntsetEntries:               512,
		SetMaxListpackEntries:             128,
		SetMaxListpackValue:               64,
		ZSetMaxListpackEntries:            128,
		ZSetMaxListpackValue:              64,
		SlowlogLogSlowerThan:              10000,
		SlowlogMaxLen:                     128,
		LogLevel:                          "notice",
		LogFormat:                         "console",
		EnableDebugCommand:                "no",
		Dir:                               ".",
		DBFilename:                        "dump.rdb",
		Save:                              "3600 1 300 100 60 10000",
		AppendFsync:                       "everysec",
		StopWritesOnBgsaveError:           true,
		ReplBacklogTTL:                    3600,
		MinReplicasMaxLag:                 10,
		SyncReplicasTimeout:               1000,
		UpgradePauseTimeout:               2000,
		MasterLease:                       true,
		IOThreads:                         1,
		ReplPingPeriod:                    10,
		ReplTimeout:                       60,
		ReplDisklessSync:                  true,
		ReplDisklessDelay:                 5,
		ReplDisklessLoad:                  "disabled",
		RDBCompression:                    true,
		RDBChecksum:                       true,
		AppendFilename:                    "appendonly.aof",
		AppendDirname:                     "appendonlydir",
		AutoAOFRewritePercentage:          100,
		AutoAOFRewriteMinSize:             64 << 20,
		AOFLoadTruncated:                  true,
		AOFUseRDBPreamble:                 true,
		AOFIOUring:                        true,
		ReplicaReadOnly:                   true,
		ReplicaPriority:                   100,
		ReplicaServeStale:                 true,
		ReplBacklogSize:                   1 << 20,
	}
}

// IdleTimeout is Timeout as a duration.
func (c *Config) IdleTimeout() time.Duration { return time.Duration(c.Timeout) * time.Second }
