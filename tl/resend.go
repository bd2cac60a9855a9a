package tl

import "strings"

// Resendable reports whether a method may be sent again when the server
// may already have run it (its answer was lost with a server-side session):
// it carries a random_id, which Telegram deduplicates per account and peer
// (messages.sendMessage, sendMedia, forwardMessages, ...), or its name says
// it only reads (get…, search…, resolve…, check… after the namespace:
// users.getUsers, contacts.resolveUsername, messages.search). Any other
// method (a join, an edit, a delete) could take effect twice, so the
// session gives it up as "may have run" instead of resending it.
func Resendable(method *Definition) bool {
	if method == nil || !method.Method {
		return false
	}
	for _, p := range method.Params {
		if p.Name == "random_id" {
			return true
		}
	}
	name := method.Name
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	for _, prefix := range readOnlyPrefixes {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

// readOnlyPrefixes are the method name prefixes Telegram's schema uses for
// methods that change nothing.
var readOnlyPrefixes = []string{"get", "search", "resolve", "check"}
