package node

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/vigilkv/vigil/internal/resp"
	"github.com/vigilkv/vigil/node/keyspace"
)

// Reply texts shared by many commands, byte-identical to Redis 7.
const (
	ErrWrongType    = "WRONGTYPE Operation against a key holding the wrong kind of value"
	ErrSyntax       = "ERR syntax error"
	ErrNotInt       = "ERR value is not an integer or out of range"
	ErrNotFloat     = "ERR value is not a valid float"
	ErrNoSuchKey    = "ERR no such key"
	ErrOverflow     = "ERR increment or decrement would overflow"
	ErrIndexRange   = "ERR index out of range"
	ErrDBIndex      = "ERR DB index is out of range"
	ErrNotPositive  = "ERR value is out of range, must be positive"
	ErrTimeoutNeg   = "ERR timeout is negative"
	ErrTimeoutNaN   = "ERR timeout is not a float or out of range"
	ErrNoAuth       = "NOAUTH Authentication required."
	ErrReadonly     = "READONLY You can't write against a read only replica."
	ErrOOM          = "OOM command not allowed when used memory > 'maxmemory'."
	ErrExecAbort    = "EXECABORT Transaction discarded because of previous errors."
	ErrNestedMulti  = "ERR MULTI calls can not be nested"
	ErrExecNoMulti  = "ERR EXEC without MULTI"
	ErrDiscardNoMul = "ERR DISCARD without MULTI"
	ErrWatchInMulti = "ERR WATCH inside MULTI is not allowed"
	ErrLoading      = "LOADING Redis is loading the dataset in memory"
	ErrMasterDown   = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
	ErrNoReplicas   = "NOREPLICAS Not enough good replicas to write."
	ErrMisconf      = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error."
)

// Ctx is one command invocation: its arguments, the calling client, the
// selected database and the reply writer. Argument bytes alias the
// client's read buffer and are valid only during the call: anything kept
// (a key, a value, a member) must be copied (string(b) copies;
// keyspace.DB's insert methods copy keys themselves).
type Ctx struct {
	Srv    *Server
	Client *Client
	Cmd    *Command
	Args   [][]byte
	DB     *keyspace.DB
	W      *resp.Writer
	// InMulti is set while the command runs inside EXEC; blocking
	// commands then behave as if their timeout expired.
	InMulti bool
	// Reprocessing is set when a blocked client's command is retried
	// because a key it waits for became ready.
	Reprocessing bool

	// start is when the command began (its duration for SLOWLOG and
	// commandstats).
	start     time.Time
	changes   int64
	rewritten [][][]byte
	blocked   *blockState
	failed    bool
}

func (c *Ctx) reset() {
	c.changes = 0
	c.rewritten = c.rewritten[:0]
	c.blocked = nil
	c.failed = false
	c.InMulti = false
	c.Reprocessing = false
	c.start = time.Time{}
}

// Key returns argument i as a string without copying: valid only during
// the call. Keyspace insert methods copy it themselves.
func (c *Ctx) Key(i int) string {
	b := c.Args[i]
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// Str returns argument i as a freshly allocated string.
func (c *Ctx) Str(i int) string { return string(c.Args[i]) }

// ArgIs reports whether argument i equals word, ignoring case.
func (c *Ctx) ArgIs(i int, word string) bool {
	return i < len(c.Args) && strings.EqualFold(c.Key(i), word)
}

// Error replies with an error (msg with its code, e.g. "ERR ..."), and
// counts the call as failed.
func (c *Ctx) Error(msg string) {
	c.failed = true
	c.W.Error(msg)
}

// WrongType replies WRONGTYPE.
func (c *Ctx) WrongType() { c.Error(ErrWrongType) }

// SyntaxError replies ERR syntax error.
func (c *Ctx) SyntaxError() { c.Error(ErrSyntax) }

// WrongArity replies with Redis's wrong-number-of-arguments error.
func (c *Ctx) WrongArity() {
	c.Error("ERR wrong number of arguments for '" + c.Cmd.FullName() + "' command")
}

// Int parses argument i as an int64, replying ErrNotInt on failure.
func (c *Ctx) Int(i int) (int64, bool) {
	n, ok := ParseInt(c.Args[i])
	if !ok {
		c.Error(ErrNotInt)
	}
	return n, ok
}

// DBIndex parses argument i as a database number the way Redis does: an
// integer that fits 32 bits, then one of the databases.
func (c *Ctx) DBIndex(i int) (int, bool) {
	n, ok := c.Int32Err(i, "")
	if !ok {
		return 0, false
	}
	if n < 0 || n >= int64(len(c.Srv.ks.DBs)) {
		c.Error(ErrDBIndex)
		return 0, false
	}
	return int(n), true
}

// Int32Err parses argument i as an integer that fits 32 bits (Redis's
// getIntFromObjectOrReply), replying msg, if set, on either failure.
func (c *Ctx) Int32Err(i int, msg string) (int64, bool) {
	n, ok := ParseInt(c.Args[i])
	switch {
	case !ok && msg == "":
		c.Error(ErrNotInt)
	case (n < math.MinInt32 || n > math.MaxInt32) && msg == "":
		c.Error("ERR value is out of range, value must between -2147483648 and 2147483647")
	case !ok || n < math.MinInt32 || n > math.MaxInt32:
		c.Error(msg)
	default:
		return n, true
	}
	return 0, false
}

// IntErr parses argument i as an int64, replying msg on failure.
func (c *Ctx) IntErr(i int, msg string) (int64, bool) {
	n, ok := ParseInt(c.Args[i])
	if !ok {
		c.Error(msg)
	}
	return n, ok
}

// Float parses argument i as a float64 the way Redis does (inf, -inf
// accepted, NaN refused), replying ErrNotFloat on failure.
func (c *Ctx) Float(i int) (float64, bool) {
	f, ok := ParseFloat(c.Args[i])
	if !ok {
		c.Error(ErrNotFloat)
	}
	return f, ok
}

// Changed records that the command modified the dataset n times (the
// "dirty" counter behind rdb_changes_since_last_save). A command that
// changed something is propagated to replicas and the AOF verbatim unless
// it called Propagate.
func (c *Ctx) Changed(n int64) { c.changes += n }

// Propagate replaces verbatim propagation with the given command; call it
// several times to propagate several commands (SPOP as SREM, EXPIRE as
// PEXPIREAT, a served BLPOP as LPOP). The arguments are copied.
func (c *Ctx) Propagate(args ...[]byte) {
	cp := make([][]byte, len(args))
	for i, a := range args {
		cp[i] = append([]byte(nil), a...)
	}
	c.rewritten = append(c.rewritten, cp)
}

// PropagateStrings is Propagate for string arguments.
func (c *Ctx) PropagateStrings(args ...string) {
	cp := make([][]byte, len(args))
	for i, a := range args {
		cp[i] = []byte(a)
	}
	c.rewritten = append(c.rewritten, cp)
}

// Notify publishes a keyspace notification of the given class (Redis's
// flag letter, e.g. 'g' generic, '$' string, 'l' list, 'x' expired) if the
// server's notify-keyspace-events enables it.
func (c *Ctx) Notify(class byte, event, key string) {
	c.Srv.notifyKeyspaceEvent(class, event, key, c.DB.ID)
}

// ParseInt parses a decimal int64 strictly, as Redis's string2ll: no
// spaces, no leading '+', no leading zeros.
func ParseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := false
	i := 0
	if b[0] == '-' {
		neg = true
		i = 1
		if len(b) == 1 {
			return 0, false
		}
	}
	if b[i] < '1' || b[i] > '9' {
		return 0, false
	}
	var v uint64
	for ; i < len(b); i++ {
		d := b[i] - '0'
		if d > 9 {
			return 0, false
		}
		if v > (math.MaxUint64-uint64(d))/10 {
			return 0, false
		}
		v = v*10 + uint64(d)
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// ParseFloat parses a double as Redis's string2ld/strtod checks do:
// no spaces, "inf"/"-inf"/"+inf" accepted, NaN rejected.
func ParseFloat(b []byte) (float64, bool) {
	if len(b) == 0 || len(b) > 5000 {
		return 0, false
	}
	if isSpaceByte(b[0]) || isSpaceByte(b[len(b)-1]) {
		return 0, false
	}
	s := unsafe.String(&b[0], len(b))
	switch strings.ToLower(s) {
	case "inf", "+inf", "infinity", "+infinity":
		return math.Inf(1), true
	case "-inf", "-infinity":
		return math.Inf(-1), true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && strings.ContainsAny(s, "xX") && !strings.ContainsAny(s, "pP") {
		// strtod reads hex floats without a binary exponent; Go wants one.
		f, err = strconv.ParseFloat(s+"p0", 64)
	}
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			// strtod saturates to +-inf or 0 on range errors; Redis then
			// rejects the ERANGE result.
			return 0, false
		}
		return 0, false
	}
	if math.IsNaN(f) {
		return 0, false
	}
	// Go accepts "0x1p-2", "1_000" and "Inf"; strtod-style parsing in
	// Redis accepts hex floats but not underscores.
	if strings.ContainsRune(s, '_') {
		return 0, false
	}
	return f, true
}

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// FormatInt is strconv.FormatInt in base 10.
func FormatInt(n int64) string { return strconv.FormatInt(n, 10) }
