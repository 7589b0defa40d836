// Package filewatch keeps what a configuration file says in force while the
// process runs: the fraud rules (--rules), the data-quality contract
// (--quality-config) and the alert routes (--alert-routes) are each read
// at start, an error then stopping the start, and read again every few
// seconds; a version whose bytes changed is parsed and applied, and one that
// does not parse or apply is logged and counted once, the version in force
// staying.
//
// It polls rather than watching with inotify: one small read every few
// seconds costs nothing, works on every file system and on a Kubernetes
// config map's symlink swap, and needs no dependency.
package filewatch

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Watcher of a file whose content parses to a T.
type Config[T any] struct {
	// Path is the file. Required.
	Path string
	// What names the file's content in log lines, e.g. "fraud rules".
	// Required.
	What string
	// Parse turns the file's bytes into a T. Required.
	Parse func([]byte) (T, error)
	// Apply puts a changed version in force; an error keeps the one in
	// force, as a parse error does. Required.
	Apply func(T) error
	// Interval is how often the file is read. Defaults to 2 s.
	Interval time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Reloads, when set, counts the changed versions read, by outcome: its
	// one label is "ok" or "error".
	Reloads *prometheus.CounterVec
}

// Watcher keeps a file's content in force; see the package comment.
type Watcher[T any] struct {
	cfg Config[T]
	log *slog.Logger

	mu     sync.Mutex // guards sum and unread: Check may run beside Run
	sum    [32]byte   // of the last version read, good or bad
	unread string     // the last read error, reported once
}

// New reads and parses the file and returns the Watcher with what the file
// says, for the caller to put in force (Apply is called for later versions
// only). A file that cannot be read or parsed is an error naming it.
func New[T any](cfg Config[T]) (*Watcher[T], T, error) {
	var zero T
	if cfg.Path == "" || cfg.What == "" || cfg.Parse == nil || cfg.Apply == nil {
		return nil, zero, errors.New("filewatch: Path, What, Parse and Apply are required")
	}
	if cfg.Interval == 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.Interval < 0 {
		return nil, zero, fmt.Errorf("filewatch: interval %v is negative", cfg.Interval)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	w := &Watcher[T]{cfg: cfg, log: cfg.Logger}
	b, err := os.ReadFile(cfg.Path)
	if err != nil {
		return nil, zero, err
	}
	v, err := cfg.Parse(b)
	if err != nil {
		return nil, zero, fmt.Errorf("%s: %w", cfg.Path, err)
	}
	w.sum = sha256.Sum256(b)
	return w, v, nil
}

// Run reads the file every Interval until ctx ends.
func (w *Watcher[T]) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			w.Check()
		}
	}
}

// Check reads the file once and, when its bytes changed, parses and
// applies it. It reports whether a new version was put in force. A read
// error is logged once until the file reads again; a version that does not
// parse or apply is logged and counted once.
func (w *Watcher[T]) Check() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, err := os.ReadFile(w.cfg.Path)
	if err != nil {
		if err.Error() != w.unread {
			w.unread = err.Error()
			w.log.Warn(w.cfg.What+" file unreadable; keeping the version in force", "file", w.cfg.Path, "err", err)
		}
		return false
	}
	w.unread = ""
	sum := sha256.Sum256(b)
	if sum == w.sum {
		return false
	}
	w.sum = sum // a bad version is reported once, not on every look
	v, err := w.cfg.Parse(b)
	if err == nil {
		err = w.cfg.Apply(v)
	}
	if err != nil {
		w.count("error")
		w.log.Error(w.cfg.What+" file does not parse or apply; keeping the version in force", "file", w.cfg.Path, "err", err)
		return false
	}
	w.count("ok")
	w.log.Info(w.cfg.What+" reloaded", "file", w.cfg.Path)
	return true
}

func (w *Watcher[T]) count(outcome string) {
	if w.cfg.Reloads != nil {
		w.cfg.Reloads.WithLabelValues(outcome).Inc()
	}
}
