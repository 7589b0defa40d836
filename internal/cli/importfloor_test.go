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
func importFloor(tb testing.TB, dataDir, pgURL string) time.Duration {
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
		if _, err := conn.Exec(ctx, "CREATE TABLE floor_copy (LIKE transactions INCLUDING ALL); CREATE TABLE floor_ids (LIKE transaction_ids INCLUDING ALL)"); err != nil {
			tb.Fatal(err)
		}
		start := time.Now()
		tx, err := conn.Begin(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(ids.Bytes()), "COPY floor_ids FROM STDIN"); err != nil {
			tb.Fatal(err)
		}
		if _, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(text.Bytes()), "COPY floor_copy FROM STDIN"); err != nil {
			tb.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			tb.Fatal(err)
		}
		return time.Since(start)
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
	return time.Since(start)
}
