package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/user"
	"sort"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/web"
)

const customerUsage = `Usage:
  shopstream customer erase ID [store flags] [--json]   erases a customer's personal data

erase replaces the customer's id by a pseudonym in every table, clears the device, IP address and
card fields of its transactions, scrubs its quarantined records and queued messages, keeps every
total (windows, customer totals, cohorts, revenue), and records the erasure, so that processors
pseudonymise any replay of its records on the way in (docs/security.md). Erasing again applies the
same pseudonym to what arrived since. Written to the audit trail under the pseudonym.

Store flags: --postgres URL, or --data-dir DIR (default ./data).
`

// runCustomer is `shopstream customer erase ID`.
func runCustomer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		io.WriteString(stderr, customerUsage)
		if len(args) == 0 {
			return usageError{errors.New("customer: no subcommand given: want erase")}
		}
		return flag.ErrHelp
	}
	if args[0] != "erase" {
		return usageError{fmt.Errorf("customer: unknown subcommand %q: want erase", args[0])}
	}
	fs := newFlagSet("customer erase", stderr)
	var sf storeFlags
	sf.register(fs)
	sf.command = "shopstream customer erase"
	asJSON := fs.Bool("json", false, "print the erasure as JSON (the API's answer)")
	pos, err := parseFlagsArgs(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{fmt.Errorf("customer erase: give the id of one customer, not %d arguments %q (an id that begins with - goes after --)", len(pos), pos)}
	}
	id := pos[0]
	if err := web.ValidateCustomerID(id); err != nil {
		return usageError{fmt.Errorf("customer erase: %v", err)}
	}
	st, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	p, ok := st.(store.Privacy)
	if !ok {
		return fmt.Errorf("store %T cannot erase customers", st)
	}
	actor := cliActor()
	e, err := p.EraseCustomer(ctx, id, actor)
	if err != nil {
		return err
	}
	if a, ok := st.(store.Auth); ok {
		after, _ := json.Marshal(e)
		entry := store.AuditEntry{At: time.Now(), Actor: actor, Action: "customer.erase", Target: "customer:" + e.Pseudonym, After: after}
		if _, err := a.RecordAudit(ctx, &entry); err != nil {
			fmt.Fprintf(stderr, "shopstream: the customer is erased, but writing it to the audit trail failed: %v\n", err)
		}
	}
	var total int64
	for _, n := range e.Rows {
		total += n
	}
	if total == 0 && !e.Again {
		// Most likely a mistyped id; the erasure stands all the same, for
		// records of the customer that arrive later.
		fmt.Fprintf(stderr, "shopstream: note: no stored row names customer %q: check the id (ids are case-sensitive). The erasure is recorded all the same, so records of %q that arrive later are stored under its pseudonym.\n", id, id)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(e)
	}
	verb := "erased"
	if e.Again {
		verb = "erased again"
	}
	fmt.Fprintf(stdout, "customer %s as %s (erasure %d)\n", verb, e.Pseudonym, e.ID)
	tables := make([]string, 0, len(e.Rows))
	for t := range e.Rows {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		fmt.Fprintf(stdout, "  %-22s %d rows\n", t, e.Rows[t])
	}
	return nil
}

// cliActor names the OS user in the audit trail.
func cliActor() string {
	if u, err := user.Current(); err == nil {
		return "cli (" + u.Username + ")"
	}
	return "cli"
}
