package node

// stringCommands: the string family.
func stringCommands() []*Command { return nil }
