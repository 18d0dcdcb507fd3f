// Package failover holds the sentinel's decisions, kept apart from its
// I/O: which replica to promote, how a sentinel votes in a leader
// election, who won one, and the master lease a data node enforces
// (Lease, shared by the node and the simulation that checks it).
// Nothing here touches a socket, a clock or a file: callers pass the
// time and the facts in, and persist and send what comes out, so the
// logic runs unchanged in the deterministic simulation tests.
package failover
