package node

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// baseMemory is the fixed overhead counted in used_memory besides the
// dataset (the server's own structures, roughly what Redis reports as
// used_memory_startup).
const baseMemory = 900 << 10

// usedMemory is INFO's used_memory: the estimated dataset plus the fixed
// overhead and client buffers. Go's heap is not used because it includes
// collectable garbage; this estimate is what maxmemory is checked against.
func (s *Server) usedMemory() int64 {
	return baseMemory + s.ks.UsedMemory()
}

// processRSS reads the resident set size from /proc (0 if unavailable).
func processRSS() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// humanBytes formats a byte count as Redis's bytesToHuman.
func humanBytes(n int64) string {
	f := float64(n)
	switch {
	case n < 1024:
		return strconv.FormatInt(n, 10) + "B"
	case n < 1<<20:
		return fmt.Sprintf("%.2fK", f/1024)
	case n < 1<<30:
		return fmt.Sprintf("%.2fM", f/(1<<20))
	case n < 1<<40:
		return fmt.Sprintf("%.2fG", f/(1<<30))
	}
	return fmt.Sprintf("%.2fT", f/(1<<40))
}

// infoSections are the sections in Redis's order; default ones are
// returned by a bare INFO.
var infoSections = []struct {
	name       string
	isDefault  bool
	everything bool
}{
	{"server", true, true}, {"clients", true, true}, {"memory", true, true},
	{"persistence", true, true}, {"stats", true, true}, {"replication", true, true},
	{"cpu", true, true}, {"modules", true, true}, {"commandstats", false, true},
	{"errorstats", true, true}, {"cluster", true, true}, {"keyspace", true, true},
}

func cmdInfo(c *Ctx) {
	want := map[string]bool{}
	all := false
	if len(c.Args) == 1 {
		want["default"] = true
	}
	for i := 1; i < len(c.Args); i++ {
		name := strings.ToLower(c.Str(i))
		want[name] = true
	}
	if want["all"] || want["everything"] {
		all = true
	}
	var b strings.Builder
	for _, sec := range infoSections {
		if !(want[sec.name] || all || (want["default"] && sec.isDefault)) {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		c.Srv.writeInfoSection(&b, sec.name, c.Client)
	}
	c.W.Verbatim("txt", b.String())
}

// InfoSection renders one INFO section (for in-process tools and tests).
func (s *Server) InfoSection(name string) string {
	var b strings.Builder
	s.writeInfoSection(&b, name, nil)
	return b.String()
}

func (s *Server) writeInfoSection(b *strings.Builder, name string, self *Client) {
	field := func(k string, v any) {
		b.WriteString(k)
		b.WriteByte(':')
		fmt.Fprint(b, v)
		b.WriteString("\r\n")
	}
	title := strings.ToUpper(name[:1]) + name[1:]
	switch name {
	case "commandstats":
		title = "Commandstats"
	case "errorstats":
		title = "Errorstats"
	case "cpu":
		title = "CPU"
	}
	b.WriteString("# " + title + "\r\n")
	now := s.clock()
	cfg := s.cfg
	switch name {
	case "server":
		uptime := int64(now.Sub(s.startTime).Seconds())
		exe, _ := os.Executable()
		var uts syscall.Utsname
		osName := runtime.GOOS
		if syscall.Uname(&uts) == nil {
			osName = utsString(uts.Sysname[:]) + " " + utsString(uts.Release[:]) + " " + utsString(uts.Machine[:])
		}
		field("redis_version", Version)
		field("redis_git_sha1", "00000000")
		field("redis_git_dirty", 0)
		field("redis_build_id", "0")
		field("redis_mode", "standalone")
		field("os", osName)
		field("arch_bits", strconv.Itoa(strconv.IntSize))
		field("monotonic_clock", "POSIX clock_gettime")
		field("multiplexing_api", "epoll")
		field("atomicvar_api", "c11-builtin")
		field("gcc_version", "0.0.0")
		field("process_id", os.Getpid())
		field("process_supervised", "no")
		field("run_id", s.runID)
		field("tcp_port", s.port())
		field("server_time_usec", now.UnixMicro())
		field("uptime_in_seconds", uptime)
		field("uptime_in_days", uptime/86400)
		field("hz", cfg.Hz)
		field("configured_hz", cfg.Hz)
		field("lru_clock", s.ks.LRUClock())
		field("executable", exe)
		field("config_file", cfg.File)
		field("io_threads_active", 0)
		field("vigil_version", VigilVersion)
		field("go_version", runtime.Version())
		field("go_maxprocs", runtime.GOMAXPROCS(0))
		s.writeInfoUpgrade(field)
	case "clients":
		field("connected_clients", len(s.clients))
		field("cluster_connections", 0)
		field("maxclients", cfg.MaxClients)
		field("client_recent_max_input_buffer", 0)
		field("client_recent_max_output_buffer", 0)
		field("blocked_clients", s.blocking.Blocked())
		field("tracking_clients", 0)
		field("clients_in_timeout_table", s.blocking.Blocked())
	case "memory":
		used := s.usedMemory()
		rss := processRSS()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if used > s.peakMemory {
			s.peakMemory = used
		}
		field("used_memory", used)
		field("used_memory_human", humanBytes(used))
		field("used_memory_rss", rss)
		field("used_memory_rss_human", humanBytes(rss))
		field("used_memory_peak", s.peakMemory)
		field("used_memory_peak_human", humanBytes(s.peakMemory))
		field("used_memory_peak_perc", fmt.Sprintf("%.2f%%", float64(used)*100/float64(max(s.peakMemory, 1))))
		field("used_memory_overhead", baseMemory)
		field("used_memory_startup", baseMemory)
		field("used_memory_dataset", s.ks.UsedMemory())
		field("used_memory_dataset_perc", fmt.Sprintf("%.2f%%", float64(s.ks.UsedMemory())*100/float64(max(used, 1))))
		field("allocator_allocated", ms.HeapAlloc)
		field("allocator_active", ms.HeapInuse)
		field("allocator_resident", ms.HeapSys-ms.HeapReleased)
		field("total_system_memory", totalSystemMemory())
		field("total_system_memory_human", humanBytes(totalSystemMemory()))
		field("maxmemory", cfg.MaxMemory)
		field("maxmemory_human", humanBytes(cfg.MaxMemory))
		field("maxmemory_policy", cfg.MaxMemoryPolicy)
		field("mem_fragmentation_ratio", fmt.Sprintf("%.2f", float64(rss)/float64(max(used, 1))))
		field("mem_fragmentation_bytes", rss-used)
		field("mem_not_counted_for_evict", 0)
		field("mem_replication_backlog", 0)
		field("mem_clients_slaves", 0)
		field("mem_clients_normal", 0)
		field("mem_aof_buffer", 0)
		field("mem_allocator", "go-"+runtime.Version())
		field("active_defrag_running", 0)
		field("lazyfree_pending_objects", 0)
		field("lazyfreed_objects", 0)
	case "persistence":
		s.writeInfoPersistence(field)
	case "stats":
		st := &s.stats
		field("total_connections_received", st.ConnectionsReceived.Load())
		field("total_commands_processed", st.CommandsProcessed)
		field("instantaneous_ops_per_sec", s.opsPerSec)
		field("total_net_input_bytes", st.NetInputBytes.Load())
		field("total_net_output_bytes", st.NetOutputBytes.Load())
		field("total_net_repl_input_bytes", 0)
		field("total_net_repl_output_bytes", 0)
		field("instantaneous_input_kbps", "0.00")
		field("instantaneous_output_kbps", "0.00")
		field("instantaneous_input_repl_kbps", "0.00")
		field("instantaneous_output_repl_kbps", "0.00")
		field("rejected_connections", st.RejectedConns.Load())
		field("sync_full", s.stats.SyncFull.Load())
		field("sync_partial_ok", s.stats.SyncPartialOK.Load())
		field("sync_partial_err", s.stats.SyncPartialErr.Load())
		field("expired_keys", s.ks.ExpiredKeys)
		field("expired_stale_perc", "0.00")
		field("expired_time_cap_reached_count", 0)
		field("expire_cycle_cpu_milliseconds", 0)
		field("evicted_keys", s.ks.EvictedKeys)
		field("evicted_clients", 0)
		field("total_eviction_exceeded_time", 0)
		field("current_eviction_exceeded_time", 0)
		field("keyspace_hits", s.ks.KeyspaceHits)
		field("keyspace_misses", s.ks.KeyspaceMiss)
		field("pubsub_channels", s.pubsub.NumChannels())
		field("pubsub_patterns", s.pubsub.NumPatterns())
		field("pubsubshard_channels", s.pubsub.NumShardChannels())
		field("latest_fork_usec", 0)
		field("total_forks", 0)
		field("migrate_cached_sockets", 0)
		field("slave_expires_tracked_keys", 0)
		field("active_defrag_hits", 0)
		field("active_defrag_misses", 0)
		field("active_defrag_key_hits", 0)
		field("active_defrag_key_misses", 0)
		field("total_active_defrag_time", 0)
		field("current_active_defrag_time", 0)
		field("tracking_total_keys", 0)
		field("tracking_total_items", 0)
		field("tracking_total_prefixes", 0)
		field("unexpected_error_replies", 0)
		field("total_error_replies", st.TotalErrorReplies)
		field("dump_payload_sanitizations", 0)
		field("total_reads_processed", 0)
		field("total_writes_processed", 0)
		field("io_threaded_reads_processed", 0)
		field("io_threaded_writes_processed", 0)
	case "replication":
		s.writeInfoReplication(field)
	case "cpu":
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		sys := float64(ru.Stime.Sec) + float64(ru.Stime.Usec)/1e6
		user := float64(ru.Utime.Sec) + float64(ru.Utime.Usec)/1e6
		field("used_cpu_sys", fmt.Sprintf("%.6f", sys))
		field("used_cpu_user", fmt.Sprintf("%.6f", user))
		field("used_cpu_sys_children", "0.000000")
		field("used_cpu_user_children", "0.000000")
		field("used_cpu_sys_main_thread", fmt.Sprintf("%.6f", sys))
		field("used_cpu_user_main_thread", fmt.Sprintf("%.6f", user))
	case "commandstats":
		for _, cmd := range s.cmds.sorted() {
			writeCmdStat(b, cmd)
			for _, sub := range sortedSubcommands(cmd) {
				writeCmdStat(b, sub)
			}
		}
	case "cluster":
		field("cluster_enabled", 0)
	case "keyspace":
		for _, db := range s.ks.DBs {
			if db.Len() == 0 {
				continue
			}
			field("db"+strconv.Itoa(db.ID), fmt.Sprintf("keys=%d,expires=%d,avg_ttl=%d", db.Len(), db.ExpiresLen(), db.AvgTTL))
		}
	}
}

func writeCmdStat(b *strings.Builder, cmd *Command) {
	st := cmd.stats
	if st.calls == 0 && st.rejected == 0 && st.failed == 0 {
		return
	}
	per := 0.0
	if st.calls > 0 {
		per = float64(st.usec) / float64(st.calls)
	}
	fmt.Fprintf(b, "cmdstat_%s:calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d\r\n",
		cmd.Name, st.calls, st.usec, per, st.rejected, st.failed)
}

func utsString(b []int8) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}

func totalSystemMemory() int64 {
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}

// port is the first TCP port the server listens on.
func (s *Server) port() int {
	for _, a := range s.Addrs() {
		if t, ok := a.(interface{ String() string }); ok {
			if i := strings.LastIndexByte(t.String(), ':'); i >= 0 {
				p, _ := strconv.Atoi(t.String()[i+1:])
				return p
			}
		}
	}
	return s.cfg.Port
}

// writeInfoPersistence is the persistence section, with Redis's fields.
func (s *Server) writeInfoPersistence(field func(string, any)) {
	p := &s.persist
	loading, async := p.loading.Load(), p.asyncLoading.Load()
	// As Redis 7: loading:1 while clients get -LOADING, async_loading:1
	// while a swapdb full sync loads and the old dataset answers; the
	// progress fields in both cases.
	field("loading", boolInt(loading))
	field("async_loading", boolInt(async && !loading))
	if loading || async {
		elapsed := s.clock().Sub(p.loadStart)
		read := p.loadRead.Load()
		pct, eta := 0.0, int64(1)
		if p.loadTotal > 0 {
			pct = float64(read) * 100 / float64(p.loadTotal)
		}
		if read > 0 {
			eta = int64(elapsed.Seconds() * float64(p.loadTotal-read) / float64(read))
		}
		field("loading_start_time", p.loadStart.Unix())
		field("loading_total_bytes", p.loadTotal)
		field("loading_rdb_used_mem", 0)
		field("loading_loaded_bytes", read)
		field("loading_loaded_perc", fmt.Sprintf("%.2f", pct))
		field("loading_eta_seconds", eta)
	}
	field("current_cow_peak", 0)
	field("current_cow_size", 0)
	field("current_cow_size_age", 0)
	field("current_fork_perc", "0.00")
	if p.saving {
		field("current_save_keys_processed", p.keysDone.Load())
		field("current_save_keys_total", p.keysTotal)
	} else {
		field("current_save_keys_processed", 0)
		field("current_save_keys_total", 0)
	}
	field("rdb_changes_since_last_save", s.dirty)
	field("rdb_bgsave_in_progress", boolInt(p.saving))
	field("rdb_last_save_time", s.lastSave.Unix())
	if p.lastSaveOK {
		field("rdb_last_bgsave_status", "ok")
	} else {
		field("rdb_last_bgsave_status", "err")
	}
	if p.lastTry.IsZero() {
		field("rdb_last_bgsave_time_sec", -1)
	} else {
		field("rdb_last_bgsave_time_sec", int64(p.lastDuration.Seconds()))
	}
	if p.saving {
		field("rdb_current_bgsave_time_sec", int64(s.clock().Sub(p.saveStart).Seconds()))
	} else {
		field("rdb_current_bgsave_time_sec", -1)
	}
	field("rdb_saves", p.saves)
	field("rdb_last_cow_size", 0)
	field("rdb_last_load_keys_expired", p.lastLoadExpired)
	field("rdb_last_load_keys_loaded", p.lastLoadKeys)
	s.writeInfoAOF(field)
}

// writeInfoReplication is the replication section.
func (s *Server) writeInfoReplication(field func(string, any)) {
	r := &s.repl
	if r.isReplica() {
		s.writeInfoLink(field)
	} else {
		field("role", "master")
	}
	s.writeInfoReplicas(field)
	s.writeInfoLease(field)
	fs := r.failover.state
	if fs == "" {
		fs = "no-failover"
	}
	field("master_failover_state", fs)
	field("master_replid", r.replID)
	field("master_replid2", r.replID2)
	field("master_repl_offset", r.offset)
	field("second_repl_offset", r.secondOffset)
	if b := r.backlog; b != nil {
		field("repl_backlog_active", 1)
		field("repl_backlog_size", int64(len(b.buf)))
		field("repl_backlog_first_byte_offset", b.start+1)
		field("repl_backlog_histlen", b.n)
	} else {
		field("repl_backlog_active", 0)
		field("repl_backlog_size", s.cfg.ReplBacklogSize)
		field("repl_backlog_first_byte_offset", 0)
		field("repl_backlog_histlen", 0)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
