package failover

import (
	"os"
	"strconv"
	"testing"
	"time"
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
	if testing.Short() {
		return max(def/5, 1)
	}
	return def
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

// fixedRules are vigil's rules plus the three the simulation showed
// are needed (see lsRules): a promoted replica requires a lease, a
// sentinel's grants to two masters never overlap, and a lease is
// managed from the renewal that puts it in force.
func fixedRules() lsRules {
	r := vigilRules()
	r.promoteManaged, r.exclusive, r.latchOnRenew = true, true, true
	return r
}

// TestLeaseSimSafe runs thousands of seeded simulations under the fixed
// rules and asserts that at no event of any run two data nodes are both
// master and writable.
func TestLeaseSimSafe(t *testing.T) {
	for _, tc := range []struct {
		name    string
		seeds   int
		rules   func(*lsRules)
		weather func(*lsConfig)
	}{
		{"default weather", 300, nil, nil},
		{"drift 10%", 100, nil, func(c *lsConfig) { c.drift = 0.10 }},
		{"storm", 150, nil, storm},
		{"idle clients", 100, nil, func(c *lsConfig) { c.idle = true }},
		{"forced SENTINEL FAILOVER", 100, func(r *lsRules) { r.forced = true }, nil},
		// With exclusive grants and managed promotion, safety no longer
		// rests on the vote rule: two masters would need two majorities
		// whose grants overlap in time, and no sentinel's do.
		{"storm, votes without SDOWN", 100, func(r *lsRules) { r.voteOnlyIfDown = false }, storm},
	} {
		for _, n := range []int{3, 5} {
			rules := fixedRules()
			if tc.rules != nil {
				tc.rules(&rules)
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
			if promotions == 0 {
				t.Fatalf("%s, %d sentinels: no failover in %d runs: the simulation exercises nothing", tc.name, n, seeds)
			}
			t.Logf("%s, %d sentinels: %d seeds, %d events, %d promotions, never two writable masters (%v)",
				tc.name, n, seeds, events, promotions, time.Since(start).Round(time.Millisecond))
		}
	}
}

// TestLeaseSimFindsBrokenRules shows the check has teeth: with one
// safety rule broken, the simulation finds two writable masters. The
// last three rows are what vigil does today.
func TestLeaseSimFindsBrokenRules(t *testing.T) {
	for _, tc := range []struct {
		name      string
		sentinels []int
		weaken    func(*lsRules)
		weather   func(*lsConfig)
	}{
		// The next two break vigil's own argument (votes only while the
		// voter's lease has run out); exclusive grants would cover for
		// them, so they are off too.
		{"lease twice down-after", []int{3, 5}, func(r *lsRules) { r.leaseFrac, r.exclusive = 2, false }, nil},
		{"votes without SDOWN", []int{3}, func(r *lsRules) { r.voteOnlyIfDown, r.exclusive = false, false }, storm},
		{"renewal timed from its arrival", []int{3, 5}, func(r *lsRules) { r.renewFromArrival = true }, nil},
		{"promoted replica unmanaged", []int{3, 5}, func(r *lsRules) { r.promoteManaged = false }, nil},
		{"overlapping grants", []int{3}, func(r *lsRules) { r.exclusive = false }, storm},
		{"lease managed only once seen", []int{3, 5}, func(r *lsRules) { r.latchOnRenew = false }, func(c *lsConfig) { c.idle = true }},
		{"vigil as implemented", []int{3, 5}, func(r *lsRules) { *r = vigilRules() }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules := fixedRules()
			tc.weaken(&rules)
			for _, n := range tc.sentinels {
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
				if testing.Verbose() && n == tc.sentinels[0] {
					t.Log(explain(cfg, bad))
				}
			}
		})
	}
}
