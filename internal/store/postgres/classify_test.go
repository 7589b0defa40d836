package postgres

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shopstream/shopstream/internal/store/sqlstore"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		code, constraint string
		want             sqlstore.ErrorClass
	}{
		{"23505", "transactions_pkey", sqlstore.DuplicateKey},
		{"23505", "transaction_ids_pkey", sqlstore.DuplicateKey},
		{"23505", "transactions_p20261202_pkey", sqlstore.DuplicateKey},
		{"23505", "api_tokens_pkey", sqlstore.Data},
		{"23505", "labels_pkey", sqlstore.Data},
		{"23514", "transactions_total_cents_check", sqlstore.Data},
		{"23502", "", sqlstore.Data},
		{"22021", "", sqlstore.Data},
		{"22P05", "", sqlstore.Data},
		{"22003", "", sqlstore.Data},
		{"54000", "", sqlstore.Data},
		{"40001", "", sqlstore.Transient},
		{"40P01", "", sqlstore.Transient},
		{"57P01", "", sqlstore.Transient},
		{"08006", "", sqlstore.Transient},
		{"53300", "", sqlstore.Transient},
	}
	for _, tc := range tests {
		err := fmt.Errorf("copying transactions: %w", &pgconn.PgError{Code: tc.code, ConstraintName: tc.constraint, Message: "msg " + tc.code})
		got, msg := dialect{}.Classify(err)
		if got != tc.want {
			t.Errorf("Classify(%s on %q) = %d, want %d", tc.code, tc.constraint, got, tc.want)
		}
		if got == sqlstore.Data && msg != "msg "+tc.code {
			t.Errorf("Classify(%s) message = %q, want the database's", tc.code, msg)
		}
	}
	for _, err := range []error{context.Canceled, context.DeadlineExceeded, fmt.Errorf("conn closed")} {
		if got, _ := (dialect{}).Classify(err); got != sqlstore.Transient {
			t.Errorf("Classify(%v) = %d, want Transient", err, got)
		}
	}
}
