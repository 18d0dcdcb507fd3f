package main

import (
	"maps"
	"testing"
	"time"
)

// TestLeaseRenewals checks the parsing of INFO replication's
// master_lease_renewals, which the rolling-upgrade drill waits on before
// stopping a sentinel.
func TestLeaseRenewals(t *testing.T) {
	for _, tc := range []struct {
		field string
		want  map[string]time.Duration
	}{
		{"", map[string]time.Duration{}},
		{"6eca7e8f=120ms", map[string]time.Duration{"6eca7e8f": 120 * time.Millisecond}},
		{"13c8712a=0ms,64fe4df7=480ms", map[string]time.Duration{"13c8712a": 0, "64fe4df7": 480 * time.Millisecond}},
		{"bad,=5ms,x=7,y=zms,ok=1ms", map[string]time.Duration{"ok": time.Millisecond}},
	} {
		if got := leaseRenewals(tc.field); !maps.Equal(got, tc.want) {
			t.Errorf("leaseRenewals(%q) = %v, want %v", tc.field, got, tc.want)
		}
	}
}
