package sentinel

import (
	"fmt"
	"maps"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/vigilkv/vigil/internal/resp"
)

// The SENTINEL subcommands that change the sentinel at runtime (MONITOR,
// REMOVE, SET, CONFIG SET, FLUSHCONFIG) and the inspection ones that go
// with them (CONFIG GET, INFO-CACHE, SIMULATE-FAILURE). Every change is in
// the state file before the reply leaves, as Redis Sentinel rewrites its
// configuration file before replying.

// errSave is the reply when the state file cannot be written.
const errSave = "ERR Failed to save config file. Check server logs."

// monitorCmd: SENTINEL MONITOR <name> <ip> <port> <quorum>. The checks
// come in Redis's order, with its texts. It takes the lock itself, after
// a DNS lookup that must not run under it.
func (s *Sentinel) monitorCmd(w *resp.Writer, args [][]byte) {
	name, host := string(args[2]), string(args[3])
	s.mu.Lock()
	resolve, announce := s.cfg.ResolveHostnames, s.cfg.AnnounceHostnames
	s.mu.Unlock()
	host, hostErr := monitorHost(host, resolve, announce, net.LookupHost)
	s.mu.Lock()
	defer s.mu.Unlock()
	quorum, err := strconv.ParseInt(string(args[5]), 10, 64)
	if err != nil {
		w.Error("ERR Invalid quorum")
		return
	}
	port, err := strconv.ParseInt(string(args[4]), 10, 64)
	if err != nil {
		w.Error("ERR Invalid port")
		return
	}
	if quorum <= 0 {
		w.Error("ERR Quorum must be 1 or greater.")
		return
	}
	if hostErr != nil {
		w.Error(hostErr.Error())
		return
	}
	if s.grps[name] != nil {
		w.Error("ERR Duplicate master name.")
		return
	}
	// Port 0 passes, as in Redis (it is never reachable).
	if port < 0 || port > 65535 {
		w.Error("ERR Invalid port number.")
		return
	}
	g := Group{Name: name, Host: host, Port: int(port), Quorum: int(min(quorum, 1<<20)), DownAfter: s.tm.get(paramDownAfter),
		FailoverTimeout: s.tm.get(paramFailoverTimeout), ParallelSyncs: 1}
	if err := s.addGroup(g); err != nil {
		s.log.Error("SENTINEL MONITOR", zap.String("group", name), zap.Error(err))
		w.Error(errSave)
		return
	}
	w.OK()
}

// removeCmd: SENTINEL REMOVE <name>. Under the lock.
func (s *Sentinel) removeCmd(w *resp.Writer, args [][]byte) {
	g := s.grps[string(args[2])]
	if g == nil {
		w.Error("ERR No such master with that name")
		return
	}
	if err := s.removeGroup(g); err != nil {
		s.log.Error("SENTINEL REMOVE", zap.String("group", g.cfg.Name), zap.Error(err))
		w.Error(errSave)
		return
	}
	w.OK()
}

// setCmd: SENTINEL SET <name> <option> <value> [<option> <value> ...].
// Every pair is checked before any applies. Under the lock.
func (s *Sentinel) setCmd(w *resp.Writer, args [][]byte) {
	g := s.grps[string(args[2])]
	if g == nil {
		w.Error("ERR No such master with that name")
		return
	}
	pairs := make([]string, len(args)-3)
	for i, a := range args[3:] {
		pairs[i] = string(a)
	}
	cfg, err := setOptionPairs(g.cfg, pairs)
	if err != nil {
		w.Error(err.Error())
		return
	}
	gc := s.st.Groups[g.cfg.Name]
	old := gc.Set
	gc.Set = maps.Clone(gc.Set)
	if gc.Set == nil {
		gc.Set = map[string]string{}
	}
	for i := 0; i < len(pairs); i += 2 {
		gc.Set[strings.ToLower(pairs[i])] = pairs[i+1]
	}
	if err := s.saveLocked(); err != nil {
		gc.Set = old
		s.log.Error("SENTINEL SET", zap.String("group", g.cfg.Name), zap.Error(err))
		w.Error(errSave)
		return
	}
	authChanged := cfg.AuthPass != g.cfg.AuthPass || cfg.AuthUser != g.cfg.AuthUser
	g.cfg = cfg
	if authChanged {
		s.setAuth(g)
	}
	m := g.master
	for i := 0; i < len(pairs); i += 2 {
		v := pairs[i+1]
		if strings.EqualFold(pairs[i], "auth-pass") {
			v = "******"
		}
		s.event("+set", fmt.Sprintf("master %s %s %d %s %s", cfg.Name, m.host, m.port, pairs[i], v))
	}
	w.OK()
}

// configCmd: SENTINEL CONFIG GET <pattern> | SET <name> <value>. Under the
// lock.
func (s *Sentinel) configCmd(w *resp.Writer, args [][]byte) {
	op := strings.ToLower(string(args[2]))
	switch {
	case op == "get" && len(args) == 4:
		names := matchGlobalOptions(string(args[3]))
		if w.Proto >= 3 {
			w.Map(len(names))
		} else {
			w.Array(2 * len(names))
		}
		for _, n := range names {
			w.BulkString(n)
			w.BulkString(s.cfg.globalOption(n))
		}
	case op == "set" && len(args) == 5:
		name, value := strings.ToLower(string(args[3])), string(args[4])
		cfg := s.cfg
		if err := cfg.setGlobalOption(name, value); err != nil {
			w.Error(err.Error())
			return
		}
		old := s.st.Config
		s.st.Config = maps.Clone(s.st.Config)
		if s.st.Config == nil {
			s.st.Config = map[string]string{}
		}
		s.st.Config[name] = value
		if err := s.saveLocked(); err != nil {
			s.st.Config = old
			s.log.Error("SENTINEL CONFIG SET", zap.String("name", name), zap.Error(err))
			w.Error(errSave)
			return
		}
		// Only the field named changes: the gossip start-up reads others
		// without the lock.
		s.cfg.setGlobalOption(name, value)
		if name == "sentinel-user" || name == "sentinel-pass" {
			s.resetPeerClients()
		}
		if addr := s.announceAddr(); addr != s.addr {
			// Peers learn the new address with the next gossip.
			s.addr = addr
			s.gossipConfig("")
		}
		w.OK()
	default:
		w.Error("ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.")
	}
}

// flushConfigCmd: SENTINEL FLUSHCONFIG rewrites the state file. Under the
// lock.
func (s *Sentinel) flushConfigCmd(w *resp.Writer, args [][]byte) {
	if err := s.saveLocked(); err != nil {
		s.log.Error("SENTINEL FLUSHCONFIG", zap.Error(err))
		w.Error(errSave)
		return
	}
	w.OK()
}

// infoCacheCmd: SENTINEL INFO-CACHE <name> [<name> ...]: per group named,
// its name and, for the master and then each replica, the age of the
// last INFO reply in milliseconds and the reply (vigil asks for the
// replication section only). Unknown names are skipped. Under the lock.
func (s *Sentinel) infoCacheCmd(w *resp.Writer, args [][]byte) {
	var groups []*group
	seen := map[string]bool{}
	for _, a := range args[2:] {
		if g := s.grps[string(a)]; g != nil && !seen[g.cfg.Name] {
			seen[g.cfg.Name] = true
			groups = append(groups, g)
		}
	}
	now := time.Now()
	w.Array(2 * len(groups))
	for _, g := range groups {
		w.BulkString(g.cfg.Name)
		ins := []*instance{g.master}
		for _, r := range sortedReplicas(g) {
			ins = append(ins, r)
		}
		w.Array(len(ins))
		for _, in := range ins {
			w.Array(2)
			if in.infoTime.IsZero() {
				w.Int(0)
				w.Null()
				continue
			}
			w.Int(now.Sub(in.infoTime).Milliseconds())
			w.BulkString(in.info)
		}
	}
}

// Failure simulation (SENTINEL SIMULATE-FAILURE), for testing what
// happens when a leader dies mid-failover.
type simulateFlags int

const (
	simCrashAfterElection simulateFlags = 1 << iota
	simCrashAfterPromotion
)

func (f simulateFlags) has(x simulateFlags) bool { return f&x != 0 }

// simulateCmd: SENTINEL SIMULATE-FAILURE [CRASH-AFTER-ELECTION]
// [CRASH-AFTER-PROMOTION] [HELP]. Under the lock.
func (s *Sentinel) simulateCmd(w *resp.Writer, args [][]byte) {
	// As in Redis, the flags are cleared first and set argument by
	// argument: HELP, or an unknown name, leaves those named before it.
	s.simulate = 0
	for _, a := range args[2:] {
		switch strings.ToLower(string(a)) {
		case "crash-after-election":
			s.simulate |= simCrashAfterElection
		case "crash-after-promotion":
			s.simulate |= simCrashAfterPromotion
		case "help":
			w.BulkStrings([]string{"crash-after-election", "crash-after-promotion"})
			return
		default:
			w.Error("ERR Unknown failure simulation specified")
			return
		}
	}
	w.OK()
}

// crash ends the process as SIMULATE-FAILURE asked (exit status 99, as
// Redis Sentinel), with the state file as it is: that is the point.
func (s *Sentinel) crash(why string) {
	s.log.Warn("Simulated crash", zap.String("after", why))
	s.log.Sync()
	os.Exit(99)
}
