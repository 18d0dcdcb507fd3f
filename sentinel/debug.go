package sentinel

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vigilkv/vigil/internal/resp"
)

// SENTINEL DEBUG and SENTINEL HELP, as Redis Sentinel 7.0's.

// debugParam is one of the timing parameters SENTINEL DEBUG shows and
// sets.
type debugParam int

// The parameters of Redis Sentinel 7.0's SENTINEL DEBUG that vigil has,
// in Redis's order. Redis's PUBLISH-PERIOD (hello messages: vigil
// gossips), MIN-LINK-RECONNECT-PERIOD, ELECTION-TIMEOUT (vigil's follows
// each group's failover-timeout: failover.ElectionTiming) and the
// SCRIPT-* ones (vigil runs no scripts) have no counterpart, and are
// refused as unknown.
const (
	paramInfo debugParam = iota
	paramPing
	paramAsk
	paramDownAfter
	paramFailoverTimeout
	paramTiltTrigger
	paramTiltPeriod
	paramReconfTimeout
	numDebugParams
)

// debugParams are the parameters' names and defaults.
var debugParams = [numDebugParams]struct {
	name string
	def  time.Duration
}{
	paramInfo: {"INFO-PERIOD", 10 * time.Second},
	paramPing: {"PING-PERIOD", time.Second},
	// Redis asks its peers whether the master is down every ASK-PERIOD;
	// vigil does that, and polls every instance, every fast period while
	// a master is in doubt or a failover runs.
	paramAsk:             {"ASK-PERIOD", 50 * time.Millisecond},
	paramDownAfter:       {"DEFAULT-DOWN-AFTER", DefaultDownAfter},
	paramFailoverTimeout: {"DEFAULT-FAILOVER-TIMEOUT", DefaultFailoverTimeout},
	paramTiltTrigger:     {"TILT-TRIGGER", 2 * time.Second},
	paramTiltPeriod:      {"TILT-PERIOD", 30 * time.Second},
	paramReconfTimeout:   {"SLAVE-RECONF-TIMEOUT", 10 * time.Second},
}

// timing holds the timing parameters; its zero value is the defaults
// (Redis's, but for ASK-PERIOD). Like Redis's, SENTINEL DEBUG's changes
// last until the process ends: they are for tests and experiments, not
// configuration. Under the sentinel's lock.
type timing struct {
	// set holds the values SENTINEL DEBUG gave; zero means the default.
	set [numDebugParams]time.Duration
}

// get is the current value of p.
func (t *timing) get(p debugParam) time.Duration {
	if v := t.set[p]; v > 0 {
		return v
	}
	return debugParams[p].def
}

// debugCmd is SENTINEL DEBUG [param value ...]: without pairs, the
// parameters and their values in milliseconds; with pairs, it sets them
// (positive integers, with Redis's error texts). Unlike Redis, which
// applies the pairs before a bad one, a bad pair changes nothing, as
// SENTINEL SET. Under the lock.
func (s *Sentinel) debugCmd(w *resp.Writer, args [][]byte) {
	pairs := args[2:]
	if len(pairs) == 0 {
		fields := make([][2]string, numDebugParams)
		for p := range debugParams {
			fields[p] = [2]string{debugParams[p].name, ms(s.tm.get(debugParam(p)))}
		}
		writeFields(w, fields)
		return
	}
	next := s.tm
	for i := 0; i < len(pairs); i += 2 {
		name := string(pairs[i])
		p, ok := lookupDebugParam(name)
		if !ok || i+1 >= len(pairs) {
			w.Error(fmt.Sprintf("ERR Unknown option or number of arguments for SENTINEL DEBUG '%s'", name))
			return
		}
		n, err := strconv.ParseInt(string(pairs[i+1]), 10, 64)
		if err != nil || n <= 0 || n > int64(time.Duration(1<<62)/time.Millisecond) {
			w.Error(fmt.Sprintf("ERR Invalid argument '%s' for SENTINEL DEBUG '%s'", pairs[i+1], name))
			return
		}
		next.set[p] = time.Duration(n) * time.Millisecond
	}
	s.tm = next
	w.OK()
}

// lookupDebugParam finds a parameter by name, in any case.
func lookupDebugParam(name string) (debugParam, bool) {
	for p := range debugParams {
		if strings.EqualFold(debugParams[p].name, name) {
			return debugParam(p), true
		}
	}
	return 0, false
}

// sentinelHelp is SENTINEL HELP's reply: Redis Sentinel 7.0's lines for
// the subcommands vigil has (all of them; PENDING-SCRIPTS is always
// empty), with what vigil does differently.
var sentinelHelp = []string{
	"SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"CKQUORUM <master-name>",
	"    Check if the current Sentinel configuration is able to reach the quorum",
	"    needed to failover a master and the majority needed to authorize the",
	"    failover.",
	"CONFIG SET <param> <value>",
	"    Set a global Sentinel configuration parameter.",
	"CONFIG GET <param>",
	"    Get global Sentinel configuration parameter.",
	"DEBUG [<param> <value> ...]",
	"    Show a list of configurable time parameters and their values (milliseconds).",
	"    Or update current configurable parameters values (one or more).",
	"GET-MASTER-ADDR-BY-NAME <master-name>",
	"    Return the ip and port number of the master with that name.",
	"FAILOVER <master-name>",
	"    Manually failover a master node without asking for agreement from other",
	"    Sentinels",
	"FLUSHCONFIG",
	"    Force Sentinel to rewrite its state file on disk, including the current",
	"    Sentinel state.",
	"INFO-CACHE <master-name>",
	"    Return last cached INFO output from masters and all its replicas.",
	"IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
	"    Check if the master specified by ip:port is down from current Sentinel's",
	"    point of view.",
	"MASTER <master-name>",
	"    Show the state and info of the specified master.",
	"MASTERS",
	"    Show a list of monitored masters and their state.",
	"MONITOR <name> <ip> <port> <quorum>",
	"    Start monitoring a new master with the specified name, ip, port and quorum.",
	"MYID",
	"    Return the ID of the Sentinel instance.",
	"PENDING-SCRIPTS",
	"    Get pending scripts information (always empty: no scripts are run).",
	"REMOVE <master-name>",
	"    Remove master from Sentinel's monitor list.",
	"REPLICAS <master-name>",
	"    Show a list of replicas for this master and their state.",
	"RESET <pattern>",
	"    Reset masters for specific master name matching this pattern.",
	"SENTINELS <master-name>",
	"    Show a list of Sentinel instances for this master and their state.",
	"SET <master-name> <option> <value> [<option> <value> ...]",
	"    Set configuration parameters for certain masters.",
	"SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
	"    Simulate a Sentinel crash.",
	"HELP",
	"    Prints this help.",
}

// helpCmd is SENTINEL HELP: one status line per line of help, as Redis's
// help replies are.
func helpCmd(w *resp.Writer) {
	w.Array(len(sentinelHelp))
	for _, l := range sentinelHelp {
		w.Simple(l)
	}
}
