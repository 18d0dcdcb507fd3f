package node

import (
	"errors"

	"github.com/vigilkv/vigil/node/config"
)

// configCommands: CONFIG GET/SET/RESETSTAT/REWRITE/RELOAD/HELP.
func configCommands() []*Command {
	adm := []string{"admin", "slow", "dangerous"}
	sub := func(name string, arity int, summary string, h func(*Ctx)) *Command {
		return &Command{Name: "config|" + name, Arity: arity, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale,
			Categories: adm, Group: "server", Since: "2.0.0", Summary: summary, Complexity: "O(N) when N is the number of configuration parameters provided", Handler: h}
	}
	return []*Command{{
		Name: "config", Arity: -2, Categories: []string{"slow"}, Group: "server", Since: "2.0.0",
		Summary: "A container for server configuration commands", Complexity: "Depends on subcommand.",
		Subcommands: map[string]*Command{
			"get":       sub("get", -3, "Get the values of configuration parameters", cmdConfigGet),
			"set":       sub("set", -4, "Set configuration parameters to the given values", cmdConfigSet),
			"resetstat": sub("resetstat", 2, "Reset the stats returned by INFO", cmdConfigResetStat),
			"rewrite":   sub("rewrite", 2, "Rewrite the configuration file with the in memory configuration", cmdConfigRewrite),
			"reload":    sub("reload", 2, "Re-read the configuration file and apply what can change at runtime (vigil)", cmdConfigReload),
			"help": sub("help", 2, "Show helpful text about the different subcommands", func(c *Ctx) {
				c.ReplyHelp("GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
					"SET <directive> <value>", "    Set the configuration <directive> to <value>.",
					"RESETSTAT", "    Reset statistics reported by the INFO command.",
					"REWRITE", "    Rewrite the configuration file.",
					"RELOAD", "    Re-read the configuration file and apply the settings that can change at runtime (vigil).")
			}),
		},
	}}
}

func cmdConfigGet(c *Ctx) {
	pats := make([]string, 0, len(c.Args)-2)
	for i := 2; i < len(c.Args); i++ {
		pats = append(pats, c.Str(i))
	}
	pairs := c.Srv.cfg.Get(pats...)
	c.W.Map(len(pairs))
	for _, p := range pairs {
		c.W.BulkString(p[0])
		c.W.BulkString(p[1])
	}
}

func cmdConfigSet(c *Ctx) {
	if len(c.Args)%2 != 0 {
		c.WrongArity()
		return
	}
	var pairs [][2]string
	for i := 2; i < len(c.Args); i += 2 {
		pairs = append(pairs, [2]string{c.Str(i), c.Str(i + 1)})
	}
	if err := c.Srv.cfg.Set(pairs); err != nil {
		var se *config.SetError
		if errors.As(err, &se) {
			c.Error("ERR " + se.Error())
			return
		}
		c.Error("ERR " + err.Error())
		return
	}
	c.Srv.applyConfig()
	c.W.OK()
}

func cmdConfigResetStat(c *Ctx) {
	s := c.Srv
	st := &s.stats
	st.ConnectionsReceived.Store(0)
	st.RejectedConns.Store(0)
	st.CommandsProcessed = 0
	st.NetInputBytes.Store(0)
	st.NetOutputBytes.Store(0)
	st.TotalErrorReplies = 0
	st.ExpiredStaleKeys = 0
	s.ks.ExpiredKeys, s.ks.EvictedKeys, s.ks.KeyspaceHits, s.ks.KeyspaceMiss = 0, 0, 0, 0
	for _, cmd := range s.cmds.byName {
		cmd.stats = commandStats{}
		for _, sub := range cmd.Subcommands {
			sub.stats = commandStats{}
		}
	}
	s.diag.slowlog = nil
	c.W.OK()
}

func cmdConfigRewrite(c *Ctx) {
	if c.Srv.cfg.File == "" {
		c.Error("ERR The server is running without a config file")
		return
	}
	if err := c.Srv.cfg.Rewrite(); err != nil {
		c.Error("ERR Rewriting config file: " + err.Error())
		return
	}
	c.W.OK()
}
