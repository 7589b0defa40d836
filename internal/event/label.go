package event

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	json "github.com/goccy/go-json"
)

// LabelSchemaVersion is the version of the label event this package reads
// and writes. A record with another version is rejected by DecodeLabel.
const LabelSchemaVersion = 1

// Kinds of label event: what learned the truth about a transaction, and
// when. Each arrives days after the transaction, in event time.
const (
	// LabelChargeback is the card issuer's chargeback: the cardholder
	// disputed the payment. Fraud is true; ReasonCode is the network's
	// (e.g. Visa 10.4, Mastercard 4837). A friendly-fraud chargeback (the
	// cardholder made the order and disputes it anyway) looks the same.
	LabelChargeback = "chargeback"
	// LabelAnalyst is a fraud analyst's decision after reviewing the order
	// (a customer's call, a refund request, a review of the account).
	LabelAnalyst = "analyst"
	// LabelDispute is the outcome of the shop's dispute of a chargeback
	// (representment): Fraud false when the shop won it, the chargeback
	// then being friendly fraud; true when the issuer upheld it.
	LabelDispute = "dispute"
)

// Label is one label event on the "labels" topic, keyed by TransactionID:
// what became known about one transaction, and when (EventTime, in the
// stream's event time). Several labels may concern one transaction (a
// chargeback, then the dispute's outcome); the latest by EventTime (then
// LabelID) decides its truth.
type Label struct {
	SchemaVersion int `json:"schema_version"`
	// LabelID identifies the label: a replay or a duplicate of it
	// changes nothing.
	LabelID       string `json:"label_id"`
	TransactionID string `json:"transaction_id"`
	// CustomerID is the transaction's customer, when known.
	CustomerID string `json:"customer_id,omitempty"`
	// Kind is one of the Label* kinds.
	Kind string `json:"kind"`
	// Fraud is the verdict: true for fraud, false for a legitimate order.
	Fraud bool `json:"fraud"`
	// Scenario names the kind of fraud when known ("card_testing",
	// "account_takeover", "friendly_fraud", ...); empty otherwise.
	Scenario string `json:"scenario,omitempty"`
	// ReasonCode is the card network's chargeback reason code, if any.
	ReasonCode string `json:"reason_code,omitempty"`
	// EventTime is when the label became known.
	EventTime time.Time `json:"event_time"`
	// TransactionTime is the labelled transaction's event time, when
	// known.
	TransactionTime time.Time `json:"transaction_time,omitzero"`
}

// ErrMalformedLabel wraps every error DecodeLabel returns.
var ErrMalformedLabel = errors.New("malformed label")

// MarshalLabel encodes l as version-1 JSON.
func MarshalLabel(l *Label) ([]byte, error) {
	b := make([]byte, 0, 256)
	b = append(b, `{"schema_version":`...)
	b = strconv.AppendInt(b, int64(l.SchemaVersion), 10)
	b = append(b, `,"label_id":`...)
	b = AppendJSONString(b, l.LabelID)
	b = append(b, `,"transaction_id":`...)
	b = AppendJSONString(b, l.TransactionID)
	if l.CustomerID != "" {
		b = append(b, `,"customer_id":`...)
		b = AppendJSONString(b, l.CustomerID)
	}
	b = append(b, `,"kind":`...)
	b = AppendJSONString(b, l.Kind)
	b = append(b, `,"fraud":`...)
	b = strconv.AppendBool(b, l.Fraud)
	if l.Scenario != "" {
		b = append(b, `,"scenario":`...)
		b = AppendJSONString(b, l.Scenario)
	}
	if l.ReasonCode != "" {
		b = append(b, `,"reason_code":`...)
		b = AppendJSONString(b, l.ReasonCode)
	}
	b = append(b, `,"event_time":`...)
	tb, err := l.EventTime.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encoding event_time of label %q: %w", l.LabelID, err)
	}
	b = append(b, tb...)
	if !l.TransactionTime.IsZero() {
		b = append(b, `,"transaction_time":`...)
		tb, err := l.TransactionTime.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("encoding transaction_time of label %q: %w", l.LabelID, err)
		}
		b = append(b, tb...)
	}
	return append(b, '}'), nil
}

// wireLabel is the version-1 object as DecodeLabel reads it: fraud is a
// pointer so that a missing verdict is told from false.
type wireLabel struct {
	SchemaVersion   int       `json:"schema_version"`
	LabelID         string    `json:"label_id"`
	TransactionID   string    `json:"transaction_id"`
	CustomerID      string    `json:"customer_id"`
	Kind            string    `json:"kind"`
	Fraud           *bool     `json:"fraud"`
	Scenario        string    `json:"scenario"`
	ReasonCode      string    `json:"reason_code"`
	EventTime       time.Time `json:"event_time"`
	TransactionTime time.Time `json:"transaction_time"`
}

// maxLabelField bounds the length of a label's text fields, which are
// stored as they come.
const maxLabelField = 200

// DecodeLabel parses and checks a version-1 label: a JSON object with the
// version, a label id, a transaction id, a known kind, a verdict and an
// event time. Every error wraps ErrMalformedLabel and says what is wrong,
// so the record can be quarantined with that reason.
func DecodeLabel(b []byte, l *Label) error {
	*l = Label{}
	// The decoder would turn bytes that are not UTF-8 into U+FFFD, and
	// store another text than the producer's.
	if !utf8.Valid(b) {
		return fmt.Errorf("%w: the record is not valid UTF-8", ErrMalformedLabel)
	}
	var w wireLabel
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformedLabel, err)
	}
	switch {
	case w.SchemaVersion != LabelSchemaVersion:
		return fmt.Errorf("%w: schema_version %d, want %d", ErrMalformedLabel, w.SchemaVersion, LabelSchemaVersion)
	case w.LabelID == "":
		return fmt.Errorf("%w: no label_id", ErrMalformedLabel)
	case w.TransactionID == "":
		return fmt.Errorf("%w: no transaction_id", ErrMalformedLabel)
	case w.Kind != LabelChargeback && w.Kind != LabelAnalyst && w.Kind != LabelDispute:
		return fmt.Errorf("%w: kind %q, want %q, %q or %q", ErrMalformedLabel, w.Kind, LabelChargeback, LabelAnalyst, LabelDispute)
	case w.Fraud == nil:
		return fmt.Errorf("%w: no fraud verdict", ErrMalformedLabel)
	case w.Kind == LabelChargeback && !*w.Fraud:
		return fmt.Errorf("%w: a chargeback with fraud false", ErrMalformedLabel)
	case w.EventTime.IsZero():
		return fmt.Errorf("%w: no event_time", ErrMalformedLabel)
	}
	for _, f := range [...]struct{ name, v string }{{"label_id", w.LabelID}, {"transaction_id", w.TransactionID},
		{"customer_id", w.CustomerID}, {"scenario", w.Scenario}, {"reason_code", w.ReasonCode}} {
		if len(f.v) > maxLabelField {
			return fmt.Errorf("%w: %s longer than %d bytes", ErrMalformedLabel, f.name, maxLabelField)
		}
		// PostgreSQL refuses both in text (and with them the batch the
		// label came in), while SQLite keeps them: as for a transaction
		// record's text (quality's invalid_text), refused in both.
		if strings.IndexByte(f.v, 0) >= 0 {
			return fmt.Errorf("%w: %s holds a NUL character", ErrMalformedLabel, f.name)
		}
		if !utf8.ValidString(f.v) {
			return fmt.Errorf("%w: %s is not valid UTF-8", ErrMalformedLabel, f.name)
		}
	}
	*l = Label{SchemaVersion: w.SchemaVersion, LabelID: w.LabelID, TransactionID: w.TransactionID, CustomerID: w.CustomerID,
		Kind: w.Kind, Fraud: *w.Fraud, Scenario: w.Scenario, ReasonCode: w.ReasonCode, EventTime: w.EventTime.UTC()}
	if !w.TransactionTime.IsZero() {
		l.TransactionTime = w.TransactionTime.UTC()
	}
	return nil
}
