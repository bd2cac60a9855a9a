package tl

import (
	"errors"
	"testing"
	"time"

	"github.com/gotd/td/tgerr"
)

// telegramNumbered is every error of Telegram's list that carries a number
// (core.telegram.org/api/errors, errors.json of layer 227, plus
// FLOOD_TEST_PHONE_WAIT_X from the older list), %d as the list writes it.
var telegramNumbered = []string{
	"2FA_CONFIRM_WAIT_%d", "ALLOW_PAYMENT_REQUIRED_%d", "AUTH_RESTART_%d", "EMAIL_UNCONFIRMED_%d",
	"FILE_MIGRATE_%d", "FILE_PART_%d_MISSING", "FILE_REFERENCE_%d_EMPTY", "FILE_REFERENCE_%d_EXPIRED",
	"FILE_REFERENCE_%d_INVALID", "FLOOD_PREMIUM_WAIT_%d", "FLOOD_TEST_PHONE_WAIT_%d", "FLOOD_WAIT_%d",
	"NETWORK_MIGRATE_%d", "PASSWORD_TOO_FRESH_%d", "PHONE_MIGRATE_%d", "PREMIUM_SUB_ACTIVE_UNTIL_%d",
	"PREVIOUS_CHAT_IMPORT_ACTIVE_WAIT_%dMIN", "SESSION_TOO_FRESH_%d", "SLOWMODE_WAIT_%d",
	"STARGIFT_RESELL_TOO_EARLY_%d", "STARGIFT_TRANSFER_TOO_EARLY_%d", "STATS_MIGRATE_%d",
	"STORY_LIVE_ALREADY_%d", "STORY_SEND_FLOOD_MONTHLY_%d", "STORY_SEND_FLOOD_WEEKLY_%d",
	"TAKEOUT_INIT_DELAY_%d", "USER_MIGRATE_%d",
}

// TestClassifyEveryNumberedError: each numbered error of Telegram's list
// is classified with the unit of its number (no blanket rule: seconds,
// minutes, a unix time, a DC, an index, ...).
func TestClassifyEveryNumberedError(t *testing.T) {
	for _, pattern := range telegramNumbered {
		msg := replaceNumber(pattern, "7")
		c := Classify(tgerr.New(400, msg))
		if c.Unit == NoUnit || c.Value != 7 {
			t.Errorf("%s: unit %v value %d: the number's unit is not known", msg, c.Unit, c.Value)
		}
	}
	for _, tc := range []struct {
		code         int
		msg          string
		action       Action
		unit         Unit
		wait         time.Duration
		until        time.Time
		dc           int
		next, typeOf string
	}{
		{420, "FLOOD_TEST_PHONE_WAIT_30", RetryAfterWait, UnitSeconds, 30 * time.Second, time.Time{}, 0, "", "*tl.FloodWaitError"},
		{420, "STORY_SEND_FLOOD_WEEKLY_3600", RetryAfterWait, UnitSeconds, time.Hour, time.Time{}, 0, "", "*tl.FloodWaitError"},
		{420, "TAKEOUT_INIT_DELAY_86400", Final, UnitSeconds, 24 * time.Hour, time.Time{}, 0, "", "*tl.NumberError"},
		{420, "2FA_CONFIRM_WAIT_604800", Final, UnitSeconds, 7 * 24 * time.Hour, time.Time{}, 0, "", "*tl.NumberError"},
		{400, "PASSWORD_TOO_FRESH_60", Final, UnitSeconds, time.Minute, time.Time{}, 0, "", "*tl.NumberError"},
		{400, "PREVIOUS_CHAT_IMPORT_ACTIVE_WAIT_5MIN", Final, UnitMinutes, 5 * time.Minute, time.Time{}, 0, "", "*tl.NumberError"},
		{420, "PREMIUM_SUB_ACTIVE_UNTIL_1796130194", Final, UnitUnixTime, 0, time.Unix(1796130194, 0).UTC(), 0, "", "*tl.NumberError"},
		{400, "FILE_REFERENCE_2_EXPIRED", Final, UnitIndex, 0, time.Time{}, 0, "", "*tl.NumberError"},
		{500, "AUTH_RESTART_12", RetryWithBackoff, UnitDebug, 0, time.Time{}, 0, "", "*tl.NumberError"},
		{303, "NETWORK_MIGRATE_3", RetryElsewhere, UnitDC, 0, time.Time{}, 3, "", "*tl.MigrateError"},
		{401, "SESSION_PASSWORD_NEEDED", NextStep, NoUnit, 0, time.Time{}, 0, "auth.checkPassword", "*tl.StepError"},
		{400, "PHONE_NUMBER_UNOCCUPIED", NextStep, NoUnit, 0, time.Time{}, 0, "auth.signUp", "*tl.StepError"},
		{400, "EMAIL_UNCONFIRMED_6", NextStep, UnitLength, 0, time.Time{}, 0, "account.verifyEmail", "*tl.StepError"},
		{406, "AUTH_KEY_DUPLICATED", RecreateKey, NoUnit, 0, time.Time{}, 0, "", "*tl.AuthError"},
		{401, "SESSION_REVOKED", Reauthorize, NoUnit, 0, time.Time{}, 0, "", "*tl.AuthError"},
		{401, "SOMETHING_NEW", Reauthorize, NoUnit, 0, time.Time{}, 0, "", "*tl.AuthError"},
		{400, "AUTH_KEY_UNSYNCHRONIZED", RetryWithBackoff, NoUnit, 0, time.Time{}, 0, "", "*tgerr.Error"},
		{400, "PEER_ID_INVALID", Final, NoUnit, 0, time.Time{}, 0, "", "*tgerr.Error"},
	} {
		err := tgerr.New(tc.code, tc.msg)
		c := Classify(err)
		if c.Action != tc.action || c.Unit != tc.unit || c.Wait != tc.wait || !c.Until.Equal(tc.until) || c.DC != tc.dc || c.Next != tc.next {
			t.Errorf("%s: got %v unit %v wait %v until %v dc %d next %q", tc.msg, c.Action, c.Unit, c.Wait, c.Until, c.DC, c.Next)
		}
		typed := Typed(err)
		if got := typeName(typed); got != tc.typeOf {
			t.Errorf("%s: Typed gave %s, want %s", tc.msg, got, tc.typeOf)
		}
		if rpc, ok := tgerr.As(typed); !ok || rpc != err {
			t.Errorf("%s: the typed error does not unwrap to the RPC error", tc.msg)
		}
		if Typed(typed) != typed {
			t.Errorf("%s: Typed of a typed error must return it", tc.msg)
		}
		var ne *NumberError
		if errors.As(typed, &ne) && (ne.Wait() != tc.wait || !ne.Until().Equal(tc.until)) {
			t.Errorf("%s: NumberError wait %v until %v", tc.msg, ne.Wait(), ne.Until())
		}
	}
}

// TestErrorRulesOnePlace: an error has one row, in one table.
func TestErrorRulesOnePlace(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range floodRules {
		if seen[r.Kind] {
			t.Errorf("%s twice", r.Kind)
		}
		seen[r.Kind] = true
	}
	for _, r := range errorRules {
		kind := replaceNumber(r.Pattern, "")
		if len(kind) > 0 && kind[len(kind)-1] == '_' {
			kind = kind[:len(kind)-1]
		}
		if seen[r.Pattern] || seen[kind] {
			t.Errorf("%s twice", r.Pattern)
		}
		seen[r.Pattern] = true
		if (r.Action == NextStep) != (r.Next != "") {
			t.Errorf("%s: Next %q with %v", r.Pattern, r.Next, r.Action)
		}
		if _, err := Method(r.Next); r.Next != "" && err != nil {
			t.Errorf("%s: %v", r.Pattern, err)
		}
	}
}

func replaceNumber(pattern, x string) string {
	for i := 0; i+1 < len(pattern); i++ {
		if pattern[i] == '%' && pattern[i+1] == 'd' {
			return pattern[:i] + x + pattern[i+2:]
		}
	}
	return pattern
}

func typeName(err error) string {
	switch err.(type) {
	case *FloodWaitError:
		return "*tl.FloodWaitError"
	case *MigrateError:
		return "*tl.MigrateError"
	case *NumberError:
		return "*tl.NumberError"
	case *StepError:
		return "*tl.StepError"
	case *AuthError:
		return "*tl.AuthError"
	case *tgerr.Error:
		return "*tgerr.Error"
	}
	return "other"
}
