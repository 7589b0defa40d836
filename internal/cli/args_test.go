package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// TestFlagsAroundArguments: flags go before, between or after the
// positional arguments; "--" ends them, unless it is a flag's value.
func TestFlagsAroundArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  string
		a    bool
		s    string
	}{
		{args: []string{"x"}, pos: "[x]"},
		{args: []string{"x", "-a", "y"}, pos: "[x y]", a: true},
		{args: []string{"x", "--s", "v", "y", "--a"}, pos: "[x y]", a: true, s: "v"},
		{args: []string{"--s=v", "x"}, pos: "[x]", s: "v"},
		{args: []string{"x", "--", "-a"}, pos: "[x -a]"},
		{args: []string{"-a", "--", "--", "y"}, pos: "[-- y]", a: true},
		{args: []string{"-s", "--", "x"}, pos: "[x]", s: "--"},
		{args: []string{"-a", "--"}, pos: "[]", a: true},
	} {
		fs := newFlagSet("t", &bytes.Buffer{})
		a := fs.Bool("a", false, "")
		s := fs.String("s", "", "")
		pos, err := parseFlagsArgs(fs, tc.args)
		if err != nil || fmt.Sprint(pos) != tc.pos || *a != tc.a || *s != tc.s {
			t.Errorf("%q: positional %q, -a %v, -s %q, %v; want %s, %v, %q", tc.args, pos, *a, *s, err, tc.pos, tc.a, tc.s)
		}
	}
	// A command without positional arguments still refuses one, wherever
	// it is, and a bad flag after an argument is still an error.
	fs := newFlagSet("t", &bytes.Buffer{})
	fs.Bool("a", false, "")
	if err := parseFlags(fs, []string{"x", "-a"}); err == nil || !IsUsage(err) || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("parseFlags with an argument = %v, want a usage error naming it", err)
	}
	fs = newFlagSet("t", &bytes.Buffer{})
	if _, err := parseFlagsArgs(fs, []string{"x", "--nope"}); err == nil || !IsUsage(err) {
		t.Errorf("an unknown flag after an argument = %v, want a usage error", err)
	}
}

// TestCommandsTakeFlagsAfterTheirArguments: token revoke, customer erase
// and quarantine show read their store flags after the ID as before it.
func TestCommandsTakeFlagsAfterTheirArguments(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	p := store.Part{Partition: 0, From: 0, To: 2, Txs: []store.Tx{storetest.Tx("a1", "alice", at, 100, 0, 0)},
		Quarantined: []store.Quarantined{{Reason: "malformed_json", Raw: []byte("{"), Partition: 0, Offset: 1}}}
	if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{p}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	if _, stderr, err := runCLI(t, "token", "create", "--role", "viewer", "--name", "ops", "--data-dir", dir); err != nil {
		t.Fatalf("token create: %v\n%s", err, stderr)
	}
	out, stderr, err := runCLI(t, "token", "revoke", "1", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "token 1 (ops, viewer) revoked") {
		t.Fatalf("token revoke 1 --data-dir D: %v\n%s%s", err, out, stderr)
	}
	if out, _, err := runCLI(t, "token", "revoke", "--data-dir", dir, "--", "1"); err != nil || !strings.Contains(out, "revoked already") {
		t.Fatalf("token revoke --data-dir D -- 1: %v\n%s", err, out)
	}
	if _, _, err := runCLI(t, "token", "revoke", "1", "2", "--data-dir", dir); err == nil || !IsUsage(err) {
		t.Fatalf("token revoke with two IDs = %v, want a usage error", err)
	}

	out, stderr, err = runCLI(t, "customer", "erase", "alice", "--data-dir", dir, "--json")
	if err != nil {
		t.Fatalf("customer erase alice --data-dir D --json: %v\n%s", err, stderr)
	}
	var e store.Erasure
	if err := json.Unmarshal([]byte(out), &e); err != nil || !strings.HasPrefix(e.Pseudonym, "erased-") || e.Rows["transactions"] != 1 {
		t.Fatalf("customer erase --json printed %s (%v); want the erasure of alice's transaction as JSON", out, err)
	}

	out, stderr, err = runCLI(t, "quarantine", "show", "1", "--json", "--data-dir", dir)
	if err != nil || !strings.Contains(out, `"malformed_json"`) {
		t.Fatalf("quarantine show 1 --json --data-dir D: %v\n%s%s", err, out, stderr)
	}
}
