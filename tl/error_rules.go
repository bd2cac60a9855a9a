package tl

import (
	"strconv"
	"strings"
	"sync"

	"github.com/gotd/td/tgerr"
)

// The rules of RPC errors, one row each, as Telegram's error list
// (core.telegram.org/api/errors) writes them, %d standing for the number.
// A wait the scheduler gates on is a row of floodRules; every other error
// with a number, and every error whose action is not what its code says,
// is a row of errorRules. No error is in both (TestErrorRulesOnePlace).
// Failing both tables, Classify goes by the code (errors.go).

// floodRules are the waits the scheduler gates on, all counting seconds
// (MTProto "Error handling"): it closes a gate of the row's scope for the
// wait instead of letting calls fail. A new wait of that kind is one row
// here, nothing else.
var floodRules = []struct {
	Kind  string
	Scope FloodScope
}{
	{FloodWait, ScopeMethod},        // the method is flooded for this account
	{FloodPremiumWait, ScopeMethod}, // file transfer speed limit of non-premium accounts
	{SlowModeWait, ScopeChat},       // the chat's slow mode
	{FloodTestPhone, ScopeMethod},   // test DCs: too many logins to test phone numbers
	{"STORY_SEND_FLOOD_WEEKLY", ScopeMethod},
	{"STORY_SEND_FLOOD_MONTHLY", ScopeMethod},
}

// Unit says what the number of an RPC error counts (the X of
// FLOOD_WAIT_X). Telegram's list has no blanket rule: most are seconds,
// PREMIUM_SUB_ACTIVE_UNTIL_X is a unix time, *_MIGRATE_X a DC.
type Unit uint8

const (
	NoUnit       Unit = iota // the error carries no number
	UnitSeconds              // a wait: FLOOD_WAIT_X, PASSWORD_TOO_FRESH_X
	UnitMinutes              // a wait: PREVIOUS_CHAT_IMPORT_ACTIVE_WAIT_XMIN
	UnitUnixTime             // a point in time: PREMIUM_SUB_ACTIVE_UNTIL_X
	UnitDC                   // a data center: USER_MIGRATE_X
	UnitIndex                // a position in the request: FILE_PART_X_MISSING
	UnitLength               // EMAIL_UNCONFIRMED_X: the length of the code sent
	UnitStars                // ALLOW_PAYMENT_REQUIRED_X: the price per message in Stars
	UnitID                   // STORY_LIVE_ALREADY_X: the live story that exists
	UnitDebug                // AUTH_RESTART_X: debug information for Telegram
)

var unitNames = [...]string{"", "seconds", "minutes", "unix time", "dc", "index", "length", "stars", "id", "debug info"}

// String names the unit ("seconds", "unix time").
func (u Unit) String() string {
	if int(u) < len(unitNames) {
		return unitNames[u]
	}
	return "unit(" + strconv.Itoa(int(u)) + ")"
}

type errorRule struct {
	Pattern string // as Telegram's list writes it: "PASSWORD_TOO_FRESH_%d"
	Unit    Unit   // what %d counts
	Action  Action
	Next    string // for NextStep: the method that continues the flow
}

// errorRules: what each error means for the call, and what its number
// counts.
var errorRules = []errorRule{
	// 303: repeat the call on DC X.
	{"FILE_MIGRATE_%d", UnitDC, RetryElsewhere, ""},
	{"NETWORK_MIGRATE_%d", UnitDC, RetryElsewhere, ""},
	{"PHONE_MIGRATE_%d", UnitDC, RetryElsewhere, ""},
	{"STATS_MIGRATE_%d", UnitDC, RetryElsewhere, ""},
	{"USER_MIGRATE_%d", UnitDC, RetryElsewhere, ""},

	// Waits that are not a method's rate limit: the call fails, and the
	// wait is in Class.Wait and *NumberError.Wait. Gating the method would
	// hold back calls the wait does not concern.
	{"TAKEOUT_INIT_DELAY_%d", UnitSeconds, Final, ""},          // account.initTakeoutSession: confirm on another device (then it works at once) or wait
	{"2FA_CONFIRM_WAIT_%d", UnitSeconds, Final, ""},            // account.deleteAccount: deletion is scheduled; a call after the wait resets the account, the caller's choice
	{"PASSWORD_TOO_FRESH_%d", UnitSeconds, Final, ""},          // the 2FA password changed less than 24 h ago
	{"SESSION_TOO_FRESH_%d", UnitSeconds, Final, ""},           // this session logged in less than 24 h ago
	{"STARGIFT_RESELL_TOO_EARLY_%d", UnitSeconds, Final, ""},   // one gift
	{"STARGIFT_TRANSFER_TOO_EARLY_%d", UnitSeconds, Final, ""}, // one gift
	{"PREVIOUS_CHAT_IMPORT_ACTIVE_WAIT_%dMIN", UnitMinutes, Final, ""},
	{"PREMIUM_SUB_ACTIVE_UNTIL_%d", UnitUnixTime, Final, ""}, // not a wait: the subscription's end

	// Numbers that are not time.
	{"FILE_PART_%d_MISSING", UnitIndex, Final, ""}, // re-upload the part: another call
	{"FILE_REFERENCE_%d_EMPTY", UnitIndex, Final, ""},
	{"FILE_REFERENCE_%d_EXPIRED", UnitIndex, Final, ""}, // refetch the file reference
	{"FILE_REFERENCE_%d_INVALID", UnitIndex, Final, ""},
	{"ALLOW_PAYMENT_REQUIRED_%d", UnitStars, Final, ""},
	{"STORY_LIVE_ALREADY_%d", UnitID, Final, ""},
	{"AUTH_RESTART_%d", UnitDebug, RetryWithBackoff, ""}, // "internal error, please repeat the method call"

	// Steps of a flow: the caller goes on with Next.
	{"SESSION_PASSWORD_NEEDED", NoUnit, NextStep, "auth.checkPassword"}, // 401 after auth.signIn: 2FA is on
	{"PHONE_NUMBER_UNOCCUPIED", NoUnit, NextStep, "auth.signUp"},        // auth.signIn: no account yet
	{"AUTH_RESTART", NoUnit, NextStep, "auth.sendCode"},                 // restart the login
	{"EMAIL_UNCONFIRMED_%d", UnitLength, NextStep, "account.verifyEmail"},

	// invokeAfterMsg chains (chains.go in the scheduler repairs them).
	{"MSG_WAIT_FAILED", NoUnit, RepairChain, ""},
	{"MSG_WAIT_TIMEOUT", NoUnit, RepairChain, ""},

	// The auth key and the login.
	{"AUTH_KEY_DUPLICATED", NoUnit, RecreateKey, ""}, // 406: used from two connections at once, dropped
	{"AUTH_KEY_UNREGISTERED", NoUnit, Reauthorize, ""},
	{"AUTH_KEY_INVALID", NoUnit, Reauthorize, ""},
	{"AUTH_KEY_PERM_EMPTY", NoUnit, Reauthorize, ""},
	{"SESSION_REVOKED", NoUnit, Reauthorize, ""},
	{"SESSION_EXPIRED", NoUnit, Reauthorize, ""},
	{"USER_DEACTIVATED", NoUnit, Reauthorize, ""},
	{"USER_DEACTIVATED_BAN", NoUnit, Reauthorize, ""},

	// Server-side failures with a 4xx code: "please repeat the method call".
	{"AUTH_KEY_UNSYNCHRONIZED", NoUnit, RetryWithBackoff, ""},
	{"PERSISTENT_TIMESTAMP_OUTDATED", NoUnit, RetryWithBackoff, ""}, // "treat this like an RPC_CALL_FAIL"
	{"RPC_CALL_FAIL", NoUnit, RetryWithBackoff, ""},
	{"TIMEOUT", NoUnit, RetryWithBackoff, ""},
	{"Timeout", NoUnit, RetryWithBackoff, ""},
}

// compiledRules are errorRules by exact message, and the numbered ones
// split around %d.
type compiledRules struct {
	exact    map[string]*errorRule
	numbered []numberedRule
}

type numberedRule struct {
	prefix, suffix string
	rule           *errorRule
}

var rules = sync.OnceValue(func() compiledRules {
	c := compiledRules{exact: make(map[string]*errorRule, len(errorRules))}
	for i := range errorRules {
		r := &errorRules[i]
		if prefix, suffix, ok := strings.Cut(r.Pattern, "%d"); ok {
			c.numbered = append(c.numbered, numberedRule{prefix, suffix, r})
		} else {
			c.exact[r.Pattern] = r
		}
	}
	return c
})

// ruleOf finds the row of errorRules for rpc, and the number the message
// carries where the row's pattern has %d. (tgerr's own parse cannot read
// every pattern: PREVIOUS_CHAT_IMPORT_ACTIVE_WAIT_5MIN.)
func ruleOf(rpc *tgerr.Error) (*errorRule, int, bool) {
	c := rules()
	if r, ok := c.exact[rpc.Message]; ok {
		return r, 0, true
	}
	for _, n := range c.numbered {
		m := rpc.Message
		if len(m) <= len(n.prefix)+len(n.suffix) || !strings.HasPrefix(m, n.prefix) || !strings.HasSuffix(m, n.suffix) {
			continue
		}
		digits := m[len(n.prefix) : len(m)-len(n.suffix)]
		x, err := strconv.Atoi(digits)
		if err != nil || digits[0] == '-' || digits[0] == '+' {
			continue
		}
		return n.rule, x, true
	}
	return nil, 0, false
}
