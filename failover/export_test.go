package failover

// RaceBuild tells the simulations in package failover_test (which
// also use the node's lease rule, so they cannot live in this package's
// own tests) whether the race detector is on.
const RaceBuild = raceBuild
