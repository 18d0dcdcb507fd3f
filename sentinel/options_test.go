package sentinel

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestSetOptionPairs(t *testing.T) {
	base := Group{Name: "m", Quorum: 2, DownAfter: DefaultDownAfter, FailoverTimeout: DefaultFailoverTimeout, ParallelSyncs: 1}
	tests := []struct {
		name    string
		pairs   []string
		check   func(Group) bool
		wantErr string
	}{
		{"down-after", []string{"down-after-milliseconds", "1500"}, func(g Group) bool { return g.DownAfter == 1500*time.Millisecond }, ""},
		{"case-insensitive option", []string{"QUORUM", "3"}, func(g Group) bool { return g.Quorum == 3 }, ""},
		{"several pairs", []string{"failover-timeout", "9000", "parallel-syncs", "2", "auth-pass", "pw", "auth-user", "u"},
			func(g Group) bool {
				return g.FailoverTimeout == 9*time.Second && g.ParallelSyncs == 2 && g.AuthPass == "pw" && g.AuthUser == "u"
			}, ""},
		{"empty auth-pass clears it", []string{"auth-pass", ""}, func(g Group) bool { return g.AuthPass == "" }, ""},
		{"zero quorum", []string{"quorum", "0"}, nil, "ERR Invalid argument '0' for SENTINEL SET 'quorum'"},
		{"negative parallel-syncs", []string{"parallel-syncs", "-1"}, nil, "ERR Invalid argument '-1' for SENTINEL SET 'parallel-syncs'"},
		{"not a number", []string{"failover-timeout", "abc"}, nil, "ERR Invalid argument 'abc' for SENTINEL SET 'failover-timeout'"},
		{"unknown option", []string{"foo", "1"}, nil, "ERR Unknown option or number of arguments for SENTINEL SET 'foo'"},
		{"odd pairs name the last", []string{"quorum", "2", "bad"}, nil, "ERR Unknown option or number of arguments for SENTINEL SET 'bad'"},
		{"scripts are refused", []string{"notification-script", "/bin/true"}, nil,
			"ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := setOptionPairs(base, tt.pairs)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(g) {
				t.Fatalf("got %+v, %v", g, err)
			}
		})
	}
	// A bad pair changes nothing, not even the pairs before it.
	if _, err := setOptionPairs(base, []string{"quorum", "5", "quorum", "x"}); err == nil || base.Quorum != 2 {
		t.Fatalf("a bad pair was partly applied: %+v %v", base, err)
	}
}

func TestGlobalOptions(t *testing.T) {
	tests := []struct {
		name, value, want, wantErr string
	}{
		{"announce-ip", "10.0.0.5", "10.0.0.5", ""},
		{"announce-port", "26400", "26400", ""},
		{"announce-port", "abc", "", "ERR Invalid value 'abc' to SENTINEL CONFIG SET 'announce-port'"},
		{"announce-port", "70000", "", "ERR Invalid value '70000' to SENTINEL CONFIG SET 'announce-port'"},
		{"resolve-hostnames", "YES", "yes", ""},
		{"announce-hostnames", "maybe", "", "ERR Invalid value 'maybe' to SENTINEL CONFIG SET 'announce-hostnames'"},
		{"foo", "bar", "", "ERR Invalid argument 'foo' to SENTINEL CONFIG SET"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			var c Config
			err := c.setGlobalOption(tt.name, tt.value)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || c.globalOption(tt.name) != tt.want {
				t.Fatalf("got %q, %v; want %q", c.globalOption(tt.name), err, tt.want)
			}
		})
	}
}

func TestMatchGlobalOptions(t *testing.T) {
	tests := []struct {
		pattern string
		want    []string
	}{
		{"*", globalOptions},
		{"announce-*", []string{"announce-hostnames", "announce-ip", "announce-port"}},
		{"ANNOUNCE-IP", []string{"announce-ip"}},
		{"announce", nil},
	}
	for _, tt := range tests {
		if got := matchGlobalOptions(tt.pattern); !slices.Equal(got, tt.want) {
			t.Errorf("matchGlobalOptions(%q) = %v, want %v", tt.pattern, got, tt.want)
		}
	}
}

func TestMonitorHost(t *testing.T) {
	lookup := func(h string) ([]string, error) {
		if h == "db.example" {
			return []string{"2001:db8::1", "10.0.0.1"}, nil
		}
		return nil, errors.New("no such host")
	}
	tests := []struct {
		host              string
		resolve, announce bool
		want              string // "" for the error
	}{
		{"127.0.0.1", false, false, "127.0.0.1"},
		{"::1", false, false, "::1"},
		{"db.example", false, false, ""},
		{"db.example", true, false, "10.0.0.1"},
		{"db.example", true, true, "db.example"},
		{"nosuch.example", true, true, ""},
	}
	for _, tt := range tests {
		got, err := monitorHost(tt.host, tt.resolve, tt.announce, lookup)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("monitorHost(%q, resolve %v, announce %v) = %q, %v; want %q", tt.host, tt.resolve, tt.announce, got, err, tt.want)
		}
		if err != nil && err.Error() != "ERR Invalid IP address or hostname specified" {
			t.Errorf("error text %q", err)
		}
	}
}
