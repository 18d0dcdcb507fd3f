package sentinel

import (
	"strings"
	"testing"

	"github.com/vigilkv/vigil/internal/resp"
)

// SIMULATE-FAILURE clears the flags first and sets them argument by
// argument, as Redis does: HELP or an unknown name keeps what came
// before it.
func TestSimulateFailureFlags(t *testing.T) {
	s, _ := newTestSentinel(t)
	tests := []struct {
		args  string
		start simulateFlags
		want  simulateFlags
		reply string
	}{
		{"crash-after-election", 0, simCrashAfterElection, "+OK\r\n"},
		{"CRASH-AFTER-PROMOTION crash-after-election", 0, simCrashAfterElection | simCrashAfterPromotion, "+OK\r\n"},
		{"help", simCrashAfterElection, 0, "*2\r\n"},
		{"crash-after-promotion help", simCrashAfterElection, simCrashAfterPromotion, "*2\r\n"},
		{"crash-after-election bogus", simCrashAfterPromotion, simCrashAfterElection, "-ERR Unknown failure simulation specified\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			s.simulate = tt.start
			args := [][]byte{[]byte("SENTINEL"), []byte("SIMULATE-FAILURE")}
			for _, a := range strings.Fields(tt.args) {
				args = append(args, []byte(a))
			}
			w := resp.NewWriter()
			s.simulateCmd(w, args)
			if got := string(w.Buf); !strings.HasPrefix(got, tt.reply) {
				t.Errorf("reply %q, want it to start with %q", got, tt.reply)
			}
			if s.simulate != tt.want {
				t.Errorf("flags %b, want %b", s.simulate, tt.want)
			}
		})
	}
}
