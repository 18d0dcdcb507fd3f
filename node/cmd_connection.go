package node

// connectionCommands: PING ECHO QUIT RESET SELECT AUTH HELLO CLIENT.
func connectionCommands() []*Command { return nil }
