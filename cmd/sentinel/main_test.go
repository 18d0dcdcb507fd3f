package main

import (
	"bytes"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilkv/vigil/sentinel"
)

// TestSettingsSources checks where settings come from and which wins:
// flags > environment > YAML > sentinel.conf > defaults.
func TestSettingsSources(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	yaml := write("sentinel.yaml", `port: 26390
down-after-milliseconds: 1500
monitor:
  - "a 127.0.0.1 6379 2"
  - "b 127.0.0.1 6380 2"
join: ["127.0.0.1:7946", "127.0.0.1:7947"]
resolve-hostnames: true
`)
	conf := write("sentinel.conf", "port 26400\nsentinel monitor c 127.0.0.1 6390 2\nsentinel down-after-milliseconds c 9000\n")
	badKey := write("bad-key.yaml", "down-after: 10\n")
	badValue := write("bad-value.yaml", "port: many\n")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		// check inspects the result; wantErr is a substring of the error.
		check   func(t *testing.T, port int, downAfter map[string]time.Duration, join []string, resolve bool)
		wantErr string
	}{
		{name: "YAML", args: []string{"--config", yaml},
			check: func(t *testing.T, port int, da map[string]time.Duration, join []string, resolve bool) {
				if port != 26390 || da["a"] != 1500*time.Millisecond || da["b"] != 1500*time.Millisecond || len(join) != 2 || !resolve {
					t.Errorf("port %d, down-after %v, join %v, resolve-hostnames %v", port, da, join, resolve)
				}
			}},
		{name: "environment over YAML", args: []string{"--config", yaml},
			env: map[string]string{"VIGIL_SENTINEL_PORT": "26391", "VIGIL_SENTINEL_MONITOR": "x 127.0.0.1 7000 2;y 127.0.0.1 7001 2"},
			check: func(t *testing.T, port int, da map[string]time.Duration, _ []string, _ bool) {
				_, hasA := da["a"]
				if port != 26391 || hasA || da["x"] == 0 || da["y"] == 0 {
					t.Errorf("port %d, groups %v", port, da)
				}
			}},
		{name: "flag over environment", args: []string{"--config", yaml, "--port", "26392"},
			env: map[string]string{"VIGIL_SENTINEL_PORT": "26391"},
			check: func(t *testing.T, port int, _ map[string]time.Duration, _ []string, _ bool) {
				if port != 26392 {
					t.Errorf("port %d", port)
				}
			}},
		{name: "YAML over sentinel.conf", args: []string{conf, "--config", yaml},
			check: func(t *testing.T, port int, da map[string]time.Duration, _ []string, _ bool) {
				if port != 26390 || da["c"] != 1500*time.Millisecond {
					t.Errorf("port %d, down-after %v", port, da)
				}
			}},
		{name: "unknown YAML setting", args: []string{"--config", badKey}, wantErr: badKey + ":1: setting 'down-after': unknown setting"},
		{name: "bad YAML value", args: []string{"--config", badValue}, wantErr: badValue + ":1: setting 'port': bad value \"many\""},
		{name: "bad environment value", env: map[string]string{"VIGIL_SENTINEL_PARALLEL_SYNCS": "x"}, wantErr: "environment variable VIGIL_SENTINEL_PARALLEL_SYNCS: bad value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, ok := parse(t, tc.args, tc.env, tc.wantErr)
			if !ok {
				return
			}
			da := map[string]time.Duration{}
			for _, g := range cfg.Groups {
				da[g.Name] = g.DownAfter
			}
			tc.check(t, cfg.Port, da, cfg.Join, cfg.ResolveHostnames)
		})
	}
}

// TestGossipKeySetting: --gossip-key takes base64 keys of AES sizes,
// the first one first, from a flag or the environment.
func TestGossipKeySetting(t *testing.T) {
	k16 := base64.StdEncoding.EncodeToString(make([]byte, 16))
	k32 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantLens []int
		wantErr  string
	}{
		{name: "none", wantLens: nil},
		{name: "one", args: []string{"--gossip-key", k32}, wantLens: []int{32}},
		{name: "primary first", args: []string{"--gossip-key", k32 + ", " + k16}, wantLens: []int{32, 16}},
		{name: "environment", env: map[string]string{"VIGIL_SENTINEL_GOSSIP_KEY": k16}, wantLens: []int{16}},
		{name: "not base64", args: []string{"--gossip-key", "a-b"}, wantErr: "--gossip-key: key 1 is not base64"},
		{name: "wrong size", args: []string{"--gossip-key", k16 + ",YWJj"}, wantErr: "--gossip-key: key 2 is 3 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, ok := parse(t, tc.args, tc.env, tc.wantErr)
			if !ok {
				return
			}
			var lens []int
			for _, k := range cfg.GossipKeys {
				lens = append(lens, len(k))
			}
			if !slices.Equal(lens, tc.wantLens) {
				t.Errorf("key sizes %v, want %v", lens, tc.wantLens)
			}
		})
	}
}

// TestGossipAnnounceSetting: the gossip's announced address must be an
// IP address (memberlist gossips by address) and a port.
func TestGossipAnnounceSetting(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{args: []string{"--gossip-announce-ip", "10.0.0.7", "--gossip-announce-port", "17946"}},
		{args: []string{"--gossip-announce-ip", "sentinel-1.example"}, wantErr: `--gossip-announce-ip: "sentinel-1.example" is not an IP address`},
		{args: []string{"--gossip-announce-port", "70000"}, wantErr: "--gossip-announce-port: 70000 is not a port"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cfg, ok := parse(t, tc.args, nil, tc.wantErr)
			if ok && (cfg.GossipAnnounceIP != "10.0.0.7" || cfg.GossipAnnouncePort != 17946) {
				t.Errorf("announce %s:%d", cfg.GossipAnnounceIP, cfg.GossipAnnouncePort)
			}
		})
	}
}

// parse is parseConfig with args and env. With wantErr, the error must
// contain it, and ok is false.
func parse(t *testing.T, args []string, env map[string]string, wantErr string) (cfg sentinel.Config, ok bool) {
	t.Helper()
	cfg, _, err := parseConfig(args, func(k string) string { return env[k] }, io.Discard)
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error %v, want one containing %q", err, wantErr)
		}
		return cfg, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return cfg, true
}
