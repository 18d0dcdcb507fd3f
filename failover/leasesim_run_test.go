package failover_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/vigilkv/vigil/failover"
)

// The lease simulation's tests. VIGIL_LEASESIM_SEEDS=N runs N seeds per
// case instead of the default, for a longer hunt outside the normal run.

// lsWeather is the default network and clock: ±1% clock rates, 1% loss,
// 0-5 ms delays with 0.2% spikes up to down-after (1 s), four partitions
// or freezes of 0.1-4.1 s per 20 s run after a 3 s warm-up, stale
// clients writing to every node.
func lsWeather(sentinels int, rules lsRules) lsConfig {
	return lsConfig{sentinels: sentinels, downAfter: time.Second, failTO: 3 * time.Second,
		drift: 0.01, loss: 0.01, delay: 5 * time.Millisecond, spike: 0.002,
		duration: 20 * time.Second, chaos: 4, rules: rules}
}

// flap isolates the master again and again for just over down-after:
// long enough for a vote, healed before the new config has spread.
func flap(c *lsConfig) { c.flap, c.chaos = true, 8 }

// freezes stops the master again and again (16 times per run).
func freezes(c *lsConfig) { c.freezes, c.chaos = true, 16 }

// flapStorm is flap with 10% of messages delayed up to down-after.
func flapStorm(c *lsConfig) { c.flap, c.chaos, c.spike = true, 8, 0.1 }

// storm is harsher weather: 10% of messages delayed up to down-after,
// ten partitions or freezes per run.
func storm(c *lsConfig) { c.spike, c.chaos = 0.1, 10 }

func lsSeeds(t *testing.T, def int) int {
	if s := os.Getenv("VIGIL_LEASESIM_SEEDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("VIGIL_LEASESIM_SEEDS=%q", s)
		}
		return n
	}
	if failover.RaceBuild {
		def /= 30
	}
	if testing.Short() {
		def /= 5
	}
	return max(def, 1)
}

// hunt runs seeds 0..n-1 of cfg and returns the first violating seed
// (-1 if none), with totals.
func hunt(cfg lsConfig, n int) (seed int, events, promotions int) {
	for sd := 0; sd < n; sd++ {
		v, m := runLeaseSim(cfg, uint64(sd), false)
		events += m.events
		promotions += m.promotions
		if v != nil {
			return sd, events, promotions
		}
	}
	return -1, events, promotions
}

// explain replays a violating seed with the trace on.
func explain(cfg lsConfig, seed int) string {
	_, m := runLeaseSim(cfg, uint64(seed), true)
	return m.viol.describe(m)
}

// repairA is vigil's own argument made to hold: the vote rule and a
// lease shorter than down-after, plus the four rules the simulation
// showed are missing (see lsRules): a promoted replica requires a
// lease, a lease is managed from the renewal that puts it in force, a
// voter stops renewing the master it voted to replace, and adopting a
// new config ends an open election.
func repairA() lsRules {
	r := firstRules()
	r.promoteManaged, r.latchOnRenew, r.quietAfterVote, r.dropElection = true, true, true, true
	r.uniqueTokens = true
	return r
}

// repairB replaces the vote-based argument with exclusive grants: no
// sentinel's leases to two masters overlap, so two majorities can never
// both hold one, whatever the votes and the lease length.
func repairB() lsRules {
	r := firstRules()
	r.promoteManaged, r.latchOnRenew, r.exclusive, r.uniqueTokens = true, true, true, true
	return r
}

// TestLeaseSimSafe runs thousands of seeded simulations under both
// repaired rule sets and asserts that at no event of any run two data
// nodes are both master and writable.
func TestLeaseSimSafe(t *testing.T) {
	for _, tc := range []struct {
		name    string
		seeds   int
		rules   func() lsRules
		change  func(*lsRules)
		weather func(*lsConfig)
	}{
		{"A, default weather", 200, repairA, nil, nil},
		{"A, drift 10%", 60, repairA, nil, func(c *lsConfig) { c.drift = 0.10 }},
		{"A, storm", 100, repairA, nil, storm},
		{"A, flapping partitions", 100, repairA, nil, flap},
		// Any lease shorter than down-after is safe under A (the baseline
		// for the votes-without-SDOWN row of the next test).
		{"A, flapping partitions, lease 0.9 down-after", 60, repairA, func(r *lsRules) { r.leaseFrac = 0.9 }, flap},
		{"A, master freezes", 60, repairA, nil, freezes},
		{"A, idle clients", 60, repairA, nil, func(c *lsConfig) { c.idle = true }},
		{"A, forced SENTINEL FAILOVER", 60, repairA, func(r *lsRules) { r.forced = true }, nil},
		{"vigil, default weather", 200, vigilRules, nil, nil},
		{"vigil, storm", 100, vigilRules, nil, storm},
		{"vigil, flapping partitions", 100, vigilRules, nil, flap},
		{"vigil, master freezes", 60, vigilRules, nil, freezes},
		{"vigil, idle clients", 60, vigilRules, nil, func(c *lsConfig) { c.idle = true }},
		{"vigil, forced SENTINEL FAILOVER", 60, vigilRules, func(r *lsRules) { r.forced = true }, nil},
		{"B, default weather", 200, repairB, nil, nil},
		{"B, storm", 100, repairB, nil, storm},
		{"B, flapping partitions", 100, repairB, nil, flap},
		{"B, master freezes", 60, repairB, nil, freezes},
		// Safety under B does not rest on the vote rule nor on the lease
		// length: two masters would need two majorities whose grants
		// overlap in time, and no sentinel's do.
		{"B, storm, votes without SDOWN", 60, repairB, func(r *lsRules) { r.voteOnlyIfDown = false }, storm},
		{"B, storm, lease twice down-after", 60, repairB, func(r *lsRules) { r.leaseFrac = 2 }, storm},
	} {
		for _, n := range []int{3, 5} {
			rules := tc.rules()
			if tc.change != nil {
				tc.change(&rules)
			}
			cfg := lsWeather(n, rules)
			if tc.weather != nil {
				tc.weather(&cfg)
			}
			start := time.Now()
			seeds := lsSeeds(t, tc.seeds)
			bad, events, promotions := hunt(cfg, seeds)
			if bad >= 0 {
				t.Fatalf("%s, %d sentinels, seed %d: %s", tc.name, n, bad, explain(cfg, bad))
			}
			if promotions == 0 && seeds >= 20 {
				// (A handful of seeds under the race detector may see none.)
				t.Fatalf("%s, %d sentinels: no failover in %d runs: the simulation exercises nothing", tc.name, n, seeds)
			}
			t.Logf("%s, %d sentinels: %d seeds, %d events, %d promotions, never two writable masters (%v)",
				tc.name, n, seeds, events, promotions, time.Since(start).Round(time.Millisecond))
		}
	}
}

// TestLeaseSimFindsBrokenRules shows the check has teeth: with one
// safety rule broken, the simulation finds two writable masters. The
// last row is vigil's first version of the lease.
func TestLeaseSimFindsBrokenRules(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rules   func() lsRules
		weaken  func(*lsRules)
		weather func(*lsConfig)
		slow    bool // skipped under -race
		only3   bool // rare with 5 sentinels: 3 only
	}{
		{"votes without SDOWN", repairA, func(r *lsRules) { r.voteOnlyIfDown, r.leaseFrac = false, 0.9 }, flap, false, true},
		{"lease twice down-after", repairA, func(r *lsRules) { r.leaseFrac = 2 }, nil, false, false},
		{"renewal timed from its arrival", repairA, func(r *lsRules) { r.renewFromArrival = true }, nil, false, false},
		{"promoted replica unmanaged", repairA, func(r *lsRules) { r.promoteManaged = false }, nil, false, false},
		{"lease managed only once seen", repairA, func(r *lsRules) { r.latchOnRenew = false }, func(c *lsConfig) { c.idle = true }, false, false},
		{"election survives a new config", repairA, func(r *lsRules) { r.dropElection = false }, flapStorm, false, true},
		{"voters renew what they voted to replace", repairA, func(r *lsRules) { r.quietAfterVote = false }, storm, true, true},
		{"token numbers restart with the lease", repairB, func(r *lsRules) { r.uniqueTokens = false }, freezes, true, true},
		{"overlapping grants", repairB, func(r *lsRules) { r.exclusive = false }, flapStorm, false, true},
		{"vigil's first lease rules", firstRules, func(*lsRules) {}, nil, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.slow && (failover.RaceBuild || testing.Short()) {
				t.Skip("millions of events: too slow under the race detector or -short")
			}
			rules := tc.rules()
			tc.weaken(&rules)
			ns := []int{3, 5}
			if tc.only3 || failover.RaceBuild {
				ns = ns[:1] // the race detector's slowdown: one size is enough
			}
			for _, n := range ns {
				cfg := lsWeather(n, rules)
				if tc.weather != nil {
					tc.weather(&cfg)
				}
				// Bounded, and never shortened: it stops at the first
				// violation.
				bad, events, _ := hunt(cfg, 3000)
				if bad < 0 {
					t.Fatalf("%d sentinels: no violation found in %d events", n, events)
				}
				t.Logf("%d sentinels: violation at seed %d after %d events", n, bad, events)
				if testing.Verbose() && n == 3 {
					t.Log(explain(cfg, bad))
				}
			}
		})
	}
}
