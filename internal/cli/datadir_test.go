package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/datadir"
)

// syncBuffer is an output sink the command under test and the test may
// share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTwoRunsOnOneDataDir starts `run` on a data dir, then a second `run`
// on the same dir: the second fails at once naming the first as the
// holder, and the first goes on undisturbed; after the first ends, the
// dir is free again.
func TestTwoRunsOnOneDataDir(t *testing.T) {
	dir := t.TempDir()
	args := []string{"run", "--addr", "127.0.0.1:0", "--data-dir", dir, "--customers", "2000", "--history", "0",
		"--rate", "200", "--analytics-interval", "0"}
	// The first run ends by itself (cancelling it while it still starts
	// up would make it fail).
	var out1, err1 syncBuffer
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), append(args, "--duration", "8s"), &out1, &err1) }()

	// The first run is up once it prints where its dashboard is.
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out1.String(), "dashboard on") {
		select {
		case err := <-done:
			t.Fatalf("first run ended early: %v\n%s", err, err1.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("first run did not come up:\n%s", err1.String())
		}
	}

	var out2, err2 bytes.Buffer
	start := time.Now()
	err := Run(context.Background(), args, &out2, &err2)
	took := time.Since(start)
	var locked *datadir.LockedError
	if !errors.As(err, &locked) {
		t.Fatalf("second run on the same data dir: err = %v, want a *datadir.LockedError", err)
	}
	if locked.Holder == nil || locked.Holder.PID != os.Getpid() || locked.Holder.Command != "shopstream run" {
		t.Fatalf("holder %+v, want this process's shopstream run", locked.Holder)
	}
	if msg := err.Error(); !strings.Contains(msg, "--data-dir") || !strings.Contains(msg, "shopstream run") || !strings.Contains(msg, dir) {
		t.Fatalf("message %q does not say which flag, dir and holder", msg)
	}
	if took > 5*time.Second {
		t.Fatalf("second run took %s to fail; want at once", took)
	}
	if _, err := os.Stat(filepath.Join(dir, "kafka")); err != nil {
		t.Fatalf("the first run's broker data is gone: %v", err)
	}

	if err := <-done; err != nil {
		t.Fatalf("first run: %v\n%s", err, err1.String())
	}
	if !strings.Contains(out1.String(), "stored ") {
		t.Fatalf("first run printed no final report:\n%s", out1.String())
	}
	l, err := datadir.Acquire(dir, "test")
	if err != nil {
		t.Fatalf("data dir still locked after the first run ended: %v", err)
	}
	l.Release()
}
