package quality

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/shopstream/shopstream/internal/event"
)

// Spec is the contract as written in its file (YAML or JSON): a check's
// section sets only what differs from the default, so an empty file is the
// default contract. See docs/event-schema.md for every key.
type Spec struct {
	Checks CheckSpecs `json:"checks"`
	// SchemaVersions registers versions other than 1 by how their members
	// map onto version 1, so records of those versions are read instead of
	// quarantined as unsupported_version.
	SchemaVersions []VersionSpec `json:"schema_versions"`
}

// CheckSpecs holds the configurable checks.
type CheckSpecs struct {
	TransactionID   IDSpec      `json:"transaction_id"`
	CustomerID      IDSpec      `json:"customer_id"`
	ItemCount       LimitSpec   `json:"item_count"`
	Quantity        LimitSpec   `json:"quantity"`
	Amount          LimitSpec   `json:"amount"`
	Currency        SetSpec     `json:"currency"`
	Country         CountrySpec `json:"country"`
	Channel         ValueSpec   `json:"channel"`
	PaymentMethod   ValueSpec   `json:"payment_method"`
	EventTimeFuture SkewSpec    `json:"event_time_future"`
	EventTimePast   SkewSpec    `json:"event_time_past"`
	UnknownField    ActionSpec  `json:"unknown_field"`
}

// ActionSpec is a check with nothing to configure but its action.
type ActionSpec struct {
	Action Action `json:"action"`
}

// IDSpec bounds an identifier: at most MaxLength bytes and, when Pattern is
// set, matching it whole (Go regexp syntax).
type IDSpec struct {
	Action    Action `json:"action"`
	MaxLength int    `json:"max_length"`
	Pattern   string `json:"pattern"`
}

// LimitSpec is an upper bound: lines per transaction, units per line, or
// minor units of the currency for a unit price or total.
type LimitSpec struct {
	Action Action `json:"action"`
	Max    int64  `json:"max"`
}

// SetSpec is a list of allowed codes.
type SetSpec struct {
	Action  Action   `json:"action"`
	Allowed []string `json:"allowed"`
}

// CountrySpec: the allowed ISO 3166-1 alpha-2 codes (empty: every one),
// the value stored for a known but non-country region, and the aliases,
// names or codes mapped to a code or to that value.
type CountrySpec struct {
	Action        Action            `json:"action"`
	Allowed       []string          `json:"allowed,omitempty"`
	UnknownRegion string            `json:"unknown_region"`
	Aliases       map[string]string `json:"aliases"`
}

// ValueSpec is a bounded set of values (channel, payment method); a value
// outside it is replaced by ReplaceWith when the action is warn, so the
// window keys it makes stay few.
type ValueSpec struct {
	Action      Action   `json:"action"`
	Allowed     []string `json:"allowed"`
	ReplaceWith string   `json:"replace_with"`
}

// SkewSpec bounds the event time against the processing clock: at most
// MaxSkew ahead (event_time_future) or behind (event_time_past).
type SkewSpec struct {
	Action  Action   `json:"action"`
	MaxSkew Duration `json:"max_skew"`
}

// UnmarshalJSON reads the section strictly, naming max_skew in its errors
// (encoding/json names no field for an error of a value's own decoder).
func (s *SkewSpec) UnmarshalJSON(b []byte) error {
	type plain SkewSpec
	p := plain(*s)
	if err := strictJSON(b, &p); err != nil {
		var de durationError
		if errors.As(err, &de) {
			return fmt.Errorf("max_skew: %w", err)
		}
		return err
	}
	*s = SkewSpec(p)
	return nil
}

type durationError struct{ msg string }

func (e durationError) Error() string { return e.msg }

// VersionSpec maps a schema version onto version 1: Rename renames
// top-level members (old name: version-1 name), ItemRename the members of
// each item.
type VersionSpec struct {
	Version    int               `json:"version"`
	Rename     map[string]string `json:"rename"`
	ItemRename map[string]string `json:"item_rename"`
}

// Duration is a time.Duration written as Go writes it ("5m", "720h").
type Duration time.Duration

// MarshalJSON writes d like "5m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "5m", "720h", "90s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return durationError{fmt.Sprintf("want a duration such as \"5m\" or \"720h\", got %s", b)}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return durationError{fmt.Sprintf("want a duration such as \"5m\" or \"720h\": %v", err)}
	}
	*d = Duration(v)
	return nil
}

// DefaultSpec is the default contract, chosen for a retail shop rather than
// for the synthetic one: wholesale quantities, every ISO country and the
// common non-ISO names of order exports, the usual channels and payment
// methods with anything else counted and stored as "other".
func DefaultSpec() Spec {
	return Spec{Checks: CheckSpecs{
		TransactionID:   IDSpec{Action: Quarantine, MaxLength: 64},
		CustomerID:      IDSpec{Action: Quarantine, MaxLength: 64},
		ItemCount:       LimitSpec{Action: Quarantine, Max: 100},
		Quantity:        LimitSpec{Action: Quarantine, Max: 100_000},
		Amount:          LimitSpec{Action: Quarantine, Max: 100_000_000},
		Currency:        SetSpec{Action: Quarantine, Allowed: slices.Clone(defaultCurrencies)},
		Country:         CountrySpec{Action: Quarantine, UnknownRegion: "ZZ", Aliases: maps.Clone(defaultCountryAliases)},
		Channel:         ValueSpec{Action: Warn, Allowed: slices.Clone(defaultChannels), ReplaceWith: "other"},
		PaymentMethod:   ValueSpec{Action: Warn, Allowed: slices.Clone(defaultPaymentMethods), ReplaceWith: "other"},
		EventTimeFuture: SkewSpec{Action: Quarantine, MaxSkew: Duration(5 * time.Minute)},
		EventTimePast:   SkewSpec{Action: Warn, MaxSkew: Duration(30 * 24 * time.Hour)},
		UnknownField:    ActionSpec{Action: Warn},
	}}
}

// defaultChannels: the synthetic shop's (web, mobile_web, app), the
// importer's (import) and the common others.
var defaultChannels = []string{"web", "mobile_web", "app", "mobile_app", "pos", "store", "phone", "marketplace",
	"social", "email", "import", "other"}

// defaultPaymentMethods: the synthetic shop's (card, paypal, apple_pay,
// google_pay, klarna), the importer's (unknown) and the common others.
var defaultPaymentMethods = []string{"card", "paypal", "apple_pay", "google_pay", "klarna", "credit_card", "debit_card",
	"amazon_pay", "afterpay", "bank_transfer", "sepa_debit", "ideal", "sofort", "giropay", "bancontact", "blik",
	"alipay", "wechat_pay", "cash", "cash_on_delivery", "gift_card", "store_credit", "invoice", "unknown", "other"}

var defaultContract = mustCompile(DefaultSpec())

func mustCompile(s Spec) *Contract {
	c, err := s.Compile()
	if err != nil {
		panic(err)
	}
	return c
}

// Default returns the default contract.
func Default() *Contract { return defaultContract }

// Parse reads a contract document, YAML or JSON (JSON is YAML), over the
// defaults: a check's section replaces only the keys it gives (a list is
// replaced whole; country aliases are added to the default ones). Unknown
// keys, unknown or structural check names and bad values are errors that
// name the key, e.g. "checks.quantity.max: ...".
func Parse(doc []byte) (*Contract, error) {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return nil, fmt.Errorf("quality contract: %w", err)
	}
	spec := DefaultSpec()
	if t := bytes.TrimSpace(js); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return spec.Compile()
	}
	var top struct {
		Checks         map[string]json.RawMessage `json:"checks"`
		SchemaVersions []json.RawMessage          `json:"schema_versions"`
	}
	if err := strictJSON(js, &top); err != nil {
		return nil, fmt.Errorf("quality contract: %w", err)
	}
	sections := spec.Checks.sections()
	for _, name := range slices.Sorted(maps.Keys(top.Checks)) {
		dst, ok := sections[CheckName(name)]
		if !ok {
			for _, ci := range Checks {
				if string(ci.Name) == name && ci.Structural {
					return nil, fmt.Errorf("quality contract: checks.%s: a structural check, always on and always quarantining; it cannot be configured", name)
				}
			}
			return nil, fmt.Errorf("quality contract: checks.%s: unknown check (configurable: %s)", name, strings.Join(configurable(), ", "))
		}
		if err := strictJSON(top.Checks[name], dst); err != nil {
			return nil, fmt.Errorf("quality contract: checks.%s: %w", name, err)
		}
	}
	for i, raw := range top.SchemaVersions {
		var v VersionSpec
		if err := strictJSON(raw, &v); err != nil {
			return nil, fmt.Errorf("quality contract: schema_versions[%d]: %w", i, err)
		}
		spec.SchemaVersions = append(spec.SchemaVersions, v)
	}
	return spec.Compile()
}

// strictJSON decodes js into v, refusing unknown keys, naming the key of a
// value of the wrong type.
func strictJSON(js []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fmt.Errorf("%s: want %s, got a JSON %s", te.Field, te.Type, te.Value)
		}
		if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fmt.Errorf("unknown key %s", msg)
		}
		return err
	}
	return nil
}

func (cs *CheckSpecs) sections() map[CheckName]any {
	return map[CheckName]any{
		CheckTransactionID: &cs.TransactionID, CheckCustomerID: &cs.CustomerID, CheckItemCount: &cs.ItemCount,
		CheckQuantity: &cs.Quantity, CheckAmount: &cs.Amount, CheckCurrency: &cs.Currency, CheckCountry: &cs.Country,
		CheckChannel: &cs.Channel, CheckPaymentMethod: &cs.PaymentMethod, CheckEventTimeFuture: &cs.EventTimeFuture,
		CheckEventTimePast: &cs.EventTimePast, CheckUnknownField: &cs.UnknownField,
	}
}

func configurable() []string {
	var out []string
	for _, ci := range Checks {
		if !ci.Structural {
			out = append(out, string(ci.Name))
		}
	}
	return out
}

// MarshalYAML writes s as YAML, the form `shopstream quality check` prints.
func (s Spec) MarshalYAML() ([]byte, error) { return yaml.Marshal(s) }

func (s Spec) clone() Spec {
	out := s
	c := &out.Checks
	c.Currency.Allowed = slices.Clone(c.Currency.Allowed)
	c.Country.Allowed = slices.Clone(c.Country.Allowed)
	c.Country.Aliases = maps.Clone(c.Country.Aliases)
	c.Channel.Allowed = slices.Clone(c.Channel.Allowed)
	c.PaymentMethod.Allowed = slices.Clone(c.PaymentMethod.Allowed)
	out.SchemaVersions = slices.Clone(s.SchemaVersions)
	return out
}

// v1Fields and v1ItemFields are the members of version 1, the targets a
// VersionSpec may rename to (and the known fields of the unknown_field
// check).
var (
	v1Fields = []string{"schema_version", "transaction_id", "customer_id", "event_time", "items", "total_amount",
		"currency", "payment_method", "card", "device_id", "ip_address", "billing_country", "shipping_country", "channel",
		"shipping_address"}
	v1ItemFields = []string{"product_id", "category", "quantity", "unit_price", "unit_price_exact"}
)

// Compile validates s and builds its Contract. Errors name the key.
func (s Spec) Compile() (*Contract, error) {
	s = s.clone()
	cs := &s.Checks
	c := &Contract{act: map[CheckName]Action{}, versions: map[int]VersionSpec{}}
	for name, sec := range cs.sections() {
		var a Action
		switch v := sec.(type) {
		case *IDSpec:
			a = v.Action
		case *LimitSpec:
			a = v.Action
		case *SetSpec:
			a = v.Action
		case *CountrySpec:
			a = v.Action
		case *ValueSpec:
			a = v.Action
		case *SkewSpec:
			a = v.Action
		case *ActionSpec:
			a = v.Action
		}
		switch a {
		case Quarantine, Warn, Off:
		default:
			return nil, fmt.Errorf("quality contract: checks.%s.action: %q, want quarantine, warn or off", name, a)
		}
		c.act[name] = a
	}
	var err error
	if c.txID, err = cs.TransactionID.compile("transaction_id"); err != nil {
		return nil, err
	}
	if c.custID, err = cs.CustomerID.compile("customer_id"); err != nil {
		return nil, err
	}
	if err := cs.ItemCount.check("item_count", 10_000); err != nil {
		return nil, err
	}
	if err := cs.Quantity.check("quantity", 1_000_000_000); err != nil {
		return nil, err
	}
	if err := cs.Amount.check("amount", 1e15); err != nil {
		return nil, err
	}
	c.maxItems, c.maxQuantity, c.maxAmount = int(cs.ItemCount.Max), int(cs.Quantity.Max), event.Cents(cs.Amount.Max)

	if len(cs.Currency.Allowed) == 0 {
		return nil, errors.New("quality contract: checks.currency.allowed: empty; list the ISO 4217 codes to accept")
	}
	c.currencies = map[string]struct{}{}
	for i, cur := range cs.Currency.Allowed {
		if _, ok := event.CurrencyDigits(cur); !ok {
			return nil, fmt.Errorf("quality contract: checks.currency.allowed[%d]: %q is not an ISO 4217 code with a known minor unit", i, cur)
		}
		c.currencies[cur] = struct{}{}
	}

	cc := &cs.Country
	if len(cc.Allowed) == 0 {
		for code := range countries {
			c.countries[int(code[0]-'A')*26+int(code[1]-'A')] = true
		}
	}
	for i, code := range cc.Allowed {
		if !KnownCountry(code) {
			return nil, fmt.Errorf("quality contract: checks.country.allowed[%d]: %q is not an ISO 3166-1 alpha-2 code", i, code)
		}
		c.countries[int(code[0]-'A')*26+int(code[1]-'A')] = true
	}
	if r := cc.UnknownRegion; r != "" {
		if len(r) != 2 || !isUpper(r[0]) || !isUpper(r[1]) {
			return nil, fmt.Errorf("quality contract: checks.country.unknown_region: %q, want two capital letters (ZZ, the ISO user-assigned 'unknown', by default), or empty for none", r)
		}
		if KnownCountry(r) {
			return nil, fmt.Errorf("quality contract: checks.country.unknown_region: %q is a country's ISO code; take a user-assigned one (AA, QM-QZ, XA-XZ, ZZ)", r)
		}
	}
	c.unknownRegion = cc.UnknownRegion
	c.aliases = make(map[string]string, len(cc.Aliases))
	for _, name := range slices.Sorted(maps.Keys(cc.Aliases)) {
		code := cc.Aliases[name]
		if strings.TrimSpace(name) == "" {
			return nil, errors.New("quality contract: checks.country.aliases: an empty name")
		}
		if code == "" {
			continue // removes a default alias
		}
		if !KnownCountry(code) && (code != c.unknownRegion || code == "") {
			return nil, fmt.Errorf("quality contract: checks.country.aliases[%q]: %q is neither an ISO 3166-1 alpha-2 code nor unknown_region %q", name, code, c.unknownRegion)
		}
		c.aliases[normName(name)] = code
	}
	if c.channels, err = cs.Channel.compile("channel"); err != nil {
		return nil, err
	}
	if c.payments, err = cs.PaymentMethod.compile("payment_method"); err != nil {
		return nil, err
	}
	if cs.EventTimeFuture.MaxSkew < 0 {
		return nil, fmt.Errorf("quality contract: checks.event_time_future.max_skew: %v is negative", time.Duration(cs.EventTimeFuture.MaxSkew))
	}
	if cs.EventTimePast.MaxSkew <= 0 {
		return nil, fmt.Errorf("quality contract: checks.event_time_past.max_skew: %v, want above 0", time.Duration(cs.EventTimePast.MaxSkew))
	}
	c.maxFuture, c.maxPast = time.Duration(cs.EventTimeFuture.MaxSkew), time.Duration(cs.EventTimePast.MaxSkew)
	c.scanUnknown, c.strict = c.act[CheckUnknownField] != Off, c.act[CheckUnknownField] == Quarantine

	for i, v := range s.SchemaVersions {
		at := fmt.Sprintf("quality contract: schema_versions[%d]", i)
		switch {
		case v.Version < 2 || v.Version > 1_000_000:
			return nil, fmt.Errorf("%s.version: %d, want 2 or more (version 1 is the schema itself)", at, v.Version)
		case c.versions[v.Version].Version != 0:
			return nil, fmt.Errorf("%s.version: %d registered twice", at, v.Version)
		case len(v.Rename) == 0 && len(v.ItemRename) == 0:
			return nil, fmt.Errorf("%s: neither rename nor item_rename given", at)
		}
		if err := checkRenames(at+".rename", v.Rename, v1Fields); err != nil {
			return nil, err
		}
		if err := checkRenames(at+".item_rename", v.ItemRename, v1ItemFields); err != nil {
			return nil, err
		}
		c.versions[v.Version] = v
	}
	sort.Slice(s.SchemaVersions, func(i, j int) bool { return s.SchemaVersions[i].Version < s.SchemaVersions[j].Version })
	c.spec = s
	return c, nil
}

func checkRenames(at string, m map[string]string, targets []string) error {
	seen := map[string]string{}
	for _, from := range slices.Sorted(maps.Keys(m)) {
		to := m[from]
		switch {
		case from == "" || from == "schema_version":
			return fmt.Errorf("%s: %q cannot be renamed", at, from)
		case !slices.Contains(targets, to) || to == "schema_version":
			return fmt.Errorf("%s[%q]: %q is not a version-1 member (%s)", at, from, to, strings.Join(targets, ", "))
		case seen[to] != "":
			return fmt.Errorf("%s[%q]: %q is also the new name of %q", at, from, to, seen[to])
		}
		seen[to] = from
	}
	return nil
}

func (s IDSpec) compile(name string) (idRule, error) {
	if s.MaxLength < 1 || s.MaxLength > MaxFieldLength {
		return idRule{}, fmt.Errorf("quality contract: checks.%s.max_length: %d, want 1 to %d bytes", name, s.MaxLength, MaxFieldLength)
	}
	r := idRule{maxLen: s.MaxLength}
	if s.Pattern != "" {
		re, err := regexp.Compile(`^(?:` + s.Pattern + `)$`)
		if err != nil {
			return idRule{}, fmt.Errorf("quality contract: checks.%s.pattern: %v", name, err)
		}
		r.pattern = re
	}
	return r, nil
}

func (s LimitSpec) check(name string, most int64) error {
	if s.Max < 1 || s.Max > most {
		return fmt.Errorf("quality contract: checks.%s.max: %d, want 1 to %d", name, s.Max, most)
	}
	return nil
}

func (s ValueSpec) compile(name string) (valueRule, error) {
	if len(s.Allowed) == 0 {
		return valueRule{}, fmt.Errorf("quality contract: checks.%s.allowed: empty; list the values to accept", name)
	}
	r := valueRule{allowed: map[string]struct{}{}, replace: s.ReplaceWith}
	for i, v := range s.Allowed {
		if v == "" || len(v) > 64 {
			return valueRule{}, fmt.Errorf("quality contract: checks.%s.allowed[%d]: %q, want 1 to 64 bytes", name, i, v)
		}
		r.allowed[v] = struct{}{}
	}
	if _, ok := r.allowed[s.ReplaceWith]; s.ReplaceWith != "" && !ok {
		return valueRule{}, fmt.Errorf("quality contract: checks.%s.replace_with: %q is not in allowed", name, s.ReplaceWith)
	}
	return r, nil
}
