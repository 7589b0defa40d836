package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// each runs query and calls fn on every row.
func each(ctx context.Context, db DB, query string, args []any, fn func(Rows) error) error {
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// stream runs query and, for every row, scan then deliver (the caller's
// callback). An error of deliver comes back as it is; any other says that
// reading what failed.
func stream(ctx context.Context, db DB, what, query string, args []any, scan func(Rows) error, deliver func() error) error {
	var derr error
	err := each(ctx, db, query, args, func(r Rows) error {
		if err := scan(r); err != nil {
			return err
		}
		derr = deliver()
		return derr
	})
	if derr != nil {
		return derr
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", what, err)
	}
	return nil
}

// collect runs query and returns one value per row, made by scan.
func collect[T any](ctx context.Context, db DB, query string, args []any, scan func(Rows) (T, error)) ([]T, error) {
	out := []T{}
	err := each(ctx, db, query, args, func(r Rows) error {
		v, err := scan(r)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// utcp returns t in UTC, nil when nil.
func utcp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
