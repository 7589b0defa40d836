package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/store"
)

const alertCols = `id, transaction_id, customer_id, event_time, amount_cents, risk, decision, CAST(reasons AS TEXT), status, created_at, labelled_at, labelled_by, scenario, model_version, currency`

func scanAlert(row Row) (store.AlertRecord, error) {
	var a store.AlertRecord
	var reasons string
	var by *string
	var version *int
	err := row.Scan(&a.ID, &a.TransactionID, &a.CustomerID, &a.EventTime, &a.AmountCents, &a.Risk, &a.Decision, &reasons,
		&a.Status, &a.CreatedAt, &a.LabelledAt, &by, &a.Scenario, &version, &a.Currency)
	a.ReasonsJSON, a.EventTime, a.CreatedAt, a.LabelledAt = []byte(reasons), a.EventTime.UTC(), a.CreatedAt.UTC(), utcp(a.LabelledAt)
	if by != nil {
		a.LabelledBy = *by
	}
	if version != nil {
		a.ModelVersion = *version
	}
	return a, err
}

// Alerts implements store.Fraud. The alerts come newest first by ID, so
// the ID of the last one is a stable cursor whatever is written since;
// each filter is one condition of the same statement, so the database
// walks the ID index (or the status, decision, scenario, customer or event-time
// index, when that one is more selective) and stops at the page's end.
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
	if f.MinAmount != nil {
		where = append(where, "amount_cents >= "+minorBound(*f.MinAmount, true, arg))
	}
	if f.MaxAmount != nil {
		where = append(where, "amount_cents <= "+minorBound(*f.MaxAmount, false, arg))
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
	if f.CustomerID != "" {
		// Walks (customer_id, id) newest first (migration 0023).
		where = append(where, "customer_id = "+arg(f.CustomerID))
	}
	if f.Scenario != "" {
		// The alert carries its label's scenario (migration 0021), so the
		// filter walks (scenario, id) newest first; scenario <> '' lets
		// both databases use that partial index (a bound value proves
		// nothing).
		where = append(where, "scenario = "+arg(f.Scenario)+" AND scenario <> ''")
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

// AlertChanges implements store.AlertChanges: the partial index on
// label_seq holds only the alerts that changed, so both reads walk it.
func (s *Store) AlertChanges(ctx context.Context, after int64, limit int) ([]store.AlertRecord, int64, error) {
	if after < 0 {
		var last int64
		err := s.d.DB().QueryRow(ctx, `SELECT label_seq FROM alerts WHERE label_seq > 0 ORDER BY label_seq DESC LIMIT 1`).Scan(&last)
		if err != nil && !errors.Is(err, ErrNoRows) {
			return nil, 0, fmt.Errorf("reading the latest alert change: %w", err)
		}
		return nil, last, nil
	}
	limit = min(max(limit, 1), 1000)
	next := after
	out, err := collect(ctx, s.d.DB(), `SELECT label_seq, `+alertCols+` FROM alerts WHERE label_seq > $1 ORDER BY label_seq LIMIT $2`,
		[]any{after, limit}, func(r Rows) (store.AlertRecord, error) {
			var seq int64
			a, err := scanAlert(seqRow{r, &seq})
			next = max(next, seq)
			a.Change = seq
			return a, err
		})
	if err != nil {
		return nil, 0, fmt.Errorf("reading the changed alerts: %w", err)
	}
	return out, next, nil
}

// seqRow scans a leading change number, then the alert.
type seqRow struct {
	r   Row
	seq *int64
}

func (x seqRow) Scan(dest ...any) error { return x.r.Scan(append([]any{x.seq}, dest...)...) }

// AlertDetail implements store.Fraud: three reads by key, the alert's,
// the transaction's (by id and event time, so PostgreSQL looks in the
// one day partition that holds it) and the label's.
func (s *Store) AlertDetail(ctx context.Context, transactionID string) (*store.AlertDetail, error) {
	db := s.d.DB()
	a, err := scanAlert(db.QueryRow(ctx, `SELECT `+alertCols+` FROM alerts WHERE transaction_id = $1`, transactionID))
	if errors.Is(err, ErrNoRows) {
		return nil, fmt.Errorf("transaction %q: %w", transactionID, store.ErrUnknownAlert)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the alert of %s: %w", transactionID, err)
	}
	d := &store.AlertDetail{Alert: a}
	t := store.Tx{TransactionID: transactionID}
	var shadow *float64
	var reasons string
	err = db.QueryRow(ctx, `SELECT t.customer_id, t.event_time, t.total_cents, t.currency, t.payment_method, t.channel,
		t.card_bin, t.card_last4, t.device_id, t.ip_address, t.ip_country, t.ip_hosting, t.billing_country, t.shipping_country,
		t.kafka_partition, t.kafka_offset, t.risk, t.decision, CAST(t.reasons AS TEXT), t.shadow_risk, t.features, t.produced_at
		FROM `+s.q.TxByID+` WHERE `+s.q.TxKey+` = $1 AND t.event_time = $2`, transactionID, a.EventTime).Scan(
		&t.CustomerID, &t.EventTime, &t.TotalCents, &t.Currency, &t.PaymentMethod, &t.Channel, &t.CardBIN, &t.CardLast4,
		&t.DeviceID, &t.IPAddress, &t.IPCountry, &t.IPHosting, &t.BillingCountry, &t.ShippingCountry, &t.Partition, &t.Offset,
		&t.Risk, &t.Decision, &reasons, &shadow, &t.Features, &t.ProducedAt)
	switch {
	case err == nil:
		t.EventTime, t.ProducedAt, t.ReasonsJSON, t.ModelVersion = t.EventTime.UTC(), t.ProducedAt.UTC(), []byte(reasons), a.ModelVersion
		if shadow != nil {
			t.ShadowRisk, t.HasShadow = *shadow, true
		}
		d.Tx = &t
	case !errors.Is(err, ErrNoRows):
		return nil, fmt.Errorf("reading the transaction of alert %s: %w", transactionID, err)
	}
	err = db.QueryRow(ctx, `SELECT fraud FROM labels WHERE transaction_id = $1`, transactionID).Scan(&d.Fraud)
	switch {
	case err == nil:
		d.Labelled = true
	case !errors.Is(err, ErrNoRows):
		return nil, fmt.Errorf("reading the label of alert %s: %w", transactionID, err)
	}
	return d, nil
}

// RuleReasonPattern is the LIKE pattern (escape character \) matching the
// reasons JSON of an alert that names rule.
func RuleReasonPattern(rule string) string {
	js := string(event.AppendJSONString(nil, rule))
	esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(`{"rule":` + js + `,`)
	return "%" + esc + "%"
}

// minorBound is the SQL of an amount in major units as minor units of
// each alert's currency: a CASE over the currencies whose minor unit is
// not 2 (event.CurrenciesWithDigits), each with the bound in its minor
// units, rounded inward (a lower bound of 10.5 is 11 yen, an upper one
// 10), and the bound in cents for every other currency and for ”.
func minorBound(major float64, lower bool, arg func(any) string) string {
	minor := func(digits int) int64 {
		// Rounded to a millionth of a minor unit first, so that 0.29 is
		// 29 cents, not 28.999999999999996.
		v := math.Round(major*math.Pow10(digits)*1e6) / 1e6
		if lower {
			return int64(math.Ceil(v))
		}
		return int64(math.Floor(v))
	}
	var b strings.Builder
	b.WriteString("CASE")
	for _, d := range []int{0, 3, 4} {
		codes := event.CurrenciesWithDigits(d)
		if len(codes) == 0 {
			continue
		}
		b.WriteString(" WHEN currency IN ('" + strings.Join(codes, "', '") + "') THEN CAST(" + arg(minor(d)) + " AS BIGINT)")
	}
	b.WriteString(" ELSE CAST(" + arg(minor(2)) + " AS BIGINT) END")
	return b.String()
}
