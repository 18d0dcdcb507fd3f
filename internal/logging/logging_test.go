package logging

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
