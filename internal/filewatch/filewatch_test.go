package filewatch_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shopstream/shopstream/internal/filewatch"
)

// TestWatcher walks a file through the versions an operator writes: the
// first is read by New, an unchanged file applies nothing, a bad version
// (one that does not parse, one Apply refuses) is counted once and keeps
// the version in force, a missing file is logged once, and the next good
// version applies.
func TestWatcher(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "n.txt")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("1")
	var applied []int
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reloads_total"}, []string{"outcome"})
	var logs bytes.Buffer
	w, first, err := filewatch.New(filewatch.Config[int]{
		Path: path, What: "number", Parse: func(b []byte) (int, error) { return strconv.Atoi(strings.TrimSpace(string(b))) },
		Apply: func(n int) error {
			if n < 0 {
				return errors.New("negative")
			}
			applied = append(applied, n)
			return nil
		},
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Reloads: reloads,
	})
	if err != nil || first != 1 || len(applied) != 0 {
		t.Fatalf("New = %v, %v; applied %v", first, err, applied)
	}
	count := func() (ok, bad float64) {
		return testutil.ToFloat64(reloads.WithLabelValues("ok")), testutil.ToFloat64(reloads.WithLabelValues("error"))
	}
	steps := []struct {
		write   string // "" removes the file
		applied bool
		ok, bad float64
	}{
		{"1", false, 0, 0},
		{"x", false, 0, 1},
		{"x", false, 0, 1}, // the same bad version: counted once
		{"-5", false, 0, 2},
		{"", false, 0, 2},
		{"", false, 0, 2},
		{"7", true, 1, 2},
		{"7\n", true, 2, 2}, // other bytes, same number: applied again
	}
	for i, s := range steps {
		if s.write == "" {
			os.Remove(path)
		} else {
			write(s.write)
		}
		if got := w.Check(); got != s.applied {
			t.Fatalf("step %d (%q): Check = %v, want %v", i, s.write, got, s.applied)
		}
		if ok, bad := count(); ok != s.ok || bad != s.bad {
			t.Fatalf("step %d (%q): reloads ok %v error %v, want %v %v", i, s.write, ok, bad, s.ok, s.bad)
		}
	}
	if len(applied) != 2 || applied[0] != 7 || applied[1] != 7 {
		t.Fatalf("applied %v, want [7 7]", applied)
	}
	if n := strings.Count(logs.String(), "number file unreadable"); n != 1 {
		t.Fatalf("a missing file was logged %d times, want once:\n%s", n, logs.String())
	}

	// Run applies a change on its own and stops with its context.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	w2, _, err := filewatch.New(filewatch.Config[int]{Path: path, What: "number", Interval: 5 * time.Millisecond,
		Parse: func(b []byte) (int, error) { return strconv.Atoi(strings.TrimSpace(string(b))) },
		Apply: func(n int) error {
			if n == 8 {
				cancel()
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- w2.Run(ctx) }()
	write("8")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run never applied the new version")
	}
}

func TestNewRefusesWhatDoesNotRead(t *testing.T) {
	t.Parallel()
	parse := func(b []byte) (int, error) { return strconv.Atoi(string(b)) }
	apply := func(int) error { return nil }
	dir := t.TempDir()
	if _, _, err := filewatch.New(filewatch.Config[int]{Path: filepath.Join(dir, "none"), What: "n", Parse: parse, Apply: apply}); err == nil {
		t.Fatal("a missing file was accepted")
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := filewatch.New(filewatch.Config[int]{Path: bad, What: "n", Parse: parse, Apply: apply}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("a file that does not parse: %v, want an error naming it", err)
	}
	if _, _, err := filewatch.New(filewatch.Config[int]{Path: bad, What: "n", Parse: parse}); err == nil {
		t.Fatal("a watcher without Apply was made")
	}
}
