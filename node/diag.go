package node

import "time"

// diagState holds SLOWLOG and MONITOR state.
type diagState struct{}

func (d *diagState) init(s *Server)          {}
func (d *diagState) cron(s *Server)          {}
func (d *diagState) removeClient(cl *Client) {}

// feedMonitors sends an executed command to MONITOR clients.
func (d *diagState) feedMonitors(s *Server, cl *Client, db int, args [][]byte) {}

// slowlogPush records the command if it ran longer than
// slowlog-log-slower-than.
func (d *diagState) slowlogPush(s *Server, cl *Client, args [][]byte, dur time.Duration) {}
