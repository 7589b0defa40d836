package cli

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// floorCopy is one way of copying an import's stored transactions bare:
// the time it took and the PostgreSQL server's CPU per CSV row meanwhile
// (zero for SQLite).
type floorCopy struct {
	name      string
	took      time.Duration
	serverCPU time.Duration
}

// importFloor is the time the store takes to insert the transactions an
// import stored, and nothing else, into an empty copy of the transactions
// table with the same columns, keys and indexes, in one database
// transaction: the least any import of those rows can take. SQLite copies
// them with one INSERT ... SELECT (no binding, no driver, no parsing);
// PostgreSQL takes them by one COPY of the text the server itself wrote,
// and their ids by another into a copy of transaction_ids, whose key on
// the id is a stored transaction's since migration 0040 (transactions
// has none).
// Neither writes the windows, rollups, customers or offsets an import
// writes beside them, so an import at the floor would do nothing else.
//
// For PostgreSQL it also measures two bounds around that floor (the
// first of the returned copies): the same copies split over two
// connections, each its own backend on its own core, and the copies into
// bare tables without any key or index (what an import into empty tables
// that built its indexes after the load would pay for the rows
// themselves), with the server's CPU for each.
func importFloor(tb testing.TB, dataDir, pgURL string) []floorCopy {
	tb.Helper()
	ctx := context.Background()
	if pgURL != "" {
		conn, err := pgx.Connect(ctx, pgURL)
		if err != nil {
			tb.Fatal(err)
		}
		defer conn.Close(ctx)
		var text, ids bytes.Buffer
		if _, err := conn.PgConn().CopyTo(ctx, &text, "COPY (SELECT * FROM transactions) TO STDOUT"); err != nil {
			tb.Fatal(err)
		}
		if _, err := conn.PgConn().CopyTo(ctx, &ids, "COPY (SELECT * FROM transaction_ids) TO STDOUT"); err != nil {
			tb.Fatal(err)
		}
		server, err := serverCPU(ctx, pgURL)
		if err != nil {
			tb.Fatal(err)
		}
		var out []floorCopy
		for i, v := range []struct {
			name, like string
			conns      int
		}{
			{"keys and indexes", "INCLUDING ALL", 1},
			{"keys and indexes, two connections", "INCLUDING ALL", 2},
			{"bare tables", "INCLUDING DEFAULTS", 1},
		} {
			txs, idt := fmt.Sprintf("floor_copy%d", i), fmt.Sprintf("floor_ids%d", i)
			if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE TABLE %s (LIKE transactions %s); CREATE TABLE %s (LIKE transaction_ids %s); CHECKPOINT", txs, v.like, idt, v.like)); err != nil {
				tb.Fatal(err)
			}
			txParts, idParts := splitLines(text.Bytes(), v.conns), splitLines(ids.Bytes(), v.conns)
			conns := make([]*pgx.Conn, v.conns)
			for c := range conns {
				if conns[c], err = pgx.Connect(ctx, pgURL); err != nil {
					tb.Fatal(err)
				}
				defer conns[c].Close(ctx)
			}
			cpu0, err := server()
			if err != nil {
				tb.Fatal(err)
			}
			start := time.Now()
			errs := make(chan error, v.conns)
			for c, cc := range conns {
				go func() { errs <- copyFloor(ctx, cc, idt, idParts[c], txs, txParts[c]) }()
			}
			for range conns {
				if err := <-errs; err != nil {
					tb.Fatal(err)
				}
			}
			took := time.Since(start)
			cpu1, err := server()
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, floorCopy{name: v.name, took: took, serverCPU: cpu1 - cpu0})
		}
		return out
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, sqlite.FileName)+
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-65536)&_txlock=immediate")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	// The table's and its indexes' own definitions, renamed. The INSERT
	// below has a WHERE clause so that SQLite inserts row by row: without
	// one, it may copy the pages of an identical table whole.
	rows, err := db.QueryContext(ctx, "SELECT type, sql FROM sqlite_master WHERE tbl_name = 'transactions' AND sql IS NOT NULL ORDER BY type = 'index'")
	if err != nil {
		tb.Fatal(err)
	}
	var ddl []string
	table := regexp.MustCompile(`(?i)\b(ON|TABLE)\s+"?transactions"?`)
	for rows.Next() {
		var typ, def string
		if err := rows.Scan(&typ, &def); err != nil {
			tb.Fatal(err)
		}
		if typ == "trigger" {
			continue // not a key or index (the totals' check was one before migration 0035)
		}
		def = table.ReplaceAllString(def, "$1 floor_copy")
		if typ == "index" {
			def = regexp.MustCompile(`(?i)INDEX\s+(IF NOT EXISTS\s+)?"?(\w+)"?`).ReplaceAllString(def, "INDEX ${1}floor_$2")
		}
		ddl = append(ddl, def)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(ddl) < 2 || !strings.Contains(ddl[0], "floor_copy") {
		tb.Fatalf("copying the transactions table's definition: %q", ddl)
	}
	for _, d := range ddl {
		if _, err := db.ExecContext(ctx, d); err != nil {
			tb.Fatal(fmt.Errorf("%s: %w", d, err))
		}
	}
	start := time.Now()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO floor_copy SELECT * FROM transactions WHERE rowid IS NOT NULL"); err != nil {
		tb.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	return []floorCopy{{name: "keys and indexes", took: time.Since(start)}}
}

// copyFloor copies ids and rows, each in COPY's text format, into the
// tables idTable and txTable in one database transaction.
func copyFloor(ctx context.Context, conn *pgx.Conn, idTable string, ids []byte, txTable string, rows []byte) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after the commit, a no-op
	if _, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(ids), "COPY "+idTable+" FROM STDIN"); err != nil {
		return err
	}
	if _, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(rows), "COPY "+txTable+" FROM STDIN"); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// splitLines splits text into k parts of whole lines, about as many in each.
func splitLines(text []byte, k int) [][]byte {
	lines := bytes.SplitAfter(text, []byte("\n"))
	if n := len(lines); n > 0 && len(lines[n-1]) == 0 {
		lines = lines[:n-1]
	}
	per := (len(lines) + k - 1) / k
	parts := make([][]byte, k)
	for i := range parts {
		lo, hi := min(i*per, len(lines)), min((i+1)*per, len(lines))
		parts[i] = bytes.Join(lines[lo:hi], nil)
	}
	return parts
}
