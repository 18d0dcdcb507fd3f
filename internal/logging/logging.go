// Package logging builds the zap loggers of vigil's binaries from the
// Redis-style settings: loglevel (debug, verbose, notice, warning),
// log-format (console or json) and logfile ("" for standard output).
package logging

import (
	"context"
	"fmt"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Level maps a Redis log level name to a zap level.
func Level(name string) (zapcore.Level, error) {
	switch name {
	case "debug":
		return zapcore.DebugLevel, nil
	case "verbose", "notice", "":
		return zapcore.InfoLevel, nil
	case "warning":
		return zapcore.WarnLevel, nil
	}
	return 0, fmt.Errorf("unknown log level %q (want debug, verbose, notice or warning)", name)
}

// New returns a logger and the level handle that changes it at runtime
// (CONFIG SET loglevel).
func New(level, format, file string) (*zap.Logger, zap.AtomicLevel, error) {
	lvl, err := Level(level)
	if err != nil {
		return nil, zap.AtomicLevel{}, err
	}
	atom := zap.NewAtomicLevelAt(lvl)
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	switch format {
	case "json":
		enc = zapcore.NewJSONEncoder(encCfg)
	case "console", "":
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	default:
		return nil, atom, fmt.Errorf("unknown log format %q (want console or json)", format)
	}
	out := zapcore.Lock(os.Stdout)
	if file != "" {
		f, err := os.OpenFile(file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, atom, fmt.Errorf("opening log file: %w", err)
		}
		out = zapcore.Lock(f)
	}
	return zap.New(zapcore.NewCore(enc, out, atom)), atom, nil
}

// GoRedis takes go-redis's own messages (a dial to a node that is down,
// failed and to be retried) into Log at debug level. go-redis has one
// logger for the whole process and writes them to stderr otherwise,
// outside the process's log and its format; a monitor of nodes reports
// their being down its own way. Install it with redis.SetLogger.
type GoRedis struct{ Log *zap.Logger }

// Printf is go-redis's logging call.
func (g GoRedis) Printf(_ context.Context, format string, v ...any) {
	g.Log.Debug("go-redis: " + fmt.Sprintf(format, v...))
}
