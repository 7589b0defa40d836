package quality

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/event"
)

// CheckName is the stable name of one check of the contract, used in the
// contract file, in warnings, in metrics and in docs/event-schema.md.
type CheckName string

// The checks. The first group is structural: always on, a failure always
// quarantines, and the contract cannot configure them (a record without a
// value, that is not a transaction object, whose amounts do not add up or
// that carries a card number cannot be stored as a transaction). The
// second group is configurable: thresholds and an Action each.
const (
	CheckEmptyRecord     CheckName = "empty_record"
	CheckInvalidText     CheckName = "invalid_text"
	CheckMalformedJSON   CheckName = "malformed_json"
	CheckWrongType       CheckName = "wrong_type"
	CheckTooManyDecimals CheckName = "too_many_decimals"
	CheckMissingField    CheckName = "missing_field"
	CheckVersion         CheckName = "unsupported_version"
	CheckNegativeAmount  CheckName = "negative_amount"
	CheckTotalMismatch   CheckName = "total_mismatch"
	CheckInvalidCard     CheckName = "invalid_card"
	CheckDuplicateID     CheckName = "duplicate_id"
	CheckFieldLength     CheckName = "field_length"
	CheckEventTimeRange  CheckName = "event_time_range"

	CheckTransactionID   CheckName = "transaction_id"
	CheckCustomerID      CheckName = "customer_id"
	CheckItemCount       CheckName = "item_count"
	CheckQuantity        CheckName = "quantity"
	CheckAmount          CheckName = "amount"
	CheckCurrency        CheckName = "currency"
	CheckCountry         CheckName = "country"
	CheckChannel         CheckName = "channel"
	CheckPaymentMethod   CheckName = "payment_method"
	CheckEventTimeFuture CheckName = "event_time_future"
	CheckEventTimePast   CheckName = "event_time_past"
	CheckUnknownField    CheckName = "unknown_field"
)

// Reasons of the configurable checks added with the contract; the other
// checks quarantine with the reasons in quality.go.
const (
	InvalidID            Reason = "invalid_id"
	UnknownChannel       Reason = "unknown_channel"
	UnknownPaymentMethod Reason = "unknown_payment_method"
	StaleTimestamp       Reason = "stale_timestamp"
	UnknownField         Reason = "unknown_field"
)

// CheckInfo describes one check for documentation and `shopstream quality`.
type CheckInfo struct {
	Name CheckName
	// Reason is the quarantine reason of a failure.
	Reason Reason
	// Structural checks cannot be configured: always on, always quarantine.
	Structural bool
}

// Checks lists every check in the order it is applied.
var Checks = []CheckInfo{
	{CheckEmptyRecord, EmptyRecord, true},
	{CheckInvalidText, InvalidText, true},
	{CheckMalformedJSON, MalformedJSON, true},
	{CheckWrongType, WrongType, true},
	{CheckTooManyDecimals, TooManyDecimals, true},
	{CheckUnknownField, UnknownField, false},
	{CheckMissingField, MissingField, true},
	{CheckVersion, UnsupportedVer, true},
	{CheckTransactionID, InvalidID, false},
	{CheckCustomerID, InvalidID, false},
	{CheckFieldLength, FieldTooLong, true},
	{CheckEventTimeRange, OutOfRange, true},
	{CheckItemCount, OutOfRange, false},
	{CheckNegativeAmount, NegativeAmount, true},
	{CheckAmount, OutOfRange, false},
	{CheckQuantity, OutOfRange, false},
	{CheckTotalMismatch, TotalMismatch, true},
	{CheckCurrency, UnknownCurrency, false},
	{CheckCountry, UnknownCountry, false},
	{CheckChannel, UnknownChannel, false},
	{CheckPaymentMethod, UnknownPaymentMethod, false},
	{CheckInvalidCard, InvalidCard, true},
	{CheckEventTimeFuture, FutureTimestamp, false},
	{CheckEventTimePast, StaleTimestamp, false},
	{CheckDuplicateID, DuplicateID, true},
}

// Action is what a failed configurable check does to the record.
type Action string

// UnmarshalJSON reads an action; false is off, since YAML 1.1 reads an
// unquoted off as false.
func (a *Action) UnmarshalJSON(b []byte) error {
	switch s := string(b); {
	case s == "false":
		*a = Off
	case len(s) >= 2 && s[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*a = Action(v)
	default:
		return fmt.Errorf("action: want quarantine, warn or off, got %s", s)
	}
	return nil
}

const (
	// Quarantine rejects the record with the check's reason.
	Quarantine Action = "quarantine"
	// Warn accepts the record, stores it (with the value replaced where the
	// check says so) and reports the check in Result.Warnings, so it is
	// counted and visible.
	Warn Action = "warn"
	// Off does not run the check.
	Off Action = "off"
)

// Result is the outcome of checking one record. Reuse one per goroutine:
// Decode and Validate reset it and keep its slices' storage.
type Result struct {
	// Failure is the first check that quarantines the record, nil when the
	// record is accepted.
	Failure *Failure
	// Warnings are the checks with action warn the record failed, each
	// once, in check order. The record is accepted.
	Warnings []CheckName
	// UnknownFields are the record's top-level members the schema does not
	// know (schema drift), when the unknown_field check is not off.
	UnknownFields []string
	warned        uint32 // bit per warned check (warnBit)
}

func (r *Result) reset() {
	r.Failure, r.Warnings, r.UnknownFields, r.warned = nil, r.Warnings[:0], r.UnknownFields[:0], 0
}

func (r *Result) warn(c CheckName) {
	bit := warnBit(c)
	if r.warned&bit != 0 {
		return
	}
	r.warned |= bit
	r.Warnings = append(r.Warnings, c)
}

func warnBit(c CheckName) uint32 {
	for i := range Checks {
		if Checks[i].Name == c {
			return 1 << i
		}
	}
	return 0
}

// Contract is a compiled data-quality contract: which checks run, their
// thresholds and what a failure does. Build one with Default or Parse. It
// is immutable and safe for concurrent use; a reload builds a new one.
type Contract struct {
	spec Spec

	txID, custID        idRule
	maxItems            int
	maxQuantity         int
	maxAmount           event.Cents
	maxFuture, maxPast  time.Duration
	currencies          map[string]struct{}
	countries           [26 * 26]bool
	unknownRegion       string
	aliases             map[string]string // normalised name -> code
	channels, payments  valueRule
	act                 map[CheckName]Action
	versions            map[int]VersionSpec
	scanUnknown, strict bool
}

type idRule struct {
	maxLen  int
	pattern *regexp.Regexp
}

type valueRule struct {
	allowed map[string]struct{}
	replace string
}

// action is the action of a configurable check.
func (c *Contract) action(n CheckName) Action { return c.act[n] }

// Spec returns the contract as its document: every check with its
// effective thresholds and action.
func (c *Contract) Spec() Spec { return c.spec.clone() }

// MaxItems is the most lines a transaction may have before the item_count
// check fails; 0 when that check does not quarantine (so the importer need
// not split long orders).
func (c *Contract) MaxItems() int {
	if c.action(CheckItemCount) != Quarantine {
		return 0
	}
	return c.maxItems
}

// ForImport returns the contract an order-history import applies: the same
// but for event_time_past, which is off, since history is old by design.
func (c *Contract) ForImport() *Contract {
	out := *c
	out.act = make(map[CheckName]Action, len(c.act))
	for k, v := range c.act {
		out.act[k] = v
	}
	out.act[CheckEventTimePast] = Off
	return &out
}

// Country maps a country value to the code the contract stores: an allowed
// ISO 3166-1 alpha-2 code (any case), the unknown-region value, a name
// or code the country aliases map to one of those (compared
// case-insensitively, with runs of white space as one space), or a
// country's name in one of countryNameLanguages (nativeCountryNames).
// ok is false when none applies.
func (c *Contract) Country(v string) (code string, ok bool) {
	if c.countryOK(v) {
		return v, true
	}
	key := normName(v)
	if code, ok := c.aliases[key]; ok {
		return code, c.countryOK(code)
	}
	if up := strings.ToUpper(key); c.countryOK(up) {
		return up, true
	}
	if code, ok := nativeCountryNames()[key]; ok {
		return code, c.countryOK(code)
	}
	return "", false
}

func isUpper(b byte) bool { return b >= 'A' && b <= 'Z' }

// normName is a country name as alias keys are compared: lower-case, runs
// of white space as one space, trimmed.
func normName(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// countryOK is the hot-path test: v is an allowed code or the
// unknown-region value, as given.
func (c *Contract) countryOK(v string) bool {
	if len(v) != 2 || !isUpper(v[0]) || !isUpper(v[1]) {
		return false
	}
	return c.countries[int(v[0]-'A')*26+int(v[1]-'A')] || v == c.unknownRegion
}
