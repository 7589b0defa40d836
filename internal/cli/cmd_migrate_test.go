package cli

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestMigrateCommands migrates an empty store as a deployment's init step
// would, and checks that a process started with --auto-migrate=false
// refuses the store before and takes it after.
func TestMigrateCommands(t *testing.T) {
	dir := t.TempDir()
	_, _, err := runCLI(t, "serve", "--data-dir", dir, "--auto-migrate=false", "--addr", "127.0.0.1:0")
	if err == nil || !regexp.MustCompile(`schema is at version 0, older than this build of shopstream needs \(\d+\)`).MatchString(err.Error()) {
		t.Fatalf("serve --auto-migrate=false on an empty store: %v, want a refusal naming both versions", err)
	}
	out, _, err := runCLI(t, "migrate", "status", "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`schema at version 0, this build knows (\d+): (\d+) pending`).FindStringSubmatch(out)
	if m == nil || m[1] != m[2] || !strings.Contains(out, "1        0001_init.sql") || strings.Count(out, "pending") != mustAtoi(t, m[1])+1 {
		t.Fatalf("migrate status of an empty store:\n%s", out)
	}
	build := m[1]
	out, _, err = runCLI(t, "migrate", "up", "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(out, "applied 00") != mustAtoi(t, build) || !strings.Contains(out, "schema at version "+build+", "+build+" migration(s) applied now") {
		t.Fatalf("migrate up:\n%s", out)
	}
	out, _, err = runCLI(t, "migrate", "up", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "schema at version "+build+", 0 migration(s) applied now") {
		t.Fatalf("second migrate up: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, "migrate", "status", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "schema at version "+build+", this build knows "+build+": up to date") || strings.Contains(out, "pending") {
		t.Fatalf("migrate status after up: %v\n%s", err, out)
	}
	// The schema is current now: a command that requires it opens the store.
	_, _, err = runCLI(t, "token", "list", "--data-dir", dir, "--auto-migrate=false")
	if err != nil {
		t.Fatalf("token list --auto-migrate=false after migrate up: %v", err)
	}
	for _, bad := range [][]string{{"migrate"}, {"migrate", "down"}, {"migrate", "up", "extra"}} {
		if _, _, err := runCLI(t, bad...); err == nil || !IsUsage(err) {
			t.Errorf("%v: %v, want a usage error", bad, err)
		}
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
