package sqlite

import (
	"bytes"
	"context"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlstore"
)

// txColumn is a column of transactions as CopyTxs writes it: its value
// of a row, through the accessor of its kind.
type txColumn struct {
	name string
	str  func(t *store.Tx) string          // text
	raw  func(t *store.Tx) []byte          // text held as bytes (JSON)
	num  func(t *store.Tx) int64           // integer
	real func(t *store.Tx) (float64, bool) // real; false for NULL
	blob bool                              // features
}

// txColumns are the columns of transactions in the order CopyTxs writes
// them; stored_at is the statement's time, the same for every row.
var txColumns = []txColumn{
	{name: "transaction_id", str: func(t *store.Tx) string { return t.TransactionID }},
	{name: "customer_id", str: func(t *store.Tx) string { return t.CustomerID }},
	{name: "event_time", num: func(t *store.Tx) int64 { return t.EventTime.UnixMicro() }},
	{name: "total_cents", num: func(t *store.Tx) int64 { return t.TotalCents }},
	{name: "currency", str: func(t *store.Tx) string { return t.Currency }},
	{name: "payment_method", str: func(t *store.Tx) string { return t.PaymentMethod }},
	{name: "channel", str: func(t *store.Tx) string { return t.Channel }},
	{name: "card_bin", str: func(t *store.Tx) string { return t.CardBIN }},
	{name: "card_last4", str: func(t *store.Tx) string { return t.CardLast4 }},
	{name: "device_id", str: func(t *store.Tx) string { return t.DeviceID }},
	{name: "ip_address", str: func(t *store.Tx) string { return t.IPAddress }},
	{name: "billing_country", str: func(t *store.Tx) string { return t.BillingCountry }},
	{name: "shipping_country", str: func(t *store.Tx) string { return t.ShippingCountry }},
	{name: "items", raw: func(t *store.Tx) []byte { return t.ItemsJSON }},
	{name: "kafka_partition", num: func(t *store.Tx) int64 { return int64(t.Partition) }},
	{name: "kafka_offset", num: func(t *store.Tx) int64 { return t.Offset }},
	{name: "risk", real: func(t *store.Tx) (float64, bool) { return t.Risk, true }},
	{name: "decision", str: func(t *store.Tx) string { return t.Decision }},
	{name: "reasons", raw: func(t *store.Tx) []byte { return t.ReasonsJSON }},
	{name: "shadow_risk", real: func(t *store.Tx) (float64, bool) { return t.ShadowRisk, t.HasShadow }},
	{name: "features", blob: true},
	{name: "produced_at", num: func(t *store.Tx) int64 { return t.ProducedAt.UnixMicro() }},
	{name: "stored_at"},
	{name: "ip_country", str: func(t *store.Tx) string { return t.IPCountry }},
	{name: "ip_hosting", num: func(t *store.Tx) int64 {
		if t.IPHosting {
			return 1
		}
		return 0
	}},
	{name: "shipping_address", str: func(t *store.Tx) string { return t.ShippingAddress }},
}

// CopyTxs inserts the transactions in multi-row statements. A column
// whose value is the same in every row of the call (an import's
// partition, risk, decision, empty card and device fields, its currency;
// the produced and stored times) is written once into the statement as a
// literal instead of being bound row by row: binding a value through
// database/sql and the driver costs about as much as SQLite's storing it,
// and an import of one-line orders binds 25 values per order where about
// 7 differ. OR FAIL measured faster than the default ABORT, which must be
// able to undo a failed statement's own rows; any error here rolls the
// whole transaction back anyway.
func (d *dialect) CopyTxs(ctx context.Context, tx sqlstore.DB, parts []store.Part) error {
	return d.CopyPrepared(ctx, tx, d.PrepareTxs(parts))
}

// preparedTxs is a call of CopyTxs made ready: each column's literal (""
// for a column bound row by row, and for stored_at, the time of the
// insert) and the bound values, row after row.
type preparedTxs struct {
	lits []string
	vary []int // the bound columns
	args []any
	rows int
}

// PrepareTxs implements sqlstore.TxPreparer: the literals and the values
// to bind of CopyTxs(parts), found off the writer for an import.
func (d *dialect) PrepareTxs(parts []store.Part) any {
	p := &preparedTxs{lits: make([]string, len(txColumns))}
	rows := make([]*store.Tx, 0, 1024)
	for i := range parts {
		for j := range parts[i].Txs {
			rows = append(rows, &parts[i].Txs[j])
		}
	}
	if p.rows = len(rows); p.rows == 0 {
		return p
	}
	for c := range txColumns {
		col := &txColumns[c]
		if col.storedAt() {
			continue
		}
		if lit, ok := col.literal(rows); ok {
			p.lits[c] = lit
			continue
		}
		p.vary = append(p.vary, c)
	}
	p.args = make([]any, 0, len(rows)*len(p.vary))
	for _, t := range rows {
		for _, c := range p.vary {
			p.args = append(p.args, txColumns[c].value(t))
		}
	}
	return p
}

// CopyPrepared implements sqlstore.TxPreparer: it inserts what PrepareTxs
// made, stored now.
func (d *dialect) CopyPrepared(ctx context.Context, tx sqlstore.DB, prepared any) error {
	p := prepared.(*preparedTxs)
	if p.rows == 0 {
		return nil
	}
	now := strconv.FormatInt(time.Now().UnixMicro(), 10)
	var names []string
	var one strings.Builder
	one.WriteByte('(')
	for c := range txColumns {
		col := &txColumns[c]
		names = append(names, col.name)
		if c > 0 {
			one.WriteString(", ")
		}
		switch {
		case col.storedAt():
			one.WriteString(now)
		case p.lits[c] != "":
			one.WriteString(p.lits[c])
		default:
			one.WriteByte('?')
		}
	}
	one.WriteByte(')')
	nv := len(p.vary)
	return insertTemplate(ctx, tx, "INSERT OR FAIL INTO transactions ("+strings.Join(names, ", ")+")", one.String(), nv, "", p.rows,
		func(args []any, k int) []any { return append(args, p.args[k*nv:(k+1)*nv]...) })
}

// storedAt reports the stored_at column, the one without a value of its
// row: the time of the insert.
func (col *txColumn) storedAt() bool {
	return col.str == nil && col.raw == nil && col.num == nil && col.real == nil && !col.blob
}

// value is the column's value of t, as bound (nil for SQL NULL).
func (col *txColumn) value(t *store.Tx) any {
	switch {
	case col.str != nil:
		return col.str(t)
	case col.raw != nil:
		return string(col.raw(t))
	case col.num != nil:
		return col.num(t)
	case col.real != nil:
		if v, ok := col.real(t); ok {
			return v
		}
		return nil
	case col.blob:
		if t.Features != nil {
			return featuresBlob(t.Features)
		}
		return nil
	}
	return nil // stored_at: never bound (CopyPrepared writes the insert's time)
}

// literal returns the column's value as an SQL literal when every row
// has the same one, and that value has a literal that stores exactly what
// binding it would: text without NUL and valid UTF-8, an integer, a
// whole real, NULL.
func (col *txColumn) literal(rows []*store.Tx) (string, bool) {
	switch {
	case col.str != nil:
		v := col.str(rows[0])
		for _, t := range rows[1:] {
			if col.str(t) != v {
				return "", false
			}
		}
		return textLiteral(v)
	case col.raw != nil:
		v := col.raw(rows[0])
		for _, t := range rows[1:] {
			if !bytes.Equal(col.raw(t), v) {
				return "", false
			}
		}
		return textLiteral(string(v))
	case col.num != nil:
		v := col.num(rows[0])
		for _, t := range rows[1:] {
			if col.num(t) != v {
				return "", false
			}
		}
		if v == math.MinInt64 {
			return "", false // its digits without the sign overflow to a real
		}
		return strconv.FormatInt(v, 10), true
	case col.real != nil:
		v, ok := col.real(rows[0])
		for _, t := range rows[1:] {
			if w, wok := col.real(t); wok != ok || (ok && math.Float64bits(w) != math.Float64bits(v)) {
				return "", false
			}
		}
		if !ok {
			return "NULL", true
		}
		// Only whole numbers, written exactly: SQLite's own conversion
		// of decimal text to a double is not promised to round as Go's
		// does, and an import's risk is 0 anyway.
		if v != math.Trunc(v) || math.Abs(v) >= 1<<53 || (v == 0 && math.Signbit(v)) {
			return "", false
		}
		return strconv.FormatInt(int64(v), 10) + ".0", true
	case col.blob:
		for _, t := range rows {
			if t.Features != nil {
				return "", false
			}
		}
		return "NULL", true
	}
	return "", false // stored_at: written by CopyPrepared, the insert's time
}

// textLiteral quotes v as an SQL string literal, unless it holds a NUL
// or invalid UTF-8, which only binding stores as given.
func textLiteral(v string) (string, bool) {
	if strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v) {
		return "", false
	}
	return "'" + strings.ReplaceAll(v, "'", "''") + "'", true
}
