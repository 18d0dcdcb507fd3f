package sentinel

import (
	"crypto/subtle"
	"fmt"
	"strings"

	"github.com/vigilkv/vigil/internal/resp"
)

// Authentication on the sentinel port, as Redis Sentinel 7 with
// requirepass: there is one user, "default", whose password is
// requirepass (none: every connection starts authenticated). Until a
// connection authenticates, every command but AUTH and HELLO is refused
// with -NOAUTH, after the checks Redis makes first (unknown command or
// subcommand, wrong number of arguments), so a client sees the same
// error as from Redis whatever it sends.

// Redis's replies.
const (
	errNoAuth      = "NOAUTH Authentication required."
	errWrongPass   = "WRONGPASS invalid username-password pair or user is disabled."
	errHelloNoAuth = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
	errAuthNoPass  = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
)

// commandSpec is a command's arity as Redis declares it (n > 0: exactly
// n arguments, command name included; n < 0: at least -n) and, for a
// container command, its subcommands' arities.
type commandSpec struct {
	arity int
	subs  map[string]int
}

// commandTable are the commands vigil-sentinel knows, with Redis
// Sentinel 7.0's arities (COMMAND INFO on a redis-sentinel 7.0.15), for
// the checks made before any command runs (commandError). QUIT and SELECT are vigil's own
// (Redis Sentinel 7.0 does not know them); CLIENT SETINFO is 7.2's.
var commandTable = map[string]commandSpec{
	"ping": {arity: -1}, "quit": {arity: -1}, "hello": {arity: -1}, "auth": {arity: -2},
	"select": {arity: 2}, "info": {arity: -1}, "role": {arity: 1}, "publish": {arity: 3},
	"subscribe": {arity: -2}, "psubscribe": {arity: -2}, "unsubscribe": {arity: -1}, "punsubscribe": {arity: -1},
	"sentinel": {arity: -2, subs: map[string]int{
		"ckquorum": 3, "config": -3, "debug": -2, "failover": 3, "flushconfig": 2, "get-master-addr-by-name": 3,
		"help": 2, "info-cache": -3, "is-master-down-by-addr": 6, "master": 3, "masters": 2, "monitor": 6,
		"myid": 2, "pending-scripts": 2, "remove": 3, "replicas": 3, "reset": 3, "sentinels": 3, "set": -5,
		"simulate-failure": -3, "slaves": 3,
	}},
	"client": {arity: -2, subs: map[string]int{
		"id": 2, "getname": 2, "setname": 3, "setinfo": -4, "list": -2, "info": 2, "kill": -3, "no-evict": 3,
		"no-touch": 3, "help": 2,
	}},
}

// noAuthCommands run before authentication, as in Redis (its no_auth
// flag); QUIT too, since closing needs no permission (as in Redis 7.2).
var noAuthCommands = map[string]bool{"auth": true, "hello": true, "quit": true}

// commandError is Redis's unknown-command, unknown-subcommand or arity
// error for args, "" when there is none: checked before every command
// runs, as Redis checks its command table, so that the handlers need not.
func commandError(args [][]byte) string {
	name := strings.ToLower(string(args[0]))
	spec, ok := commandTable[name]
	if !ok {
		return unknownCommand(args)
	}
	full, arity := name, spec.arity
	if spec.subs != nil && len(args) >= 2 {
		sub := strings.ToLower(string(args[1]))
		n, ok := spec.subs[sub]
		if !ok {
			return fmt.Sprintf("ERR unknown subcommand '%s'. Try %s HELP.", trunc(args[1]), strings.ToUpper(name))
		}
		full, arity = name+"|"+sub, n
	}
	if (arity > 0 && len(args) != arity) || len(args) < -arity {
		return fmt.Sprintf("ERR wrong number of arguments for '%s' command", full)
	}
	return ""
}

// preAuthError is the error for a command sent before authentication:
// commandError's when it has one, else -NOAUTH; "" for a command allowed
// before authentication.
func preAuthError(args [][]byte) string {
	if e := commandError(args); e != "" {
		return e
	}
	if noAuthCommands[strings.ToLower(string(args[0]))] {
		return ""
	}
	return errNoAuth
}

// requirePass is the password of the sentinel port ("" for none).
func (s *Sentinel) requirePass() string {
	if p := s.reqPass.Load(); p != nil {
		return *p
	}
	return ""
}

// checkPassword reports whether user and pass authenticate as the
// default user, the only one: any password when there is no
// requirepass (Redis's nopass), else requirepass, compared in constant
// time.
func (s *Sentinel) checkPassword(user, pass string) bool {
	if user != "default" {
		return false
	}
	want := s.requirePass()
	return want == "" || subtle.ConstantTimeCompare([]byte(pass), []byte(want)) == 1
}

// authCmd is AUTH [user] pass; the arity (at least one argument) was
// checked before.
func (c *conn) authCmd(w *resp.Writer, args [][]byte) {
	if len(args) > 3 {
		w.Error("ERR syntax error")
		return
	}
	user, pass := "default", string(args[1])
	if len(args) == 3 {
		user, pass = string(args[1]), string(args[2])
	} else if c.s.requirePass() == "" {
		// The one-argument form only makes sense with a password set;
		// Redis says so rather than pretend it checked something.
		w.Error(errAuthNoPass)
		return
	}
	if !c.s.checkPassword(user, pass) {
		// A failed AUTH leaves an authenticated connection as it was.
		w.Error(errWrongPass)
		return
	}
	c.authed.Store(true)
	w.OK()
}

// peerAuth is the user and password this sentinel gives its peers:
// sentinel-user and sentinel-pass, or requirepass when sentinel-pass is
// not set (Redis's rule, for configurations older than sentinel-pass,
// where requirepass served both ways); under the lock.
func (s *Sentinel) peerAuth() (user, pass string) {
	if s.cfg.SentinelPass != "" {
		return s.cfg.SentinelUser, s.cfg.SentinelPass
	}
	return "", s.cfg.RequirePass
}

// resetPeerClients reconnects to every peer with the current
// credentials (Redis drops its peer links when sentinel-user or
// sentinel-pass change); under the lock.
func (s *Sentinel) resetPeerClients() {
	for id, p := range s.peers {
		p.client.Close()
		delete(s.peers, id)
		s.setPeer(id, p.addr)
	}
}
