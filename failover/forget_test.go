package failover

import (
	"slices"
	"testing"
	"time"
)

func TestForget(t *testing.T) {
	on := ForgetParams{After: 10 * time.Second}
	absent := []Absent{{"b", 11 * time.Second}, {"a", time.Minute}, {"c", 10 * time.Second}, {"d", time.Second}}
	for _, tc := range []struct {
		name          string
		absent        []Absent
		alive, voters int
		p             ForgetParams
		replicas      []string // ForgetReplicas
		sentinels     []string // ForgetSentinels
	}{
		{"off by default", absent, 3, 5, ForgetParams{}, nil, nil},
		{"longer than forget-after, sorted", absent, 3, 5, on, []string{"a", "b"}, []string{"a", "b"}},
		{"exactly forget-after is kept", []Absent{{"c", 10 * time.Second}}, 2, 3, on, nil, nil},
		{"none absent", nil, 3, 3, on, nil, nil},
		{"busy: an election or failover runs, or TILT", absent, 3, 5, ForgetParams{After: 10 * time.Second, Busy: true}, nil, nil},
		{"minority side keeps its electorate", absent, 2, 5, on, []string{"a", "b"}, nil},
		{"lone sentinel of three", []Absent{{"x", time.Hour}, {"y", time.Hour}}, 1, 3, on, []string{"x", "y"}, nil},
		{"two of four is no majority", []Absent{{"x", time.Hour}, {"y", time.Hour}}, 2, 4, on, []string{"x", "y"}, nil},
		{"majority of three forgets the third", []Absent{{"x", time.Hour}}, 2, 3, on, []string{"x"}, []string{"x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ForgetReplicas(tc.absent, tc.p); !slices.Equal(got, tc.replicas) {
				t.Errorf("ForgetReplicas: %v, want %v", got, tc.replicas)
			}
			if got := ForgetSentinels(tc.absent, tc.alive, tc.voters, tc.p); !slices.Equal(got, tc.sentinels) {
				t.Errorf("ForgetSentinels: %v, want %v", got, tc.sentinels)
			}
		})
	}
}
