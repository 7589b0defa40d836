package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

func TestMain(m *testing.M) {
	// `process`, run inside this test binary, would set its default soft
	// memory limit (900 MiB) on the whole binary, whose other tests hold
	// larger shops at once; with GOMEMLIMIT set it leaves the runtime's
	// setting (here: none) in force, as it does for an operator.
	os.Setenv("GOMEMLIMIT", "off")
	pgtest.Main(m)
}

// shopstream customer erase ID erases the customer in the store named by
// --data-dir or --postgres, and records it in the erasures table and the
// audit trail under the pseudonym.
func TestCustomerErase(t *testing.T) {
	for name, flags := range map[string]func(t *testing.T) []string{
		"sqlite":   func(t *testing.T) []string { return []string{"--data-dir", t.TempDir()} },
		"postgres": func(t *testing.T) []string { return []string{"--postgres", pgtest.URL(t)} },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			storeArgs := flags(t)
			sf := storeFlagsOf(t, storeArgs)
			st, err := sf.open(ctx)
			if err != nil {
				t.Fatal(err)
			}
			at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
			txs := []store.Tx{storetest.Tx("a1", "alice", at, 100, 0, 0), storetest.Tx("b1", "bob", at, 200, 0, 1)}
			if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 0, From: 0, To: 2, Txs: txs}}}); err != nil {
				t.Fatal(err)
			}
			st.Close()

			var out, errOut bytes.Buffer
			if err := Run(ctx, append(append([]string{"customer", "erase"}, storeArgs...), "alice"), &out, &errOut); err != nil {
				t.Fatalf("customer erase: %v\n%s", err, errOut.String())
			}
			if !strings.HasPrefix(out.String(), "customer erased as erased-") || !strings.Contains(out.String(), "transactions") {
				t.Fatalf("output: %s", out.String())
			}
			st, err = sf.open(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.(store.Analytics).CustomerProfile(ctx, "alice"); !errors.Is(err, store.ErrUnknownCustomer) {
				t.Fatalf("alice's profile after the erasure: %v", err)
			}
			if _, err := st.(store.Analytics).CustomerProfile(ctx, "bob"); err != nil {
				t.Fatalf("bob's profile after alice's erasure: %v", err)
			}
			es, err := st.(store.Privacy).Erasures(ctx, 0, 0)
			if err != nil || len(es) != 1 || !strings.Contains(out.String(), es[0].Pseudonym) {
				t.Fatalf("erasures = %+v, %v", es, err)
			}
			audit, err := st.(store.Auth).AuditEntries(ctx, store.AuditFilter{Limit: 5})
			if err != nil || len(audit) != 1 || audit[0].Action != "customer.erase" || audit[0].Target != "customer:"+es[0].Pseudonym ||
				bytes.Contains(audit[0].After, []byte("alice")) {
				t.Fatalf("audit = %+v, %v", audit, err)
			}
		})
	}
}

// Erasing an id that names no stored row (a typo, most likely) succeeds,
// since later records of it must be pseudonymised, but says so; erasing
// a stored customer says nothing of the kind.
func TestCustomerEraseOfNoStoredRowSaysSo(t *testing.T) {
	dir := t.TempDir()
	out, errOut, err := runCLI(t, "customer", "erase", "--data-dir", dir, "Alice")
	if err != nil || !strings.HasPrefix(out, "customer erased as erased-") || !strings.Contains(errOut, `no stored row names customer "Alice"`) {
		t.Fatalf("erase of an unknown id: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	ctx := context.Background()
	st, err := storeFlagsOf(t, []string{"--data-dir", dir}).open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 0, From: 0, To: 1,
		Txs: []store.Tx{storetest.Tx("a1", "alice", at, 100, 0, 0)}}}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out, errOut, err = runCLI(t, "customer", "erase", "--data-dir", dir, "--json", "alice")
	if err != nil || !strings.Contains(out, `"pseudonym": "erased-`) || strings.Contains(errOut, "no stored row") {
		t.Fatalf("erase of a stored customer: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
}

func TestCustomerEraseUsage(t *testing.T) {
	for _, args := range [][]string{{"customer"}, {"customer", "forget", "x"}, {"customer", "erase"}, {"customer", "erase", "a", "b"},
		{"customer", "erase", strings.Repeat("x", 300)}} {
		err := Run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !IsUsage(err) {
			t.Fatalf("Run(%q) = %v, want a usage error", args, err)
		}
	}
}

// storeFlagsOf parses store flags as a command would.
func storeFlagsOf(t *testing.T, args []string) *storeFlags {
	t.Helper()
	fs := newFlagSet("test", &bytes.Buffer{})
	var sf storeFlags
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return &sf
}

// A customer erased before their order history is imported stays erased:
// `shopstream import` stores their orders and their customer totals under
// the pseudonym, and no row names the id (the import derives each batch's
// customer totals before its writing transaction applies the erasures).
func TestCustomerErasedBeforeImport(t *testing.T) {
	dir := t.TempDir()
	out, errOut, err := runCLI(t, "customer", "erase", "--data-dir", dir, "--json", "17850")
	if err != nil {
		t.Fatalf("customer erase: %v\n%s", err, errOut)
	}
	var erased struct{ Pseudonym string }
	if err := json.Unmarshal([]byte(out), &erased); err != nil || !strings.HasPrefix(erased.Pseudonym, "erased-") {
		t.Fatalf("erase output %q: %v", out, err)
	}
	csv := filepath.Join(t.TempDir(), "orders.csv")
	if err := os.WriteFile(csv, []byte("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"+
		"536365,85123A,MUG,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"+
		"536366,22633,HAND WARMER,6,12/1/2010 8:28,1.85,12583,France\n"+
		"536367,22632,HAND WARMER RED,2,12/2/2010 9:01,1.85,17850,United Kingdom\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := runCLI(t, "import", "--csv", csv, "--currency", "GBP", "--data-dir", dir); err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	ctx := context.Background()
	st, err := storeFlagsOf(t, []string{"--data-dir", dir}).open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := st.(store.Analytics)
	if p, err := a.CustomerProfile(ctx, "17850"); !errors.Is(err, store.ErrUnknownCustomer) {
		t.Fatalf("the erased id's profile after the import: %+v, %v", p, err)
	}
	p, err := a.CustomerProfile(ctx, erased.Pseudonym)
	if err != nil || p.Orders != 2 || p.RevenueCents != 1530+370 {
		t.Fatalf("the pseudonym's profile: %+v, %v; want 2 orders of 19.00", p, err)
	}
	if p, err := a.CustomerProfile(ctx, "12583"); err != nil || p.Orders != 1 {
		t.Fatalf("another customer's profile: %+v, %v", p, err)
	}
}
