package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// RunAuth runs the conformance suite of store.Auth; open returns a fresh,
// empty store for one test, which must implement it.
func RunAuth(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a store.Auth)
	}{
		{"Tokens", testTokens},
		{"RevokeTwice", testRevokeTwice},
		{"UnknownToken", testUnknownToken},
		{"RoleChecked", testRoleChecked},
		{"Audit", testAudit},
		{"AuditPages", testAuditPages},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			a, ok := s.(store.Auth)
			if !ok {
				t.Fatalf("%T does not implement store.Auth", s)
			}
			tc.fn(t, a)
		})
	}
}

var authT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func createToken(t *testing.T, a store.Auth, name, role string) int64 {
	t.Helper()
	id, err := a.CreateToken(context.Background(), &store.TokenRow{Name: name, Role: role, Hash: "h-" + name, CreatedAt: authT0})
	if err != nil {
		t.Fatalf("CreateToken %s: %v", name, err)
	}
	return id
}

func testTokens(t *testing.T, a store.Auth) {
	ctx := context.Background()
	if n, err := a.ActiveTokens(ctx); err != nil || n != 0 {
		t.Fatalf("ActiveTokens of an empty store = %d, %v; want 0", n, err)
	}
	ops := createToken(t, a, "ops", store.RoleAdmin)
	dash := createToken(t, a, "dash", store.RoleViewer)
	if ops == dash || ops <= 0 || dash <= 0 {
		t.Fatalf("token IDs %d and %d: want distinct positive IDs", ops, dash)
	}
	tok, err := a.Token(ctx, dash)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Name != "dash" || tok.Role != store.RoleViewer || tok.Hash != "h-dash" || !tok.CreatedAt.Equal(authT0) ||
		tok.RevokedAt != nil || tok.LastUsedAt != nil {
		t.Fatalf("Token(%d) = %+v", dash, tok)
	}
	used := authT0.Add(time.Hour)
	if err := a.TouchToken(ctx, dash, used); err != nil {
		t.Fatal(err)
	}
	revoked := authT0.Add(2 * time.Hour)
	before, err := a.RevokeToken(ctx, ops, revoked)
	if err != nil {
		t.Fatal(err)
	}
	if before.RevokedAt != nil || before.Name != "ops" {
		t.Fatalf("RevokeToken returned %+v as before; want the unrevoked ops", before)
	}
	if n, err := a.ActiveTokens(ctx); err != nil || n != 1 {
		t.Fatalf("ActiveTokens after one revocation = %d, %v; want 1", n, err)
	}
	ts, err := a.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[0].ID != ops || ts[1].ID != dash {
		t.Fatalf("Tokens = %+v, want ops then dash", ts)
	}
	if ts[0].RevokedAt == nil || !ts[0].RevokedAt.Equal(revoked) {
		t.Fatalf("ops revoked at %v, want %v", ts[0].RevokedAt, revoked)
	}
	if ts[1].LastUsedAt == nil || !ts[1].LastUsedAt.Equal(used) || ts[1].RevokedAt != nil {
		t.Fatalf("dash = %+v, want last used at %v and not revoked", ts[1], used)
	}
}

func testRevokeTwice(t *testing.T, a store.Auth) {
	ctx := context.Background()
	id := createToken(t, a, "ops", store.RoleAnalyst)
	first := authT0.Add(time.Minute)
	if _, err := a.RevokeToken(ctx, id, first); err != nil {
		t.Fatal(err)
	}
	before, err := a.RevokeToken(ctx, id, first.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if before.RevokedAt == nil || !before.RevokedAt.Equal(first) {
		t.Fatalf("second revocation saw %+v, want revoked at %v", before, first)
	}
	tok, err := a.Token(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !tok.RevokedAt.Equal(first) {
		t.Fatalf("revoked at %v after a second revocation, want the first %v", tok.RevokedAt, first)
	}
}

func testUnknownToken(t *testing.T, a store.Auth) {
	ctx := context.Background()
	if _, err := a.Token(ctx, 42); !errors.Is(err, store.ErrUnknownToken) {
		t.Fatalf("Token(42) of an empty store: %v, want ErrUnknownToken", err)
	}
	if _, err := a.RevokeToken(ctx, 42, authT0); !errors.Is(err, store.ErrUnknownToken) {
		t.Fatalf("RevokeToken(42) of an empty store: %v, want ErrUnknownToken", err)
	}
}

func testRoleChecked(t *testing.T, a store.Auth) {
	if _, err := a.CreateToken(context.Background(), &store.TokenRow{Name: "x", Role: "root", Hash: "h", CreatedAt: authT0}); err == nil {
		t.Fatal("a token of role root was stored")
	}
}

func testAudit(t *testing.T, a store.Auth) {
	ctx := context.Background()
	e := store.AuditEntry{At: authT0, Actor: "token 1 (ops)", Action: "alert.label", Target: "tx-1",
		Before: json.RawMessage(`{"status":"open"}`), After: json.RawMessage(`{"status":"confirmed_fraud"}`)}
	id, err := a.RecordAudit(ctx, &e)
	if err != nil {
		t.Fatal(err)
	}
	// No state before, and bytes that are not JSON, are both stored as null.
	id2, err := a.RecordAudit(ctx, &store.AuditEntry{At: authT0.Add(time.Second), Actor: "local", Action: "token.create", Target: "2",
		After: json.RawMessage(`{not json`)})
	if err != nil {
		t.Fatal(err)
	}
	if id2 <= id {
		t.Fatalf("audit IDs %d then %d: want increasing", id, id2)
	}
	es, err := a.AuditEntries(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].ID != id2 || es[1].ID != id {
		t.Fatalf("AuditEntries = %+v, want the two entries newest first", es)
	}
	got := es[1]
	if !got.At.Equal(authT0) || got.Actor != e.Actor || got.Action != e.Action || got.Target != e.Target {
		t.Fatalf("entry = %+v, want %+v", got, e)
	}
	if !jsonEqual(t, got.Before, e.Before) || !jsonEqual(t, got.After, e.After) {
		t.Fatalf("before/after = %s/%s, want %s/%s", got.Before, got.After, e.Before, e.After)
	}
	if string(es[0].Before) != "null" || string(es[0].After) != "null" {
		t.Fatalf("missing and invalid states stored as %s and %s, want null and null", es[0].Before, es[0].After)
	}
}

func testAuditPages(t *testing.T, a store.Auth) {
	ctx := context.Background()
	var ids []int64
	for i := range 5 {
		id, err := a.RecordAudit(ctx, &store.AuditEntry{At: authT0.Add(time.Duration(i) * time.Second), Actor: "local",
			Action: "x", Target: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	page, err := a.AuditEntries(ctx, store.AuditFilter{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 2 || page[0].ID != ids[4] || page[1].ID != ids[3] {
		t.Fatalf("first page %+v, want entries %d and %d", page, ids[4], ids[3])
	}
	page, err = a.AuditEntries(ctx, store.AuditFilter{Limit: 10, BeforeID: page[1].ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 3 || page[0].ID != ids[2] || page[2].ID != ids[0] {
		t.Fatalf("second page %+v, want the three older entries", page)
	}
	// Filters, alone and with a page.
	if _, err := a.RecordAudit(ctx, &store.AuditEntry{At: authT0.Add(10 * time.Second), Actor: "token 3 (ops)", Action: "y", Target: "1"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f    store.AuditFilter
		want []string // targets, newest first
	}{
		{store.AuditFilter{Actor: "local"}, []string{"4", "3", "2", "1", "0"}},
		{store.AuditFilter{Actor: "token 3 (ops)"}, []string{"1"}},
		{store.AuditFilter{Action: "x", Target: "1"}, []string{"1"}},
		{store.AuditFilter{Target: "1"}, []string{"1", "1"}},
		{store.AuditFilter{Since: authT0.Add(time.Second), Until: authT0.Add(3 * time.Second)}, []string{"2", "1"}},
		{store.AuditFilter{Since: authT0.Add(4 * time.Second)}, []string{"1", "4"}},
		{store.AuditFilter{Actor: "local", Limit: 2, BeforeID: ids[3]}, []string{"2", "1"}},
		{store.AuditFilter{Action: "none"}, nil},
	} {
		es, err := a.AuditEntries(ctx, c.f)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range es {
			got = append(got, e.Target)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("AuditEntries(%+v) targets %v, want %v", c.f, got, c.want)
		}
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("stored %q is not JSON: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}
