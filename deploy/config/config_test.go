// Package config holds example production configurations; this test
// keeps them loadable by the binaries they are for.
package config

import (
	"testing"

	nodeconfig "github.com/vigilkv/vigil/node/config"
	"github.com/vigilkv/vigil/sentinel"
)

func TestExampleConfigsLoad(t *testing.T) {
	cfg, ignored, err := nodeconfig.Load([]string{"vigil.conf"}, func(string) string { return "" })
	if err != nil {
		t.Fatalf("vigil.conf: %v", err)
	}
	if len(ignored) > 0 {
		t.Errorf("vigil.conf has directives vigil ignores: %v", ignored)
	}
	if cfg.SyncReplicas != 1 || !cfg.AppendOnly {
		t.Errorf("vigil.conf: sync-replicas %d, appendonly %v", cfg.SyncReplicas, cfg.AppendOnly)
	}
	var sc sentinel.Config
	if err := sentinel.LoadConfFile("sentinel.conf", &sc); err != nil {
		t.Fatalf("sentinel.conf: %v", err)
	}
	if len(sc.Groups) != 1 || sc.Groups[0].Quorum != 2 {
		t.Errorf("sentinel.conf: groups %+v", sc.Groups)
	}
}
