package web

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopstream/shopstream/internal/analytics"
	"github.com/shopstream/shopstream/internal/analyticsview"
	"github.com/shopstream/shopstream/internal/store"
)

// CustomerTransactionJSON is one row of GET /api/v1/customers/{id}/transactions.
type CustomerTransactionJSON struct {
	TransactionID string    `json:"transaction_id"`
	EventTime     time.Time `json:"event_time"`
	Amount        float64   `json:"amount"`
	AmountCents   int64     `json:"amount_cents"`
	Currency      string    `json:"currency"`
	// ItemCount is the number of item lines; Items the lines as stored.
	ItemCount     int             `json:"item_count"`
	Items         json.RawMessage `json:"items"`
	Channel       string          `json:"channel"`
	PaymentMethod string          `json:"payment_method"`
	Risk          float64         `json:"risk"`
	Decision      string          `json:"decision"`
}

// CustomerTransactionsResponse is the body of
// GET /api/v1/customers/{id}/transactions.
type CustomerTransactionsResponse struct {
	CustomerID   string                    `json:"customer_id"`
	Transactions []CustomerTransactionJSON `json:"transactions"`
	// NextCursor, when present, is the cursor of the next (older) page;
	// absent on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// customerTransactions serves a customer's stored transactions newest
// first: ?limit=50&cursor=. An unknown customer has none (an empty list,
// not 404: the history may be pruned by retention while the totals stay).
func (h *analyticsAPI) customerTransactions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.CustomerTxFilter{CustomerID: r.PathValue("id")}
	limit, cursor, err := listQuery(q, 50)
	if err != nil {
		WriteError(w, err)
		return
	}
	f.Limit = limit
	if cursor != "" {
		c, ok := parseCustomerTxCursor(cursor)
		if !ok {
			WriteError(w, fmt.Errorf("%w: cursor %q is not one this API gave", ErrBadRequest, cursor))
			return
		}
		f.Before = &c
	}
	txs, err := h.a.CustomerTransactions(r.Context(), f)
	if err != nil {
		WriteError(w, err)
		return
	}
	resp := CustomerTransactionsResponse{CustomerID: f.CustomerID, Transactions: make([]CustomerTransactionJSON, len(txs))}
	for i, t := range txs {
		items := json.RawMessage(t.ItemsJSON)
		var lines []json.RawMessage
		if json.Unmarshal(items, &lines) != nil {
			items, lines = json.RawMessage("[]"), nil
		}
		resp.Transactions[i] = CustomerTransactionJSON{TransactionID: t.TransactionID, EventTime: t.EventTime,
			Amount: majorUnits(t.TotalCents, t.Currency), AmountCents: t.TotalCents, Currency: t.Currency, ItemCount: len(lines), Items: items,
			Channel: t.Channel, PaymentMethod: t.PaymentMethod, Risk: round4(t.Risk), Decision: t.Decision}
	}
	if len(txs) == f.Limit {
		last := txs[len(txs)-1]
		resp.NextCursor = customerTxCursor(store.CustomerTxCursor{EventTime: last.EventTime, TransactionID: last.TransactionID})
	}
	WriteJSON(w, http.StatusOK, resp)
}

// customerTxCursor encodes the place of a transaction: its event time and ID.
func customerTxCursor(c store.CustomerTxCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.EventTime.UTC().Format(time.RFC3339Nano) + " " + c.TransactionID))
}

func parseCustomerTxCursor(s string) (store.CustomerTxCursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return store.CustomerTxCursor{}, false
	}
	at, id, ok := strings.Cut(string(b), " ")
	t, err := time.Parse(time.RFC3339Nano, at)
	if !ok || err != nil || id == "" {
		return store.CustomerTxCursor{}, false
	}
	return store.CustomerTxCursor{EventTime: t, TransactionID: id}, true
}

// CustomersResponse is the body of GET /api/v1/customers: a page of the
// scored customers, by ID.
type CustomersResponse struct {
	Customers []analyticsview.Customer `json:"customers"`
	// NextCursor, when present, is the cursor of the next page; absent on
	// the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// customers serves the customers the analytics refresh scored, by ID in
// byte order, or with sort=clv by predicted CLV, highest first (those
// with one): ?segment=Champions&prefix=c0001&sort=clv&limit=50&cursor=.
// The list is as of the latest refresh (a customer's first purchase since
// shows on their page, by exact ID, not here yet).
func (h *analyticsAPI) customers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, cursor, err := listQuery(q, 50)
	f := store.CustomerListFilter{Limit: limit, Segment: q.Get("segment"), Prefix: q.Get("prefix")}
	switch q.Get("sort") {
	case "", "id":
	case "clv":
		f.ByCLV = true
	default:
		err = fmt.Errorf("%w: sort %q, want id or clv", ErrBadRequest, q.Get("sort"))
	}
	switch {
	case err != nil:
	case f.Segment != "" && !slices.Contains(analytics.Segments, analytics.Segment(f.Segment)):
		err = fmt.Errorf("%w: segment %q, want one of %v", ErrBadRequest, f.Segment, analytics.Segments)
	case !utf8.ValidString(f.Prefix) || len(f.Prefix) > maxCustomerPrefix:
		err = fmt.Errorf("%w: prefix must be valid UTF-8 of at most %d bytes", ErrBadRequest, maxCustomerPrefix)
	case cursor != "":
		var ok bool
		if f.ByCLV {
			f.AfterCLV, f.After, ok = parseCLVCursor(cursor)
		} else {
			b, derr := base64.RawURLEncoding.DecodeString(cursor)
			ok = derr == nil && len(b) > 0 && utf8.Valid(b)
			f.After = string(b)
		}
		if !ok {
			err = fmt.Errorf("%w: cursor %q is not one this API gave for this sort", ErrBadRequest, cursor)
		}
	}
	if err != nil {
		WriteError(w, err)
		return
	}
	rows, err := h.a.Customers(r.Context(), f)
	if err != nil {
		WriteError(w, err)
		return
	}
	resp := CustomersResponse{Customers: make([]analyticsview.Customer, len(rows))}
	for i := range rows {
		resp.Customers[i] = analyticsview.CustomerOf(&rows[i])
	}
	if len(rows) == f.Limit {
		last := &rows[len(rows)-1]
		if f.ByCLV && last.CLV != nil {
			resp.NextCursor = clvCursor(last.CLV.Value, last.CustomerID)
		} else {
			resp.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(last.CustomerID))
		}
	}
	WriteJSON(w, http.StatusOK, resp)
}

// clvCursor encodes the place of a customer in the list by CLV: the CLV
// (every bit of it: the shortest form that parses back to the same
// float64) and the ID.
func clvCursor(clv float64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatFloat(clv, 'g', -1, 64) + " " + id))
}

func parseCLVCursor(s string) (float64, string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || !utf8.Valid(b) {
		return 0, "", false
	}
	v, id, ok := strings.Cut(string(b), " ")
	clv, err := strconv.ParseFloat(v, 64)
	if !ok || err != nil || id == "" || math.IsNaN(clv) || math.IsInf(clv, 0) {
		return 0, "", false
	}
	return clv, id, true
}

// maxCustomerPrefix bounds a customer ID prefix, as IDs are bounded.
const maxCustomerPrefix = 256
