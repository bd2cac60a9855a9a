package accountpool

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// A Journal keeps which account holds each chat (and each job that names
// no chat) across runs: tlworker send writes it next to --out
// (JournalPath) and reads it back with --resume, so a rerun sends a chat's
// remaining jobs, and any job that may have been sent, through the same
// account. One JSON line per assignment, written (not buffered) before the
// job is sent: {"chat":"@name","account":"a"} or {"job":"id","account":"a"}.
// A nil *Journal keeps nothing.
type Journal struct {
	mu    sync.Mutex
	f     *os.File
	path  string
	chats map[string]string
	jobs  map[string]string
}

// JournalPath is the journal that goes with a results file.
func JournalPath(out string) string { return out + ".accounts" }

type entry struct {
	Chat    string `json:"chat,omitempty"`
	Job     string `json:"job,omitempty"`
	Account string `json:"account"`
}

// OpenJournal opens the journal at path: with resume, it reads what it
// holds (a last line cut short by a crash is cut off; any other line that
// is not an entry is an error naming it) and appends; without, it starts
// it empty. The caller closes it.
func OpenJournal(path string, resume bool) (*Journal, error) {
	j := &Journal{path: path, chats: map[string]string{}, jobs: map[string]string{}}
	mode := os.O_CREATE | os.O_RDWR | os.O_TRUNC
	if resume {
		mode = os.O_CREATE | os.O_RDWR
	}
	f, err := os.OpenFile(path, mode, 0o644)
	if err != nil {
		return nil, err
	}
	if resume {
		if err := j.read(f); err != nil {
			f.Close()
			return nil, err
		}
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, err
	}
	j.f = f
	return j, nil
}

func (j *Journal) read(f *os.File) error {
	r := bufio.NewReader(f)
	var good int64
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			if len(line) > 0 {
				return f.Truncate(good)
			}
			return nil
		}
		if err != nil {
			return err
		}
		var e entry
		if json.Unmarshal(line, &e) != nil || e.Account == "" || (e.Chat == "") == (e.Job == "") {
			return fmt.Errorf("%s line %d: not an account entry (want {\"chat\":…,\"account\":…} or {\"job\":…,\"account\":…})", j.path, n)
		}
		if e.Chat != "" {
			j.chats[e.Chat] = e.Account
		} else {
			j.jobs[e.Job] = e.Account
		}
		good += int64(len(line))
	}
}

// job returns the account an earlier run gave the job id (one without a
// chat).
func (j *Journal) job(id string) (string, bool) {
	if j == nil {
		return "", false
	}
	a, ok := j.jobs[id]
	return a, ok
}

// write records chat's account (or, with chat "", the job's).
func (j *Journal) write(chat, id, account string) error {
	if j == nil {
		return nil
	}
	e := entry{Chat: chat, Account: account}
	if chat == "" {
		e.Job = id
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	_, err = j.f.Write(append(b, '\n'))
	return err
}

// Close closes the journal's file.
func (j *Journal) Close() error {
	if j == nil {
		return nil
	}
	return j.f.Close()
}
