package node

import "go.uber.org/zap"

// persistCommands: SAVE, BGSAVE (LASTSAVE, DEBUG RELOAD and SHUTDOWN's
// save live with the server commands).
func persistCommands() []*Command {
	adm := []string{"admin", "slow", "dangerous"}
	return []*Command{
		{Name: "save", Arity: 1, Flags: FlagAdmin | FlagNoScript | FlagNoMulti, Categories: adm, Group: "server", Since: "1.0.0",
			Summary: "Synchronously save the dataset to disk", Complexity: "O(N) where N is the total number of keys in all databases", Handler: cmdSave},
		{Name: "bgsave", Arity: -1, Flags: FlagAdmin | FlagNoScript, Categories: adm, Group: "server", Since: "1.0.0",
			Summary: "Asynchronously save the dataset to disk", Complexity: "O(1)", Handler: cmdBgsave},
	}
}

func cmdSave(c *Ctx) {
	s := c.Srv
	if s.persist.saving {
		c.Error("ERR Background save already in progress")
		return
	}
	if err := s.saveSync(); err != nil {
		c.Error("ERR " + err.Error())
		return
	}
	c.W.OK()
}

func cmdBgsave(c *Ctx) {
	s := c.Srv
	schedule := false
	if len(c.Args) > 1 {
		if len(c.Args) != 2 || !c.ArgIs(1, "schedule") {
			c.SyntaxError()
			return
		}
		schedule = true
	}
	if s.persist.saving {
		if schedule {
			s.persist.saveScheduled = true
			c.W.Simple("Background saving scheduled")
			return
		}
		c.Error("ERR Background save already in progress")
		return
	}
	if err := s.startBgsave("BGSAVE"); err != nil {
		c.Error(err.Error())
		return
	}
	c.W.Simple("Background saving started")
}

// debugReload is DEBUG RELOAD: save, empty the dataset and load the file
// back, all under the lock.
func debugReload(c *Ctx) {
	s := c.Srv
	if err := s.saveSync(); err != nil {
		c.Error("ERR Error trying to save the DB, aborting reload: " + err.Error())
		return
	}
	for _, db := range s.ks.DBs {
		s.TouchAllInDB(db, nil)
		db.Flush()
	}
	if err := s.loadRDB(s.rdbPath(), true); err != nil {
		s.log.Error("DEBUG RELOAD could not load the file it saved", zap.Error(err))
		c.Error("ERR Error trying to load the RDB dump, check server logs.")
		return
	}
	c.W.OK()
}
