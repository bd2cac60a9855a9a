package actors

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// The home DC is kept with the keys (HomeDCStore): Start takes the stored
// one when Config.Scheduler.HomeDC is not set, and the scheduler actor
// saves the scheduler's home DC when a migration moves it
// (TestHomeDCPersistsAcrossClients).

// storeName names a DC in a Store: its id and address, so that keys (and
// the home DC) of different servers never mix.
func storeName(id int, addr string) string { return fmt.Sprintf("%d@%s", id, addr) }

// loadHomeDC returns the stored home DC if the Store keeps one and it names
// a DC of dcs at the same address; a store error is logged, not fatal.
func loadHomeDC(store Store, dcs map[int]string, log *slog.Logger) (int, bool) {
	hs, ok := store.(HomeDCStore)
	if !ok {
		return 0, false
	}
	name, ok, err := hs.LoadHomeDC()
	if err != nil {
		log.Warn("load home dc", "err", err)
		return 0, false
	}
	if !ok {
		return 0, false
	}
	idText, addr, _ := strings.Cut(name, "@")
	id, err := strconv.Atoi(idText)
	if err != nil || dcs[id] != addr {
		return 0, false // another server's DC, or not one at all
	}
	return id, true
}

// homeDCSaver returns the hook the scheduler actor calls when the home DC
// changes, or nil if the Store does not keep it.
func homeDCSaver(store Store, dcs map[int]string, log *slog.Logger) func(dc int) {
	hs, ok := store.(HomeDCStore)
	if !ok {
		return nil
	}
	return func(dc int) {
		if err := hs.SaveHomeDC(storeName(dc, dcs[dc])); err != nil {
			log.Warn("save home dc", "dc", dc, "err", err)
		}
	}
}
