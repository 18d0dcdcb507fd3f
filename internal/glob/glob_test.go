package glob

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pat, s string
		nocase bool
		want   bool
	}{
		{"*", "anything", false, true},
		{"h?llo", "hello", false, true},
		{"h?llo", "hllo", false, false},
		{"h*llo", "heeeello", false, true},
		{"h[ae]llo", "hallo", false, true},
		{"h[ae]llo", "hillo", false, false},
		{"h[^e]llo", "hallo", false, true},
		{"h[^e]llo", "hello", false, false},
		{"h[a-b]llo", "hbllo", false, true},
		{"h[b-a]llo", "hallo", false, true},
		{"h\\*llo", "h*llo", false, true},
		{"h\\*llo", "hello", false, false},
		{"HELLO", "hello", true, true},
		{"HELLO", "hello", false, false},
		{"[A-C]x", "bx", true, true},
		{"a*", "a", false, true},
		{"a**b", "aXXb", false, true},
		{"[abc", "a", false, true},
		{"[abc", "ab", false, false},
		{"user:*:name", "user:42:name", false, true},
		{"*a*a*a*a*a*a*a*a*a*a*b", strings.Repeat("a", 60), false, false},
		{"[\\]]", "]", false, true},
		{"", "", false, true},
		{"?", "", false, false},
		{"*", "", false, false},
		{"**", "", false, false},
		{"a*d", "abc", false, false},
		{"?b?", "abc", false, true},
		{"[^ab]*", "bcd", false, false},
		{"\\*", "a", false, false},
		{"a", "", false, false},
	}
	for _, tt := range tests {
		if got := MatchString(tt.pat, tt.s, tt.nocase); got != tt.want {
			t.Errorf("Match(%q, %q, %v) = %v, want %v", tt.pat, tt.s, tt.nocase, got, tt.want)
		}
	}
}

func FuzzMatch(f *testing.F) {
	for _, seed := range []string{"*", "h?llo", "[^a-z]*", "\\", "[", "*a*b*c", "[\\"} {
		f.Add(seed, "hello world", false)
	}
	f.Fuzz(func(t *testing.T, pat, s string, nocase bool) {
		if len(pat) > 200 || len(s) > 200 {
			return
		}
		got := MatchString(pat, s, nocase)
		// Without special characters the pattern is a literal.
		if !strings.ContainsAny(pat, "*?[\\") && !nocase && got != (pat == s) {
			t.Fatalf("literal %q vs %q: %v", pat, s, got)
		}
	})
}
