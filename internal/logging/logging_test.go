package logging

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestNewWritesJSONToFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.log")
	log, atom, err := New("warning", "json", path)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown")
	if lvl, _ := Level("debug"); true {
		atom.SetLevel(lvl)
	}
	log.Debug("now shown")
	log.Sync()
	b, _ := os.ReadFile(path)
	s := string(b)
	if strings.Contains(s, "hidden") || !strings.Contains(s, `"msg":"shown"`) || !strings.Contains(s, "now shown") {
		t.Fatalf("log file: %s", s)
	}
	for _, bad := range [][2]string{{"loud", "console"}, {"notice", "xml"}} {
		if _, _, err := New(bad[0], bad[1], ""); err == nil {
			t.Errorf("New(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

// go-redis's messages land in the logger at debug level, formatted.
func TestGoRedisLogsAtDebug(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	GoRedis{Log: zap.New(core)}.Printf(context.Background(), "failed to dial %s", "127.0.0.1:1")
	all := logs.All()
	if len(all) != 1 || all[0].Level != zap.DebugLevel || all[0].Message != "go-redis: failed to dial 127.0.0.1:1" {
		t.Fatalf("logged %+v", all)
	}
}

// memberlist's lines keep their level, and a repeat within the quiet
// period (from the same peer, whatever its source port) is dropped.
func TestMemberlistLevelsAndRepeats(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	m := &Memberlist{Log: zap.New(core), Quiet: time.Hour}
	for _, line := range []string{
		"[DEBUG] memberlist: Initiating push/pull sync with: 127.0.0.1:7946\n",
		"[WARN] memberlist: Was able to connect to x over TCP but UDP probes failed, network may be misconfigured\n",
		"[ERR] memberlist: Decrypt packet failed: No installed keys could decrypt the message from=127.0.0.1:47000\n",
		"[ERR] memberlist: Decrypt packet failed: No installed keys could decrypt the message from=127.0.0.1:47008\n",
		"no level at all\n",
	} {
		if n, err := m.Write([]byte(line)); n != len(line) || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
	}
	var got []string
	for _, e := range logs.All() {
		got = append(got, e.Level.String()+" "+e.Message)
	}
	want := []string{
		"debug memberlist: Initiating push/pull sync with: 127.0.0.1:7946",
		"warn memberlist: Was able to connect to x over TCP but UDP probes failed, network may be misconfigured",
		"error memberlist: Decrypt packet failed: No installed keys could decrypt the message from=127.0.0.1:47000 (a peer with another gossip key, or none)",
		"debug no level at all",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("logged:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
