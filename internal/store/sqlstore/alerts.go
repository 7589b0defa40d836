package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/store"
)

const alertCols = `id, transaction_id, customer_id, event_time, amount_cents, risk, decision, CAST(reasons AS TEXT), status, created_at, labelled_at, labelled_by`

func scanAlert(row Row) (store.AlertRecord, error) {
	var a store.AlertRecord
	var reasons string
	var by *string
	err := row.Scan(&a.ID, &a.TransactionID, &a.CustomerID, &a.EventTime, &a.AmountCents, &a.Risk, &a.Decision, &reasons,
		&a.Status, &a.CreatedAt, &a.LabelledAt, &by)
	a.ReasonsJSON, a.EventTime, a.CreatedAt, a.LabelledAt = []byte(reasons), a.EventTime.UTC(), a.CreatedAt.UTC(), utcp(a.LabelledAt)
	if by != nil {
		a.LabelledBy = *by
	}
	return a, err
}

// Alerts implements store.Fraud. The alerts come newest first by ID, so
// the ID of the last one is a stable cursor whatever is written since;
// each filter is one condition of the same statement, so the database
// walks the ID index (or the status, decision or event-time index, when
// that one is more selective) and stops at the page's end.
func (s *Store) Alerts(ctx context.Context, f store.AlertFilter) ([]store.AlertRecord, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 1000)
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Status != "" {
		where = append(where, "status = "+arg(f.Status))
	}
	if f.Decision != "" {
		where = append(where, "decision = "+arg(f.Decision))
	}
	if f.SinceID > 0 {
		where = append(where, "id > "+arg(f.SinceID))
	}
	if f.BeforeID > 0 {
		where = append(where, "id < "+arg(f.BeforeID))
	}
	if f.MinAmountCents != nil {
		where = append(where, "amount_cents >= "+arg(*f.MinAmountCents))
	}
	if f.MaxAmountCents != nil {
		where = append(where, "amount_cents <= "+arg(*f.MaxAmountCents))
	}
	if !f.Since.IsZero() {
		where = append(where, "event_time >= "+arg(f.Since.UTC()))
	}
	if !f.Until.IsZero() {
		where = append(where, "event_time < "+arg(f.Until.UTC()))
	}
	if f.Rule != "" {
		// The reasons are written by fraud.Result.AppendReasonsJSON, each
		// rule as {"rule":"name",...}: a rule is one exact substring.
		where = append(where, `CAST(reasons AS TEXT) LIKE `+arg(RuleReasonPattern(f.Rule))+` ESCAPE '\'`)
	}
	if f.Scenario != "" {
		// scenario <> '' lets both databases use the partial index of
		// the labels that name one (a bound value proves nothing).
		where = append(where, "transaction_id IN (SELECT l.transaction_id FROM labels l WHERE l.scenario = "+arg(f.Scenario)+" AND l.scenario <> '')")
	}
	q := `SELECT ` + alertCols + ` FROM alerts`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY id DESC LIMIT ` + arg(f.Limit)
	out, err := collect(ctx, s.d.DB(), q, args, func(r Rows) (store.AlertRecord, error) { return scanAlert(r) })
	if err != nil {
		return nil, fmt.Errorf("reading alerts: %w", err)
	}
	return out, nil
}

// RuleReasonPattern is the LIKE pattern (escape character \) matching the
// reasons JSON of an alert that names rule.
func RuleReasonPattern(rule string) string {
	js := string(event.AppendJSONString(nil, rule))
	esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(`{"rule":` + js + `,`)
	return "%" + esc + "%"
}
