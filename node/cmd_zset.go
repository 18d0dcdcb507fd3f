package node

// zsetCommands: the zset family.
func zsetCommands() []*Command { return nil }
