package logging

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
