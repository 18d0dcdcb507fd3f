package node

import (
	"fmt"
	"os"

	"go.uber.org/zap"

	"github.com/vigilkv/vigil/node/config"
)

// ReloadConfig re-reads the configuration the server was started with
// (its file and arguments) and applies every setting that changed and can
// change at runtime, as CONFIG SET would (SIGHUP, CONFIG RELOAD). It
// returns the settings applied and the changed ones that need a restart.
// A configuration that does not load changes nothing.
func (s *Server) ReloadConfig() (applied, restart []string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reloadConfig()
}

// reloadConfig is ReloadConfig under the lock (the file is small).
func (s *Server) reloadConfig() (applied, restart []string, err error) {
	loaded, _, err := config.Load(s.args, os.Getenv)
	if err != nil {
		return nil, nil, fmt.Errorf("reloading the configuration: %w", err)
	}
	changed, restart := config.Diff(s.cfg, loaded)
	if err := s.cfg.Set(changed); err != nil {
		return nil, restart, fmt.Errorf("applying the reloaded configuration: %w", err)
	}
	s.applyConfig()
	for _, c := range changed {
		applied = append(applied, c[0])
	}
	s.log.Info("configuration reloaded", zap.Strings("applied", applied), zap.Strings("need_restart", restart))
	return applied, restart, nil
}

// cmdConfigReload is CONFIG RELOAD (vigil): the reply lists what was
// applied and what needs a restart.
func cmdConfigReload(c *Ctx) {
	applied, restart, err := c.Srv.reloadConfig()
	if err != nil {
		c.Error("ERR " + err.Error())
		return
	}
	c.W.Array(4)
	c.W.BulkString("applied")
	c.W.Array(len(applied))
	for _, n := range applied {
		c.W.BulkString(n)
	}
	c.W.BulkString("restart-needed")
	c.W.Array(len(restart))
	for _, n := range restart {
		c.W.BulkString(n)
	}
}
