package fuzzcmd

import (
	"slices"
	"strings"
	"testing"
)

func TestEncodeDecode(t *testing.T) {
	names := []string{"get", "set", "zadd"}
	tokens := []string{"k", "1", "NX"}
	for _, tc := range []struct {
		cmds []string
		want [][]string
	}{
		{[]string{"SET k 1", "get k"}, [][]string{{"set", "k", "1"}, {"get", "k"}}},
		{[]string{"zadd k NX 1 raw\x00"}, [][]string{{"zadd", "k", "NX", "1", "raw\x00"}}},
		{[]string{"get"}, [][]string{{"get"}}},
	} {
		data, err := Encode(names, tokens, tc.cmds...)
		if err != nil {
			t.Fatal(err)
		}
		var got [][]string
		for _, c := range Decode(data, names, tokens) {
			var args []string
			for _, a := range c {
				args = append(args, string(a))
			}
			got = append(got, args)
		}
		if !slices.EqualFunc(got, tc.want, slices.Equal[[]string]) {
			t.Errorf("%q: decoded %q", tc.cmds, got)
		}
	}
	for _, bad := range []string{"", "del k", "set " + strings.Repeat("x", 40)} {
		if _, err := Encode(names, tokens, bad); err == nil {
			t.Errorf("%q encoded", bad)
		}
	}
}
