package node

import (
	"runtime/debug"
	"time"
)

// memRelease returns freed heap to the OS once the server goes quiet after
// a burst of writes. Go's collector otherwise keeps up to GOGC% of garbage
// headroom mapped, which would make RSS after a bulk load about twice the
// live data; Redis's allocator returns memory as it frees it. Running the
// collection only after a second without commands keeps it off the
// request path.
type memRelease struct {
	lastCommands int64
	lastActive   time.Time
	releasedAt   int64 // dirty counter at the last release
	running      bool
	done         chan struct{}
}

const memReleaseQuiet = time.Second

func (m *memRelease) cron(s *Server) {
	now := s.clock()
	if s.stats.CommandsProcessed != m.lastCommands {
		m.lastCommands = s.stats.CommandsProcessed
		m.lastActive = now
		return
	}
	if m.running {
		select {
		case <-m.done:
			m.running = false
		default:
			return
		}
	}
	if s.dirty == m.releasedAt || now.Sub(m.lastActive) < memReleaseQuiet {
		return
	}
	m.releasedAt = s.dirty
	m.running = true
	m.done = make(chan struct{})
	done := m.done
	go func() {
		debug.FreeOSMemory()
		close(done)
	}()
}

// purge returns freed memory to the OS now (MEMORY PURGE).
func (m *memRelease) purge() { debug.FreeOSMemory() }
