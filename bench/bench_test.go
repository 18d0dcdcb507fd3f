package main

import (
	"slices"
	"strings"
	"testing"
)

func TestParseCSV(t *testing.T) {
	in := `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"SET","33898.30","0.099","0.032","0.095","0.151","0.223","2.271"
"LPUSH (needed to benchmark LRANGE)","39215.69","0.082","0.024","0.071","0.111","0.159","4.351"
`
	got, err := parseCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d rows, want 2", len(got))
	}
	want := result{Test: "SET", RPS: 33898.30, Avg: 0.099, Min: 0.032, P50: 0.095, P95: 0.151, P99: 0.223, MaxLaten: 2.271}
	if got[0] != want {
		t.Errorf("row 0 = %+v, want %+v", got[0], want)
	}
	if got[1].Test != "LPUSH (needed to benchmark LRANGE)" {
		t.Errorf("row 1 test = %q", got[1].Test)
	}
	for _, bad := range []string{"", `"test","rps"` + "\n", strings.Replace(in, "33898.30", "x", 1)} {
		if _, err := parseCSV(strings.NewReader(bad)); err == nil {
			t.Errorf("parseCSV(%.40q) accepted", bad)
		}
	}
}

func TestInfoField(t *testing.T) {
	info := "# Memory\r\nused_memory:12345\r\nused_memory_human:12.06K\r\n"
	if n, err := infoField(info, "used_memory"); err != nil || n != 12345 {
		t.Errorf("infoField = %d, %v", n, err)
	}
	if _, err := infoField(info, "missing"); err == nil {
		t.Error("missing field accepted")
	}
}

func TestMedians(t *testing.T) {
	rounds := [][]result{
		{{Test: "SET", RPS: 10, P99: 3}, {Test: "GET", RPS: 1}},
		{{Test: "SET", RPS: 30, P99: 1}, {Test: "GET", RPS: 2}},
		{{Test: "SET", RPS: 20, P99: 2}, {Test: "GET", RPS: 4}},
	}
	got := medians(rounds)
	if len(got) != 2 || got[0].RPS != 20 || got[0].P99 != 2 || got[1].RPS != 2 {
		t.Errorf("medians = %+v", got)
	}
	if got := medians(rounds[:2]); got[0].RPS != 20 {
		t.Errorf("even count median = %v, want 20", got[0].RPS)
	}
}

func TestBenchUnits(t *testing.T) {
	for _, tc := range []struct {
		tests string
		want  []string
	}{
		{"set,get", []string{"set", "get"}},
		{"lpush,lrange_100,rpop,lrange_600", []string{"lpush", "rpop", "lrange_100,lrange_600"}},
		{"lrange_300", []string{"lrange_300"}},
	} {
		if got := benchUnits(tc.tests); !slices.Equal(got, tc.want) {
			t.Errorf("benchUnits(%q) = %q, want %q", tc.tests, got, tc.want)
		}
	}
}
