package jobs

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// Previous reads a results file for --resume: which job ids already have a
// result line, and whether it was ok (Config.Done). With retryNotSent
// (--retry-not-sent), a job whose last line says it was not sent
// (KindNotSent) is left out, so it runs again; a job that may have run
// (KindMayHaveRun) never is. A missing file is an empty run. A last line
// cut short by a crash is cut off the file so appending continues on a
// line boundary; a line that is not a result line is an error (the file
// is not appended to).
func Previous(path string, retryNotSent bool) (map[string]bool, error) {
	e, err := PreviousRun(path, retryNotSent)
	return e.Done, err
}

// Earlier is what an earlier run's results file says (PreviousRun).
type Earlier struct {
	// Done is Config.Done: job id → ok (see Previous).
	Done map[string]bool
	// Accounts is job id → the account that sent it, for the lines that
	// name one (tlworker send --accounts): Config.Accounts.
	Accounts map[string]string
}

// PreviousRun is Previous, with the account each line names.
func PreviousRun(path string, retryNotSent bool) (Earlier, error) {
	done := map[string]bool{}
	accounts := map[string]string{}
	e := Earlier{Done: done, Accounts: accounts}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return e, nil
	}
	if err != nil {
		return Earlier{}, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var good int64
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			if len(line) > 0 {
				if terr := f.Truncate(good); terr != nil {
					return Earlier{}, terr
				}
			}
			return e, nil
		}
		if err != nil {
			return Earlier{}, err
		}
		var o struct {
			ID      string `json:"id"`
			Account string `json:"account"`
			OK      bool   `json:"ok"`
			Error   *struct {
				Kind string `json:"kind"`
			} `json:"error"`
		}
		if json.Unmarshal(line, &o) != nil || o.ID == "" {
			return Earlier{}, fmt.Errorf("%s line %d is not a result line; refusing to append to it", path, n)
		}
		if retryNotSent && !o.OK && o.Error != nil && o.Error.Kind == KindNotSent {
			delete(done, o.ID) // a later line (this run's) decides
		} else {
			done[o.ID] = o.OK
		}
		if o.Account != "" {
			accounts[o.ID] = o.Account
		}
		good += int64(len(line))
	}
}
