package node

// bitCommands: SETBIT GETBIT BITCOUNT BITPOS BITOP.
func bitCommands() []*Command { return nil }
