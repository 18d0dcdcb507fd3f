package sentinel

import "time"

// A subscribed connection gets its own writer goroutine and a bounded
// queue: events are published under the sentinel's lock, so a subscriber
// that reads slowly (or not at all) must never make a publisher wait on
// its socket. A subscriber whose queue is full is disconnected, as Redis
// disconnects a pub/sub client past its client-output-buffer-limit.

// subscriberQueueLen bounds the replies and events waiting for one
// subscriber.
const subscriberQueueLen = 1024

// writeTimeout bounds one socket write.
const writeTimeout = 5 * time.Second

// startQueue switches c to queued output (its first SUBSCRIBE or
// PSUBSCRIBE); under s.subs.mu.
func (c *conn) startQueue() {
	if c.out != nil {
		return
	}
	c.out = make(chan []byte, subscriberQueueLen)
	c.drained = make(chan struct{})
	go c.drain(c.out, c.drained)
}

// enqueue queues b without waiting, disconnecting c if its queue is
// full; under s.subs.mu, once startQueue ran.
func (c *conn) enqueue(b []byte) {
	select {
	case c.out <- b:
	default:
		c.nc.Close()
	}
}

// drain writes the queue to the socket in order until it is closed;
// after a failed write it only discards, so no sender ever blocks on a
// dead connection.
func (c *conn) drain(out <-chan []byte, done chan<- struct{}) {
	defer close(done)
	failed := false
	for b := range out {
		if failed {
			continue
		}
		c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := c.nc.Write(b); err != nil {
			failed = true
			c.nc.Close()
		}
	}
}

// stopQueue ends the writer goroutine after it wrote what is queued (a
// reply to QUIT, say); called once, by the connection's own goroutine,
// after c left s.subs so nothing is queued any more.
func (c *conn) stopQueue() {
	c.s.subs.mu.Lock()
	out, done := c.out, c.drained
	c.out = nil
	c.s.subs.mu.Unlock()
	if out != nil {
		close(out)
		<-done
	}
}
