//go:build race

package failover

// raceBuild is set under -race, which runs the simulations about ten
// times slower: they run fewer seeds then (see lsSeeds).
const raceBuild = true
