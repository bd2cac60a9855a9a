package actors

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// Account is who a session is logged in as, as Login found it. Login
// writes it next to Config.SessionFile, in the account file
// (AccountPath); tlworker login has written the same file since before
// the home DC was kept in the Store, so Start reads a session's home DC
// from it when the Store has none.
type Account struct {
	// HomeDC is the DC the account lives on (help.getConfig's this_dc
	// after logging in).
	HomeDC int `json:"home_dc"`
	// UserID is the account's user id.
	UserID int64 `json:"user_id"`
	// Bot is true for a bot.
	Bot bool `json:"bot"`
	// Name is the first and last name, and "(@username)" if it has one.
	Name string `json:"name,omitempty"`
}

// AccountPath is the account file of a session file: FILE.account.json.
func AccountPath(sessionFile string) string { return sessionFile + ".account.json" }

// LoadAccount reads a session file's account file; ok is false if there
// is none. A file that does not parse or names no home DC is an error.
func LoadAccount(sessionFile string) (acc Account, ok bool, err error) {
	b, err := os.ReadFile(AccountPath(sessionFile))
	if errors.Is(err, os.ErrNotExist) {
		return Account{}, false, nil
	}
	if err != nil {
		return Account{}, false, err
	}
	if err := json.Unmarshal(b, &acc); err != nil || acc.HomeDC == 0 {
		return Account{}, false, fmt.Errorf("account file %s is damaged: log in again", AccountPath(sessionFile))
	}
	return acc, true, nil
}

// SaveAccount writes a session file's account file (0600).
func SaveAccount(sessionFile string, acc Account) error {
	b, err := json.MarshalIndent(acc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(AccountPath(sessionFile), b, 0o600)
}
