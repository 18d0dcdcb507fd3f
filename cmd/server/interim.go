package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/vigilkv/vigil/node/config"
)

// loadConfig is an interim command-line reader covering the settings the
// tests and the launcher use, until node/config's full loader (redis.conf,
// YAML, environment, every directive) replaces it.
func loadConfig(args []string) (*config.Config, error) {
	cfg := config.Default()
	for i := 0; i < len(args); i++ {
		name, ok := strings.CutPrefix(args[i], "--")
		if !ok {
			return nil, fmt.Errorf("argument %q: expected --directive value", args[i])
		}
		var vals []string
		for i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			i++
			vals = append(vals, args[i])
		}
		val := strings.Join(vals, " ")
		if err := setDirective(cfg, strings.ToLower(name), val); err != nil {
			return nil, fmt.Errorf("flag --%s %q: %w", name, val, err)
		}
	}
	return cfg, nil
}

func setDirective(cfg *config.Config, name, val string) error {
	atoi := func(dst *int) error {
		n, err := strconv.Atoi(val)
		if err != nil {
			return fmt.Errorf("argument couldn't be parsed into an integer")
		}
		*dst = n
		return nil
	}
	yesno := func(dst *bool) error {
		switch strings.ToLower(val) {
		case "yes":
			*dst = true
		case "no":
			*dst = false
		default:
			return fmt.Errorf("argument must be 'yes' or 'no'")
		}
		return nil
	}
	switch name {
	case "port":
		return atoi(&cfg.Port)
	case "bind":
		cfg.Bind = strings.Fields(val)
	case "protected-mode":
		return yesno(&cfg.ProtectedMode)
	case "requirepass":
		cfg.RequirePass = val
	case "timeout":
		return atoi(&cfg.Timeout)
	case "maxclients":
		return atoi(&cfg.MaxClients)
	case "databases":
		return atoi(&cfg.Databases)
	case "dir":
		if err := os.MkdirAll(val, 0o755); err != nil {
			return err
		}
		cfg.Dir = val
	case "loglevel":
		cfg.LogLevel = val
	case "logfile":
		cfg.LogFile = val
	case "enable-debug-command":
		cfg.EnableDebugCommand = val
	case "save":
		cfg.Save = val
	case "appendonly":
		return yesno(&cfg.AppendOnly)
	case "hz":
		return atoi(&cfg.Hz)
	default:
		// Accepted and ignored until the full loader lands.
	}
	return nil
}

// newLogger builds the interim logger (stderr, console format).
func newLogger(level string) (*zap.Logger, error) {
	lvl := zapcore.InfoLevel
	switch level {
	case "debug", "verbose":
		lvl = zapcore.DebugLevel
	case "warning":
		lvl = zapcore.WarnLevel
	}
	zc := zap.NewDevelopmentConfig()
	zc.Level = zap.NewAtomicLevelAt(lvl)
	return zc.Build()
}
