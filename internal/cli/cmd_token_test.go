package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// TestTokenCommands creates, lists and revokes tokens as an operator
// would, and checks the store and the audit trail behind them.
func TestTokenCommands(t *testing.T) {
	dir := t.TempDir()
	out, stderr, err := runCLI(t, "token", "create", "--role", "analyst", "--name", "alice", "--data-dir", dir)
	if err != nil {
		t.Fatalf("token create: %v\n%s", err, stderr)
	}
	m := regexp.MustCompile(`(?m)^token (\d+) \(alice, analyst\) created.*\n(ss1_\d+_[A-Za-z0-9_-]{43})$`).FindStringSubmatch(strings.TrimSpace(out))
	if m == nil {
		t.Fatalf("token create printed:\n%s", out)
	}
	secretText := m[2]
	out, _, err = runCLI(t, "token", "list", "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^`+m[1]+`\s+alice\s+analyst\s+\S+\s+-\s+-$`).MatchString(out) || strings.Contains(out, secretText) {
		t.Fatalf("token list:\n%s", out)
	}
	if out, _, err = runCLI(t, "token", "revoke", "--data-dir", dir, m[1]); err != nil || !strings.Contains(out, "revoked") {
		t.Fatalf("token revoke: %v\n%s", err, out)
	}
	if out, _, err = runCLI(t, "token", "revoke", "--data-dir", dir, m[1]); err != nil || !strings.Contains(out, "revoked already") {
		t.Fatalf("second revoke: %v\n%s", err, out)
	}
	for _, bad := range [][]string{
		{"token", "create", "--role", "root", "--name", "x", "--data-dir", dir},
		{"token", "create", "--role", "admin", "--data-dir", dir},
		{"token", "revoke", "--data-dir", dir, "99"},
		{"token", "revoke", "--data-dir", dir, "x"},
		{"token", "rotate"},
	} {
		if _, _, err := runCLI(t, bad...); err == nil || !IsUsage(err) {
			t.Errorf("%v: %v, want a usage error", bad, err)
		}
	}
	_, _, err = runCLI(t, "token", "create", "--role", "root", "--name", "x", "--data-dir", dir)
	if !strings.Contains(err.Error(), "-role") {
		t.Errorf("bad role: %v does not name the flag", err)
	}
	// A flag left out is said to be required, by its name, not called an
	// invalid empty value.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"token", "create", "--data-dir", dir}, "flags -role and -name are required"},
		{[]string{"token", "create", "--name", "x", "--data-dir", dir}, "flag -role is required"},
		{[]string{"token", "create", "--role", "viewer", "--data-dir", dir}, "flag -name is required"},
	} {
		if _, _, err := runCLI(t, c.args...); err == nil || !IsUsage(err) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), `invalid value ""`) {
			t.Errorf("%v: %v, want a usage error saying %q", c.args, err, c.want)
		}
	}

	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	es, err := st.AuditEntries(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 || es[2].Action != "token.create" || es[1].Action != "token.revoke" || !strings.HasPrefix(es[0].Actor, "cli") {
		t.Fatalf("audit trail %+v, want create, revoke and revoke again by the cli", es)
	}
	var before, after map[string]any
	json.Unmarshal(es[1].Before, &before) //nolint:errcheck // checked by the comparison
	json.Unmarshal(es[1].After, &after)   //nolint:errcheck // checked by the comparison
	if before["revoked_at"] != nil || after["revoked_at"] == nil || after["name"] != "alice" {
		t.Fatalf("revocation's before %s and after %s", es[1].Before, es[1].After)
	}
}

// TestListenRefusedWithoutTokens: serve and process will not listen on an
// address others can reach while no token exists, and say what to do.
func TestListenRefusedWithoutTokens(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"serve", "--data-dir", dir, "--addr", ":0"},
		{"serve", "--data-dir", dir, "--addr", "0.0.0.0:0"},
		{"process", "--data-dir", dir, "--brokers", "127.0.0.1:1", "--addr", ":0"},
		{"run", "--data-dir", dir, "--addr", ":0"},
	} {
		_, _, err := runCLI(t, args...)
		if err == nil || !IsUsage(err) {
			t.Fatalf("%v: %v, want a usage error", args, err)
		}
		for _, want := range []string{"refusing to listen on --addr", "shopstream token create", "--insecure-allow-unauthenticated", "127.0.0.1"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%v: %q does not say %q", args, err, want)
			}
		}
	}
	// Tokens that are all revoked are no authentication either, and the
	// refusal says they are revoked rather than that none exists.
	if _, stderr, err := runCLI(t, "token", "create", "--role", "admin", "--name", "gone", "--data-dir", dir); err != nil {
		t.Fatalf("token create: %v\n%s", err, stderr)
	}
	if _, stderr, err := runCLI(t, "token", "revoke", "--data-dir", dir, "1"); err != nil {
		t.Fatalf("token revoke: %v\n%s", err, stderr)
	}
	if _, _, err := runCLI(t, "serve", "--data-dir", dir, "--addr", ":0"); err == nil || !IsUsage(err) ||
		!strings.Contains(err.Error(), "every API token of this store is revoked (1, shopstream token list shows them)") {
		t.Errorf("serve with only a revoked token: %v, want a refusal saying the tokens are revoked", err)
	}
	if _, _, err := runCLI(t, "serve", "--data-dir", dir, "--tls-cert", "c.pem"); err == nil || !strings.Contains(err.Error(), "-tls-key") {
		t.Errorf("--tls-cert alone: %v, want an error naming -tls-key", err)
	}
	if _, _, err := runCLI(t, "serve", "--data-dir", dir, "--max-body", "0"); err == nil || !strings.Contains(err.Error(), "-max-body") {
		t.Errorf("--max-body 0: %v, want an error naming the flag", err)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, _, err := runCLI(t, args...)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^shopstream \S+ \(commit \S+, built \S+, go1\.\d+`).MatchString(out) {
			t.Fatalf("%v printed %q", args, out)
		}
	}
	old := [3]string{version, commit, date}
	version, commit, date = "v9.9.9", "abc123", "2026-05-01T10:00:00Z"
	defer func() { version, commit, date = old[0], old[1], old[2] }()
	out, _, err := runCLI(t, "version", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var b BuildInfo
	if err := json.Unmarshal([]byte(out), &b); err != nil || b.Version != "v9.9.9" || b.Commit != "abc123" || b.Date != "2026-05-01T10:00:00Z" || !strings.HasPrefix(b.GoVersion, "go") {
		t.Fatalf("version --json: %s (%v)", out, err)
	}
	reg := newRegistry(nil)
	want := `# HELP shopstream_build_info Always 1; the labels say which build of shopstream runs.
# TYPE shopstream_build_info gauge
shopstream_build_info{commit="abc123",date="2026-05-01T10:00:00Z",goversion="` + b.GoVersion + `",version="v9.9.9"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "shopstream_build_info"); err != nil {
		t.Fatal(err)
	}
}

// TestTokenCreateIfMissing: a deployment step that runs on every start
// creates its token once; a revoked one is replaced, and a token of that
// name with another role is an error, not skipped.
func TestTokenCreateIfMissing(t *testing.T) {
	dir := t.TempDir()
	create := func(role string) (string, error) {
		out, stderr, err := runCLI(t, "token", "create", "--role", role, "--name", "compose-ops", "--if-missing", "--data-dir", dir)
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, stderr)
		}
		return out, err
	}
	out, err := create("admin")
	if err != nil || !strings.Contains(out, "token 1 (compose-ops, admin) created") || !strings.Contains(out, "ss1_1_") {
		t.Fatalf("first create --if-missing: %v\n%s", err, out)
	}
	out, err = create("admin")
	if err != nil || !strings.Contains(out, "token 1 (compose-ops, admin) exists") || strings.Contains(out, "ss1_") {
		t.Fatalf("second create --if-missing: %v\n%s; want token 1 named and no new secret", err, out)
	}
	if _, err := create("viewer"); err == nil || !strings.Contains(err.Error(), "token 1 named compose-ops is admin, not viewer") {
		t.Fatalf("create --if-missing with another role: %v", err)
	}
	if _, _, err := runCLI(t, "token", "revoke", "1", "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
	if out, err = create("admin"); err != nil || !strings.Contains(out, "token 2 (compose-ops, admin) created") {
		t.Fatalf("create --if-missing after the revocation: %v\n%s", err, out)
	}
	// Without the flag, a second token of the name is made, as before.
	if out, _, err = runCLI(t, "token", "create", "--role", "admin", "--name", "compose-ops", "--data-dir", dir); err != nil || !strings.Contains(out, "token 3 ") {
		t.Fatalf("create without --if-missing: %v\n%s", err, out)
	}
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts, err := st.Tokens(context.Background())
	if err != nil || len(ts) != 3 {
		t.Fatalf("tokens %+v, %v; want 3", ts, err)
	}
}
