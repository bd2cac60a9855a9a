package actors

import (
	"log/slog"
	"strconv"
	"strings"
)

// The home DC is kept with the keys (HomeDCStore): Start takes the stored
// one when Config.Scheduler.HomeDC is not set, and the scheduler actor
// saves the scheduler's home DC when a migration moves it
// (TestHomeDCPersistsAcrossClients). A session file written by tlworker
// login before the home DC was kept in the store has it in its account
// file (Account, account.go), read when the store has none.

// loadHomeDC returns the home DC for cfg (with defaults applied): the
// stored one if the Store keeps one and it names a DC of this server (by
// identity, or by address for a record named the old way), else the one
// of the session file's account file. Store and file errors are logged,
// not fatal.
func loadHomeDC(cfg Config) (int, bool) {
	if hs, ok := cfg.Store.(HomeDCStore); ok {
		name, ok, err := hs.LoadHomeDC()
		if err != nil {
			cfg.Logger.Warn("load home dc", "err", err)
		} else if ok {
			idText, where, _ := strings.Cut(name, "@")
			id, err := strconv.Atoi(idText)
			_, known := cfg.DCs[id]
			if err == nil && known && (where == cfg.server || where == cfg.DCs[id]) {
				return id, true
			}
			// Another server's DC, or not one at all.
		}
	}
	if cfg.SessionFile != "" {
		acc, ok, err := LoadAccount(cfg.SessionFile)
		if err != nil {
			cfg.Logger.Warn("load home dc", "err", err)
		} else if _, known := cfg.DCs[acc.HomeDC]; ok && known {
			return acc.HomeDC, true
		}
	}
	return 0, false
}

// homeDCSaver returns the hook the scheduler actor calls when the home DC
// changes, or nil if the Store does not keep it.
func homeDCSaver(store Store, server string, log *slog.Logger) func(dc int) {
	hs, ok := store.(HomeDCStore)
	if !ok {
		return nil
	}
	return func(dc int) {
		if err := hs.SaveHomeDC(storeName(dc, server)); err != nil {
			log.Warn("save home dc", "dc", dc, "err", err)
		}
	}
}
