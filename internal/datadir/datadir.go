// Package datadir gives one process at a time a data directory: the
// embedded store and broker keep their files there, and two processes
// writing them at once corrupt each other's view (issue: a second `run` on
// one directory stalled the first and skipped records on its restart).
//
// Acquire takes an exclusive advisory lock (flock(2), through
// github.com/gofrs/flock) on a file in the directory before anything else
// opens it, and writes who holds it (pid, host, command, start time) into
// the file, so a second process fails at once with a message naming the
// holder. The operating system drops the lock when the holder exits, even
// when it is killed, so a crash never leaves a stale lock behind.
package datadir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
)

// LockFile is the name of the lock file in a data directory.
const LockFile = "shopstream.lock"

// Holder describes the process that holds a data directory.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Command string    `json:"command"`
	Started time.Time `json:"started"`
}

func (h *Holder) String() string {
	return fmt.Sprintf("pid %d on %s (%s), since %s", h.PID, h.Host, h.Command, h.Started.Format(time.RFC3339))
}

// ErrLocked is wrapped by a *LockedError.
var ErrLocked = errors.New("data directory is in use")

// LockedError reports a data directory another process holds.
type LockedError struct {
	Dir string
	// Holder is nil when the lock file names no holder (it was being
	// written, or is unreadable).
	Holder *Holder
}

func (e *LockedError) Error() string {
	who := "another process (its lock file names no holder)"
	if e.Holder != nil {
		who = e.Holder.String()
	}
	return fmt.Sprintf("data directory %s is in use by %s: stop it first, or give this one another directory", e.Dir, who)
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// Lock is a held data directory.
type Lock struct {
	fl *flock.Flock
}

// Acquire creates dir if needed and takes its lock for this process,
// recording command as what holds it. It fails at once, with a
// *LockedError naming the holder, when another process (or another Lock in
// this one) holds it.
func Acquire(dir, command string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, LockFile)
	fl := flock.New(path)
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("locking data directory %s: %w", dir, err)
	}
	if !ok {
		return nil, &LockedError{Dir: dir, Holder: readHolder(path)}
	}
	host, _ := os.Hostname()
	b, _ := json.Marshal(Holder{PID: os.Getpid(), Host: host, Command: command, Started: time.Now().UTC().Truncate(time.Second)})
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		fl.Unlock() //nolint:errcheck // failing anyway
		return nil, fmt.Errorf("writing the holder of data directory %s: %w", dir, err)
	}
	return &Lock{fl: fl}, nil
}

func readHolder(path string) *Holder {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var h Holder
	if json.Unmarshal(b, &h) != nil || h.PID == 0 {
		return nil
	}
	return &h
}

// Release gives the directory up. The lock file stays (removing it would
// let two processes lock two different files of the same name).
func (l *Lock) Release() error {
	if err := l.fl.Unlock(); err != nil {
		return fmt.Errorf("unlocking %s: %w", l.fl.Path(), err)
	}
	return nil
}
