package web

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/store"
)

// AlertDetailJSON is the body of GET /api/v1/alerts/{transaction_id}: the
// alert as the queue lists it, with its label, the feature vector it was
// scored from and the transaction it was raised for.
type AlertDetailJSON struct {
	AlertJSON
	// Label is the label stored for the transaction (the generator's or a
	// label event's), null while none has come: labels arrive weeks after
	// the alert.
	Label *AlertLabelJSON `json:"label"`
	// Features are the scored values in the model's order, null when the
	// transaction is no longer stored (retention, erasure).
	Features []FeatureJSON `json:"features"`
	// Transaction is the stored transaction, null when no longer stored.
	Transaction *AlertTxJSON `json:"transaction"`
}

// AlertLabelJSON is a transaction's stored label.
type AlertLabelJSON struct {
	Fraud bool `json:"fraud"`
	// Scenario is the fraud scenario the label names, null when it names
	// none.
	Scenario *string `json:"scenario"`
}

// FeatureJSON is one feature of a scored vector.
type FeatureJSON struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// AlertTxJSON is the transaction an alert was raised for, without its
// items.
type AlertTxJSON struct {
	TransactionID   string    `json:"transaction_id"`
	CustomerID      string    `json:"customer_id"`
	EventTime       time.Time `json:"event_time"`
	Amount          float64   `json:"amount"`
	AmountCents     int64     `json:"amount_cents"`
	Currency        string    `json:"currency"`
	PaymentMethod   string    `json:"payment_method"`
	Channel         string    `json:"channel"`
	CardBIN         string    `json:"card_bin"`
	CardLast4       string    `json:"card_last4"`
	DeviceID        string    `json:"device_id"`
	IPAddress       string    `json:"ip_address"`
	IPCountry       string    `json:"ip_country"`
	IPHosting       bool      `json:"ip_hosting"`
	BillingCountry  string    `json:"billing_country"`
	ShippingCountry string    `json:"shipping_country"`
	Partition       int32     `json:"partition"`
	Offset          int64     `json:"offset"`
	// ShadowRisk is the shadow model's risk, null without one.
	ShadowRisk *float64  `json:"shadow_risk"`
	ProducedAt time.Time `json:"produced_at"`
}

func (h *fraudAPI) alertDetail(w http.ResponseWriter, r *http.Request) {
	d, err := h.deps.Store.AlertDetail(r.Context(), r.PathValue("transaction_id"))
	if errors.Is(err, store.ErrUnknownAlert) {
		WriteError(w, fmt.Errorf("%w: %w", ErrNotFound, err))
		return
	}
	if err != nil {
		WriteError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, alertDetailJSON(d))
}

func alertDetailJSON(d *store.AlertDetail) AlertDetailJSON {
	out := AlertDetailJSON{AlertJSON: alertJSON(&d.Alert)}
	if d.Labelled {
		out.Label = &AlertLabelJSON{Fraud: d.Fraud}
		if d.Alert.Scenario != "" {
			sc := d.Alert.Scenario
			out.Label.Scenario = &sc
		}
	}
	if t := d.Tx; t != nil {
		if t.Features != nil {
			out.Features = make([]FeatureJSON, len(t.Features))
			for i, v := range t.Features {
				name := "feature_" + strconv.Itoa(i)
				if i < len(fraud.FeatureNames) {
					name = fraud.FeatureNames[i]
				}
				x := float64(v)
				if math.IsNaN(x) || math.IsInf(x, 0) {
					x = 0 // not representable in JSON; the scorer never stores one
				}
				out.Features[i] = FeatureJSON{Name: name, Value: x}
			}
		}
		out.Transaction = &AlertTxJSON{TransactionID: t.TransactionID, CustomerID: t.CustomerID, EventTime: t.EventTime,
			Amount: majorUnits(t.TotalCents, t.Currency), AmountCents: t.TotalCents, Currency: t.Currency, PaymentMethod: t.PaymentMethod,
			Channel: t.Channel, CardBIN: t.CardBIN, CardLast4: t.CardLast4, DeviceID: t.DeviceID, IPAddress: t.IPAddress,
			IPCountry: t.IPCountry, IPHosting: t.IPHosting, BillingCountry: t.BillingCountry, ShippingCountry: t.ShippingCountry,
			Partition: t.Partition, Offset: t.Offset, ProducedAt: t.ProducedAt}
		if t.HasShadow {
			sr := round4(t.ShadowRisk)
			out.Transaction.ShadowRisk = &sr
		}
	}
	return out
}

// RingJSON is one ring of GET /api/v1/fraud/rings.
type RingJSON struct {
	Key string `json:"key"`
	// Members are the customers the ring joins.
	Members []string `json:"members"`
	// Entities are the shared devices, cards and shipping addresses that
	// join them.
	Entities       []string  `json:"entities"`
	Reason         string    `json:"reason"`
	TransactionID  string    `json:"transaction_id"`
	FirstEventTime time.Time `json:"first_event_time"`
	LastEventTime  time.Time `json:"last_event_time"`
	DetectedAt     time.Time `json:"detected_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// RingsResponse is the body of GET /api/v1/fraud/rings.
type RingsResponse struct {
	// Enabled says whether this store keeps the entity stage's rings; the
	// stage itself runs in run unless --entities=false and in process
	// with --entities, so an empty list may mean it is off.
	Enabled bool       `json:"enabled"`
	Rings   []RingJSON `json:"rings"`
	// Total and Accounts count the rings the filters select over all
	// pages, and the accounts they join (summed over the rings).
	Total    int64 `json:"total"`
	Accounts int64 `json:"accounts"`
	// NextCursor, when more rings may follow, is the cursor of the next
	// page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// rings serves the rings updated most recently first:
// ?member=&entity=&since=&until=&limit=&cursor=.
func (h *fraudAPI) rings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := ringsQuery(q)
	if err != nil {
		WriteError(w, err)
		return
	}
	resp := RingsResponse{Rings: []RingJSON{}}
	es, ok := h.deps.Store.(store.Entities)
	if !ok {
		WriteJSON(w, http.StatusOK, resp)
		return
	}
	resp.Enabled = true
	rs, c, err := es.EntityRingPage(r.Context(), f)
	if err != nil {
		WriteError(w, err)
		return
	}
	resp.Total, resp.Accounts = c.Rings, c.Accounts
	for _, g := range rs {
		resp.Rings = append(resp.Rings, RingJSON{Key: g.Key, Members: nonNil(g.Members), Entities: nonNil(g.Entities), Reason: g.Reason,
			TransactionID: g.TransactionID, FirstEventTime: g.FirstEventTime, LastEventTime: g.LastEventTime,
			DetectedAt: g.DetectedAt, UpdatedAt: g.UpdatedAt})
	}
	if len(rs) == f.Limit {
		last := rs[len(rs)-1]
		resp.NextCursor = ringCursor(store.RingCursor{UpdatedAt: last.UpdatedAt, Key: last.Key})
	}
	WriteJSON(w, http.StatusOK, resp)
}

// ringsQuery reads the filters and page of GET /api/v1/fraud/rings.
func ringsQuery(q url.Values) (store.RingFilter, error) {
	f := store.RingFilter{Member: q.Get("member"), Entity: q.Get("entity")}
	page := url.Values{"limit": q["limit"]}
	var err error
	if f.Limit, _, err = pageQuery(page, 20); err != nil {
		return f, err
	}
	if f.Since, f.Until, err = timeRange(q); err != nil {
		return f, err
	}
	if v := q.Get("cursor"); v != "" {
		c, ok := parseRingCursor(v)
		if !ok {
			return f, fmt.Errorf("%w: cursor %q is not one this API gave", ErrBadRequest, v)
		}
		f.After = &c
	}
	return f, nil
}

// ringCursor encodes the place of a ring: its update time and key.
func ringCursor(c store.RingCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.UpdatedAt.UTC().Format(time.RFC3339Nano) + " " + c.Key))
}

func parseRingCursor(s string) (store.RingCursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return store.RingCursor{}, false
	}
	at, key, ok := strings.Cut(string(b), " ")
	t, err := time.Parse(time.RFC3339Nano, at)
	if !ok || err != nil || key == "" {
		return store.RingCursor{}, false
	}
	return store.RingCursor{UpdatedAt: t, Key: key}, true
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
