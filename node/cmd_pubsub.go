package node

// pubsubCommands: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH PUBSUB.
func pubsubCommands() []*Command { return nil }

// pubsubState is the server's channel and pattern subscriptions.
type pubsubState struct{}

func (p *pubsubState) init()                          {}
func (p *pubsubState) applyConfig(notifyFlags string) {}
func (p *pubsubState) removeClient(cl *Client)        {}

// clientPubSub is one client's subscriptions.
type clientPubSub struct{}

// count is the number of channels and patterns the client subscribes to.
func (c *clientPubSub) count() int { return 0 }
