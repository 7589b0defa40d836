package pgcluster

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMissingBinariesSayHowToInstall(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	_, err := findBinariesIn([]string{empty})
	if !errors.Is(err, ErrNoServer) {
		t.Fatalf("err = %v, want ErrNoServer", err)
	}
	if !strings.Contains(err.Error(), "apt-get install -y postgresql") {
		t.Errorf("error does not say how to install the server: %v", err)
	}
}

func TestFindBinariesNeedsAllThree(t *testing.T) {
	t.Parallel()
	partial, full := t.TempDir(), t.TempDir()
	for _, f := range []string{"initdb", "pg_ctl"} {
		if err := os.WriteFile(filepath.Join(partial, f), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"initdb", "pg_ctl", "postgres"} {
		if err := os.WriteFile(filepath.Join(full, f), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := findBinariesIn([]string{partial, full})
	if err != nil {
		t.Fatal(err)
	}
	if b.pgCtl != filepath.Join(full, "pg_ctl") {
		t.Errorf("found pg_ctl %s, want the one in %s", b.pgCtl, full)
	}
}
