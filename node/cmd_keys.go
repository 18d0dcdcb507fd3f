package node

// keyCommands: the generic key family.
func keyCommands() []*Command { return nil }
