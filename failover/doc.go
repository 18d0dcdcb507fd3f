// Package failover holds the sentinel's decisions, kept apart from its
// I/O: which replica to promote, how a sentinel votes in a leader
// election, who won one, when to re-point or forget instances. The master
// lease a data node enforces is the node's own rule (node/lease); the
// lease simulation in this package's external tests runs both sides.
// Nothing here touches a socket, a clock or a file: callers pass the
// time and the facts in, and persist and send what comes out, so the
// logic runs unchanged in the deterministic simulation tests.
package failover
