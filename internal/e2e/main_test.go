package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/shopstream/shopstream/internal/store/pgtest"
)

// binPath is the shopstream binary TestMain built.
var binPath string

func TestMain(m *testing.M) {
	bin, err := buildBinary()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binPath = bin
	pgtest.Main(m)
}

// buildBinary builds ./cmd/shopstream of this module into a temporary
// directory, which a watchdog removes once this process has ended (pgtest.Main
// exits without returning, so nothing after it would run).
func buildBinary() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "shopstream-e2e-")
	if err != nil {
		return "", fmt.Errorf("making the build directory: %w", err)
	}
	if err := removeWhenDone(dir); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	bin := filepath.Join(dir, "shopstream")
	// go test puts its toolchain's bin directory first on PATH.
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/shopstream")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build -o %s ./cmd/shopstream in %s: %w\n%s", bin, root, err, out)
	}
	return bin, nil
}

// moduleRoot walks up from the working directory (the package's, under go
// test) to the directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found above the working directory")
		}
		dir = parent
	}
}

// removeWhenDone starts a shell, in a session of its own, that removes dir
// once this process has ended, however it ends.
func removeWhenDone(dir string) error {
	const script = `while [ -d "/proc/$1" ]; do sleep 1; done; rm -rf "$2"`
	cmd := exec.Command("/bin/sh", "-c", script, "e2e-cleanup", strconv.Itoa(os.Getpid()), dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the cleanup of %s: %w", dir, err)
	}
	return cmd.Process.Release()
}
