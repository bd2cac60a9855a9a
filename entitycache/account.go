package entitycache

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Account names the account a store's access hashes belong to. Telegram's
// access hashes are per account, and ids and hashes of the test network or
// of another server mean nothing on Telegram's production DCs: a store is
// bound to one account on one network (the store contract in
// ARCHITECTURE.md: one namespace per account).
type Account struct {
	// SelfID is the logged-in user's id; 0 if not known yet. A cache with
	// a bound store records it when it first learns the user marked self.
	SelfID int64
	// Test: Telegram's test DCs.
	Test bool
	// DCs are the addresses of a server other than Telegram (tgsim, a
	// private server), by DC id; nil for Telegram's own DCs.
	DCs map[int]string
}

// network says where the account lives, comparably.
func (a Account) network() string {
	if len(a.DCs) > 0 {
		var b strings.Builder
		b.WriteString("DCs")
		for _, id := range slices.Sorted(maps.Keys(a.DCs)) {
			fmt.Fprintf(&b, " %d=%s", id, a.DCs[id])
		}
		return b.String()
	}
	if a.Test {
		return "Telegram's test DCs"
	}
	return "Telegram"
}

func (a Account) String() string {
	who := "an account not known yet"
	if a.SelfID != 0 {
		who = fmt.Sprintf("user %d", a.SelfID)
	}
	return who + " on " + a.network()
}

// compatible reports whether a store bound to a may serve b: the same
// network, and the same user where both are known.
func (a Account) compatible(b Account) bool {
	return a.network() == b.network() && (a.SelfID == 0 || b.SelfID == 0 || a.SelfID == b.SelfID)
}

// merge fills what a does not know from b.
func (a Account) merge(b Account) Account {
	if a.SelfID == 0 {
		a.SelfID = b.SelfID
	}
	return a
}

// AccountError says a store belongs to another account or network than
// the one the cache is opened (or logged in) for. Nothing of it is served.
type AccountError struct {
	Path   string // the store's file, if any
	Stored Account
	Want   Account
}

func (e *AccountError) Error() string {
	where := "entity cache"
	if e.Path != "" {
		where += " " + e.Path
	}
	return fmt.Sprintf("%s belongs to %s, not %s: access hashes are per account; give this account its own file (or move this one away)", where, e.Stored, e.Want)
}
