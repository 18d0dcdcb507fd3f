package sentinel

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/vigilkv/vigil/internal/glob"
)

// Runtime settings: SENTINEL SET (per group) and SENTINEL CONFIG SET
// (global). Both validate with Redis Sentinel 7's rules and error texts,
// and both are kept in the state file as the option/value pairs given, so
// a restart re-applies them over the flags and the sentinel.conf, as
// Redis Sentinel's rewritten configuration file would.

// replyError is an error whose text is the RESP error sent back.
type replyError string

func (e replyError) Error() string { return string(e) }

// setGroupOption applies one SENTINEL SET option to g; the error text is
// Redis's reply.
func setGroupOption(g *Group, option, value string) error {
	badArg := replyError(fmt.Sprintf("ERR Invalid argument '%s' for SENTINEL SET '%s'", value, option))
	positive := func() (int64, error) {
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n <= 0 {
			return 0, badArg
		}
		return n, nil
	}
	switch strings.ToLower(option) {
	case "down-after-milliseconds":
		n, err := positive()
		if err != nil {
			return err
		}
		g.DownAfter = time.Duration(n) * time.Millisecond
	case "failover-timeout":
		n, err := positive()
		if err != nil {
			return err
		}
		g.FailoverTimeout = time.Duration(n) * time.Millisecond
	case "parallel-syncs":
		n, err := positive()
		if err != nil {
			return err
		}
		g.ParallelSyncs = int(min(n, 1<<20))
	case "quorum":
		n, err := positive()
		if err != nil {
			return err
		}
		g.Quorum = int(min(n, 1<<20))
	case "auth-pass":
		g.AuthPass = value
	case "auth-user":
		g.AuthUser = value
	case "notification-script", "client-reconfig-script":
		// Redis refuses these unless deny-scripts-reconfig is off; vigil
		// runs no scripts at all.
		return replyError("ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration")
	default:
		return replyError(fmt.Sprintf("ERR Unknown option or number of arguments for SENTINEL SET '%s'", option))
	}
	return nil
}

// setOptionPairs validates every option/value pair on a copy of g and
// returns the result, so a bad pair changes nothing (Redis applies the
// pairs before the bad one).
func setOptionPairs(g Group, pairs []string) (Group, error) {
	if len(pairs)%2 != 0 {
		return g, replyError(fmt.Sprintf("ERR Unknown option or number of arguments for SENTINEL SET '%s'", pairs[len(pairs)-1]))
	}
	for i := 0; i < len(pairs); i += 2 {
		if err := setGroupOption(&g, pairs[i], pairs[i+1]); err != nil {
			return g, err
		}
	}
	return g, nil
}

// Global settings of SENTINEL CONFIG GET/SET, in Redis Sentinel's order.
var globalOptions = []string{"resolve-hostnames", "announce-hostnames", "announce-ip", "announce-port", "sentinel-user", "sentinel-pass"}

// globalOption reads one global setting; under the lock.
func (c *Config) globalOption(name string) string {
	switch name {
	case "resolve-hostnames":
		return yesNo(c.ResolveHostnames)
	case "announce-hostnames":
		return yesNo(c.AnnounceHostnames)
	case "announce-ip":
		return c.AnnounceIP
	case "announce-port":
		return strconv.Itoa(c.AnnouncePort)
	case "sentinel-user":
		return c.SentinelUser
	case "sentinel-pass":
		return c.SentinelPass
	}
	return ""
}

// setGlobalOption applies SENTINEL CONFIG SET name value; the error text
// is Redis's reply.
func (c *Config) setGlobalOption(name, value string) error {
	badValue := replyError(fmt.Sprintf("ERR Invalid value '%s' to SENTINEL CONFIG SET '%s'", value, name))
	switch strings.ToLower(name) {
	case "resolve-hostnames", "announce-hostnames":
		var b bool
		switch strings.ToLower(value) {
		case "yes":
			b = true
		case "no":
		default:
			return badValue
		}
		if strings.EqualFold(name, "resolve-hostnames") {
			c.ResolveHostnames = b
		} else {
			c.AnnounceHostnames = b
		}
	case "announce-ip":
		c.AnnounceIP = value
	case "announce-port":
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 || n > 65535 {
			return badValue
		}
		c.AnnouncePort = n
	case "sentinel-user":
		c.SentinelUser = value
	case "sentinel-pass":
		c.SentinelPass = value
	default:
		return replyError(fmt.Sprintf("ERR Invalid argument '%s' to SENTINEL CONFIG SET", name))
	}
	return nil
}

// matchGlobalOptions lists the global settings whose names match the
// glob pattern, as SENTINEL CONFIG GET does.
func matchGlobalOptions(pattern string) []string {
	var out []string
	for _, name := range globalOptions {
		if glob.MatchString(pattern, name, true) {
			out = append(out, name)
		}
	}
	return out
}

// monitorHost applies resolve-hostnames and announce-hostnames to
// SENTINEL MONITOR's address, as Redis does: an IP address is kept; a
// hostname needs resolve-hostnames and must resolve now; it is kept as
// given with announce-hostnames, else replaced by its first address (the
// address Redis then reports). lookup may be slow (DNS): never call this
// under the sentinel's lock.
func monitorHost(host string, resolve, announce bool, lookup func(string) ([]string, error)) (string, error) {
	if net.ParseIP(host) != nil {
		return host, nil
	}
	if resolve {
		if addrs, err := lookup(host); err == nil && len(addrs) > 0 {
			if announce {
				return host, nil
			}
			return firstIPv4(addrs), nil
		}
	}
	return "", replyError("ERR Invalid IP address or hostname specified")
}

// firstIPv4 prefers an IPv4 address, as Redis's resolver does.
func firstIPv4(addrs []string) string {
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip != nil && ip.To4() != nil {
			return a
		}
	}
	return addrs[0]
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// announceAddr is the RESP address peers and clients reach this sentinel
// at: announce-ip (else the bind address) and announce-port (else the
// listening port); under the lock.
func (s *Sentinel) announceAddr() string {
	ip, port := s.cfg.AnnounceIP, s.cfg.AnnouncePort
	if ip == "" {
		ip = s.cfg.Bind
	}
	if port == 0 {
		port = s.cfg.Port
	}
	return net.JoinHostPort(ip, strconv.Itoa(port))
}
