package failover

import (
	"testing"
	"time"
)

func TestNeedsFixSlaveConfig(t *testing.T) {
	const s = time.Second
	calm := WrongMaster{FollowsHost: "10.0.0.1", FollowsPort: 6379, MasterHost: "10.0.0.2", MasterPort: 6379, MasterSane: true,
		SinceConfigChange: 11 * s, UpFor: 21 * s, SinceLastFix: time.Hour, FailoverTimeout: 10 * s}
	tests := []struct {
		name   string
		change func(*WrongMaster)
		want   bool
	}{
		{"another master, calm: fix", func(*WrongMaster) {}, true},
		{"another port: fix", func(w *WrongMaster) { w.FollowsHost, w.FollowsPort = "10.0.0.2", 6380 }, true},
		{"the right master", func(w *WrongMaster) { w.FollowsHost = "10.0.0.2" }, false},
		{"the same IP written differently", func(w *WrongMaster) { w.FollowsHost, w.MasterHost = "::ffff:10.0.0.2", "10.0.0.2" }, false},
		{"a hostname against an IP is not judged", func(w *WrongMaster) { w.FollowsHost = "db1" }, false},
		{"two different hostnames", func(w *WrongMaster) { w.FollowsHost, w.MasterHost = "db1", "db2" }, true},
		{"no master known yet (a master itself)", func(w *WrongMaster) { w.FollowsHost = "" }, false},
		{"failover running", func(w *WrongMaster) { w.Failing = true }, false},
		{"group master not sane", func(w *WrongMaster) { w.MasterSane = false }, false},
		{"configuration changed recently", func(w *WrongMaster) { w.SinceConfigChange = 9 * s }, false},
		{"up for less than twice failover-timeout", func(w *WrongMaster) { w.UpFor = 19 * s }, false},
		{"fixed recently", func(w *WrongMaster) { w.SinceLastFix = 5 * s }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := calm
			tt.change(&w)
			if got := NeedsFixSlaveConfig(w); got != tt.want {
				t.Fatalf("NeedsFixSlaveConfig(%+v) = %v, want %v", w, got, tt.want)
			}
		})
	}
}

func TestShouldConvertToReplica(t *testing.T) {
	tests := []struct {
		name                string
		masterSane, failing bool
		since               time.Duration
		want                bool
	}{
		{"an old master back, reporting master all along", true, false, time.Minute, true},
		{"just promoted, maybe by a newer epoch: wait", true, false, time.Second, false},
		{"promoted a while ago and no newer config came", true, false, ConvertWait + time.Millisecond, true},
		{"our master is not sane", false, false, time.Minute, false},
		{"our own failover runs", true, true, time.Minute, false},
	}
	for _, tt := range tests {
		if got := ShouldConvertToReplica(tt.masterSane, tt.failing, tt.since); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
