// Package writeload is the write load that drills, benchmarks and tests
// run against a master while they take it away: numbered keys written
// one at a time, each acknowledgement reported with when its write was
// sent, so that the caller can tell which acknowledged writes must
// survive and which came from a master that should no longer take any.
package writeload

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Load is a running write load.
type Load struct {
	stop chan struct{}
	done chan struct{}
}

// Start writes prefix+"0", prefix+"1", ... (the value is the number)
// through c, one at a time, until Stop: every apart, and a millisecond
// after a failed write at least, so that a server refusing writes at once
// is not spun on. ack is called, on the load's goroutine, for each write
// acknowledged, with its key and the times it was sent and acknowledged.
func Start(ctx context.Context, c redis.Cmdable, prefix string, every time.Duration, ack func(key string, sent, acked time.Time)) *Load {
	l := &Load{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		pause := every
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			case <-time.After(pause):
			}
			k := prefix + strconv.Itoa(i)
			sent := time.Now()
			if c.Set(ctx, k, i, 0).Err() != nil {
				pause = max(every, time.Millisecond)
				continue
			}
			pause = every
			ack(k, sent, time.Now())
		}
	}()
	return l
}

// Stop ends the load once the write in flight is answered, and returns
// when it has. Later calls return at once.
func (l *Load) Stop() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
}
