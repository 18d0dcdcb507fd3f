// Package logging builds the zap loggers of vigil's binaries from the
// Redis-style settings: loglevel (debug, verbose, notice, warning),
// log-format (console or json) and logfile ("" for standard output).
package logging

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

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

// Memberlist takes hashicorp/memberlist's log lines ("[WARN] memberlist:
// ...") into a zap logger at their level, for a memberlist.Config's
// Logger (log.New(m, "", 0)): a failed probe, a push/pull that could not
// connect, a packet that would not decrypt (a peer with another gossip
// key) belong in the process's log. A line repeated within Quiet is
// logged once: a peer with the wrong key sends one every few hundred
// milliseconds.
type Memberlist struct {
	Log   *zap.Logger
	Quiet time.Duration

	mu   sync.Mutex
	seen map[string]time.Time
}

// hostPort matches an address's port, to leave it out of what makes two
// lines the same.
var hostPort = regexp.MustCompile(`([0-9a-fA-F.\]]+):[0-9]+`)

// Write logs one line; the standard logger calls it once per message.
func (m *Memberlist) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level, msg := zap.DebugLevel, line
	for _, l := range [...]struct {
		tag   string
		level zapcore.Level
	}{{"[DEBUG]", zap.DebugLevel}, {"[INFO]", zap.InfoLevel}, {"[WARN]", zap.WarnLevel}, {"[ERR]", zap.ErrorLevel}} {
		if rest, ok := strings.CutPrefix(line, l.tag); ok {
			level, msg = l.level, strings.TrimSpace(rest)
			break
		}
	}
	if !m.Log.Core().Enabled(level) {
		return len(p), nil
	}
	if strings.Contains(msg, "decrypt") {
		msg += " (a peer with another gossip key, or none)"
	}
	// A repeat from the same peer differs only in its connection's
	// source port.
	key := hostPort.ReplaceAllString(msg, "$1")
	now := time.Now()
	m.mu.Lock()
	if m.seen == nil {
		m.seen = map[string]time.Time{}
	}
	if t, ok := m.seen[key]; ok && now.Sub(t) < m.Quiet {
		m.mu.Unlock()
		return len(p), nil
	}
	if len(m.seen) > 1000 {
		for k, t := range m.seen {
			if now.Sub(t) >= m.Quiet {
				delete(m.seen, k)
			}
		}
	}
	m.seen[key] = now
	m.mu.Unlock()
	m.Log.Log(level, msg)
	return len(p), nil
}
