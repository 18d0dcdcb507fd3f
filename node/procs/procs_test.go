package procs

import "testing"

func TestGovernor(t *testing.T) {
	type step struct {
		hold    Work
		release int // index of an earlier step's release to call instead; -1 for none
		want    int
	}
	tests := []struct {
		name       string
		base, cpus int
		steps      []step
	}{
		{"one core serves, background adds one per kind", 1, 8, []step{
			{Snapshot, -1, 2}, {Snapshot, -1, 2}, {Replicas, -1, 3}, {0, 0, 3}, {0, 1, 2}, {0, 2, 1},
		}},
		{"never above the CPUs", 2, 2, []step{
			{Load, -1, 2}, {Replicas, -1, 2}, {0, 0, 2}, {0, 1, 2},
		}},
		{"base is clamped to the CPUs", 4, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var applied []int
			g := New(tt.base, tt.cpus, func(n int) int { applied = append(applied, n); return 0 })
			if want := min(tt.base, tt.cpus); g.Procs() != want {
				t.Fatalf("start: %d procs, want %d", g.Procs(), want)
			}
			var releases []func()
			for i, st := range tt.steps {
				if st.release >= 0 {
					releases[st.release]()
					releases[st.release]() // a second call does nothing
					releases = append(releases, nil)
				} else {
					releases = append(releases, g.Hold(st.hold))
				}
				if got := g.Procs(); got != st.want {
					t.Fatalf("step %d: %d procs, want %d", i, got, st.want)
				}
			}
			for i := 1; i < len(applied); i++ {
				if applied[i] == applied[i-1] {
					t.Fatalf("set called again with the same count: %v", applied)
				}
			}
		})
	}
}

func TestNilGovernor(t *testing.T) {
	var g *Governor
	g.Hold(Snapshot)()
	if g.Procs() != 0 {
		t.Fatal("a nil governor reports procs")
	}
}
