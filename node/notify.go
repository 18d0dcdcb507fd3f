package node

// notifyKeyspaceEvent publishes keyspace notifications per
// notify-keyspace-events.
func (s *Server) notifyKeyspaceEvent(class byte, event, key string, db int) {}
