package failover

import (
	"strings"
	"testing"
	"time"
)

func TestSelectReplica(t *testing.T) {
	p := Params{PingPeriod: time.Second, InfoPeriod: 10 * time.Second, DownAfter: time.Second}
	ok := func(addr string, prio int, off int64, id string) Replica {
		return Replica{Addr: addr, Priority: prio, Offset: off, RunID: id}
	}
	for _, tc := range []struct {
		name     string
		replicas []Replica
		params   Params
		want     string // addr, or "" for none
		excluded []string
	}{
		{"priority first", []Replica{ok("a", 100, 500, "1"), ok("b", 10, 1, "2")}, p, "b", nil},
		{"then offset", []Replica{ok("a", 100, 500, "1"), ok("b", 100, 900, "2")}, p, "b", nil},
		{"then run id", []Replica{ok("a", 100, 900, "bbb"), ok("b", 100, 900, "aaa")}, p, "b", nil},
		{"unknown run id last", []Replica{ok("a", 100, 900, ""), ok("b", 100, 900, "zzz")}, p, "b", nil},
		{"down", []Replica{{Addr: "a", Priority: 1, Down: true}, ok("b", 100, 1, "x")}, p, "b", []string{"a: down"}},
		{"disconnected", []Replica{{Addr: "a", Priority: 1, Disconnected: true}}, p, "", []string{"a: disconnected"}},
		{"priority 0", []Replica{ok("a", 0, 900, "1"), ok("b", 100, 1, "2")}, p, "b", []string{"a: replica-priority 0"}},
		{"no ping reply", []Replica{{Addr: "a", Priority: 1, SincePingReply: 6 * time.Second}}, p, "", []string{"a: no valid PING reply"}},
		{"stale info", []Replica{{Addr: "a", Priority: 1, InfoAge: 31 * time.Second}}, p, "", []string{"a: INFO"}},
		{"stale info while the master is down", []Replica{{Addr: "a", Priority: 1, InfoAge: 6 * time.Second}},
			Params{PingPeriod: time.Second, InfoPeriod: 10 * time.Second, DownAfter: time.Second, MasterDown: 2 * time.Second}, "", []string{"a: INFO"}},
		{"fresh enough info while the master is down", []Replica{{Addr: "a", Priority: 1, InfoAge: 4 * time.Second}},
			Params{PingPeriod: time.Second, InfoPeriod: 10 * time.Second, DownAfter: time.Second, MasterDown: 2 * time.Second}, "a", nil},
		{"link down too long", []Replica{{Addr: "a", Priority: 1, MasterLinkDown: 13 * time.Second}},
			Params{PingPeriod: time.Second, InfoPeriod: 10 * time.Second, DownAfter: time.Second, MasterDown: 2 * time.Second}, "", []string{"a: disconnected from the master"}},
		{"link down within the margin", []Replica{{Addr: "a", Priority: 1, MasterLinkDown: 11 * time.Second}},
			Params{PingPeriod: time.Second, InfoPeriod: 10 * time.Second, DownAfter: time.Second, MasterDown: 2 * time.Second}, "a", nil},
		{"none", nil, p, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, ex := SelectReplica(tc.replicas, tc.params)
			got := ""
			if i >= 0 {
				got = tc.replicas[i].Addr
			}
			if got != tc.want {
				t.Fatalf("selected %q, want %q (excluded %v)", got, tc.want, ex)
			}
			if len(ex) != len(tc.excluded) {
				t.Fatalf("excluded %v, want %v", ex, tc.excluded)
			}
			for j, e := range ex {
				if !strings.HasPrefix(e.String(), tc.excluded[j]) {
					t.Errorf("exclusion %q, want prefix %q", e, tc.excluded[j])
				}
			}
		})
	}
}

func TestAwaitFreshInfo(t *testing.T) {
	stale := Exclusion{Addr: "a", Reason: "INFO 6s old", StaleInfo: true}
	down := Exclusion{Addr: "b", Reason: "down"}
	for _, tc := range []struct {
		name     string
		excluded []Exclusion
		waited   time.Duration
		want     bool
	}{
		{"a replica's INFO is stale", []Exclusion{down, stale}, 0, true},
		{"waited long enough", []Exclusion{stale}, time.Second, false},
		{"nothing stale", []Exclusion{down}, 0, false},
		{"nothing excluded", nil, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := AwaitFreshInfo(tc.excluded, tc.waited, time.Second); got != tc.want {
				t.Fatalf("AwaitFreshInfo = %v, want %v", got, tc.want)
			}
		})
	}
	// SelectReplica marks the stale-INFO exclusions, and only those.
	_, ex := SelectReplica([]Replica{{Addr: "a", Priority: 1, InfoAge: 6 * time.Second}, {Addr: "b", Priority: 1, Down: true}},
		Params{PingPeriod: time.Second, InfoPeriod: 10 * time.Second, DownAfter: time.Second, MasterDown: time.Second})
	if len(ex) != 2 || !ex[0].StaleInfo || ex[1].StaleInfo {
		t.Fatalf("exclusions %+v: want a stale, b not", ex)
	}
}
