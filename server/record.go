package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// recordTimeFormat names recorded webhooks by their arrival time, fixed width so that the
// names sort in time order.
const recordTimeFormat = "20060102T150405.000000000Z"

// recorder writes accepted webhook bodies under dir/<channel>/, one file each, named so that
// sorting the names gives arrival order.
type recorder struct {
	dir string
	seq atomic.Uint64 // breaks ties between requests of the same instant
}

func newRecorder(dir string) *recorder { return &recorder{dir: dir} }

// name returns the file name of a webhook that arrived at t.
func (r *recorder) name(t time.Time) string {
	return fmt.Sprintf("%s-%06d.json", t.UTC().Format(recordTimeFormat), r.seq.Add(1))
}

// write stores body as dir/channel/name with mode 0600, through a temporary file renamed
// into place, so that a reader never sees a partial file.
func (r *recorder) write(channel, name string, body []byte) (err error) {
	dir := filepath.Join(r.dir, channel)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("record webhook: %w", err)
	}
	f, err := os.CreateTemp(dir, ".incoming-*.tmp")
	if err != nil {
		return fmt.Errorf("record webhook: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	_, werr := f.Write(body)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("record webhook %s: %w", name, err)
	}
	if err := os.Chmod(f.Name(), 0o600); err != nil {
		return fmt.Errorf("record webhook %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("record webhook %s: %w", name, err)
	}
	return nil
}
