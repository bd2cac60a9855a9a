package jobs

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/go-faster/jx"

	"github.com/tlsched/tlsched/entitycache"
)

// Router picks the account that sends each job when a run has many
// (tlworker send --accounts). The engine asks it once per job, in input
// order as jobs are read, before the job is sent; the account it names is
// the job's for good: a job that may have been sent is only ever retried
// by the account that sent it (random_id deduplicates per account and
// peer), and a rerun with --resume asks the Router again, which must give
// the same answer for a job it may have sent (a chat's account kept across
// runs, say).
type Router interface {
	// Route returns the account that sends the job r describes, or an
	// error that becomes the job's result line (an unknown account name);
	// an error matching scheduler.ErrNotSent marks the line "not_sent",
	// which --resume --retry-not-sent runs again.
	Route(r Route) (Account, error)
	// Finished is called once for each job Route gave an account: with
	// its result line, or nil when the job got none (dropped: a rerun
	// with --resume runs it). From many goroutines.
	Finished(account string, o *Result)
	// Earlier tells the Router, as a job an earlier run finished is
	// skipped, which account sent it (from its result line; "" if the
	// line names none) and which chat it wrote to.
	Earlier(chat, account string)
}

// Route is what a Router knows of a job when it picks its account.
type Route struct {
	ID string
	// Account is the job's "account", or "".
	Account string
	// Chat is the chat the job writes to, as its params name it (Chat):
	// "" for a job that names none.
	Chat string
	// After is the account of the job this one is chained after ("after"),
	// when that job runs in this run: an invokeAfterMsg chain lives in one
	// account's session, so the job must go there too. "" otherwise.
	After string
}

// Account is one sending account: its name (written in result lines), the
// Sender its calls go through and the Peers that resolve peer shorthands
// with its own access hashes.
type Account struct {
	Name   string
	Sender Sender
	Peers  Peers
}

// chatParams are the params that name the chat a job writes to, in the
// order looked at.
var chatParams = [...]string{"peer", "to_peer", "channel"}

// Chat returns the chat a job's params write to: the value of its first
// param among "peer", "to_peer" and "channel" (a shorthand in its
// entitycache.Canonical spelling, so "@Alice" and "t.me/alice" are one
// chat; else the compact JSON of an object), or "" if it has none. A
// username and the id of one chat are two chats to it: telling needs a
// lookup, through some account.
func Chat(params json.RawMessage) string {
	var found [len(chatParams)]string // by chatParams' order
	d := jx.DecodeBytes(params)
	err := d.ObjBytes(func(d *jx.Decoder, key []byte) error {
		i := slices.Index(chatParams[:], string(key))
		if i < 0 {
			return d.Skip()
		}
		if d.Next() == jx.String {
			s, err := d.Str()
			found[i], _ = entitycache.Canonical(s)
			return err
		}
		raw, err := d.Raw()
		if err != nil {
			return err
		}
		var b bytes.Buffer
		if json.Compact(&b, raw) == nil {
			found[i] = b.String()
		}
		return nil
	})
	if err != nil {
		return ""
	}
	for _, c := range found {
		if c != "" {
			return c
		}
	}
	return ""
}
