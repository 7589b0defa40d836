package datadir_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/datadir"
)

func TestOneHolderAtATime(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	first, err := datadir.Acquire(dir, "shopstream run")
	if err != nil {
		t.Fatal(err)
	}
	_, err = datadir.Acquire(dir, "shopstream serve")
	var locked *datadir.LockedError
	if !errors.As(err, &locked) || !errors.Is(err, datadir.ErrLocked) {
		t.Fatalf("second Acquire = %v, want a *LockedError", err)
	}
	if locked.Holder == nil || locked.Holder.PID != os.Getpid() || locked.Holder.Command != "shopstream run" || locked.Holder.Started.IsZero() {
		t.Fatalf("holder = %+v, want this process running shopstream run", locked.Holder)
	}
	for _, want := range []string{dir, "shopstream run", "pid "} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not name %q", err, want)
		}
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	second, err := datadir.Acquire(dir, "shopstream serve")
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	defer second.Release()
}

func TestLockFileWithoutHolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	held, err := datadir.Acquire(dir, "shopstream process")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	if err := os.WriteFile(filepath.Join(dir, datadir.LockFile), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = datadir.Acquire(dir, "shopstream run")
	var locked *datadir.LockedError
	if !errors.As(err, &locked) || locked.Holder != nil || !strings.Contains(err.Error(), "names no holder") {
		t.Fatalf("Acquire = %v, want a *LockedError without holder", err)
	}
}
