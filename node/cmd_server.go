package node

// serverCommands: INFO CONFIG COMMAND DBSIZE FLUSHDB FLUSHALL SWAPDB TIME
// LASTSAVE SLOWLOG MONITOR MEMORY DEBUG SHUTDOWN.
func serverCommands() []*Command { return nil }
