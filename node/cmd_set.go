package node

// setCommands: the set family.
func setCommands() []*Command { return nil }
