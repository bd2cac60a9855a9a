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
// result line, and whether it was ok (Config.Done). A missing file is an
// empty run. A last line cut short by a crash is cut off the file so
// appending continues on a line boundary; a line that is not a result line
// is an error (the file is not appended to).
func Previous(path string) (map[string]bool, error) {
	done := map[string]bool{}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return done, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var good int64
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			if len(line) > 0 {
				if terr := f.Truncate(good); terr != nil {
					return nil, terr
				}
			}
			return done, nil
		}
		if err != nil {
			return nil, err
		}
		var o struct {
			ID string `json:"id"`
			OK bool   `json:"ok"`
		}
		if json.Unmarshal(line, &o) != nil || o.ID == "" {
			return nil, fmt.Errorf("%s line %d is not a result line; refusing to append to it", path, n)
		}
		done[o.ID] = o.OK
		good += int64(len(line))
	}
}
