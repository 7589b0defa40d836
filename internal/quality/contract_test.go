package quality

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
)

func mustParse(t testing.TB, doc string) *Contract {
	t.Helper()
	c, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse(%q): %v", doc, err)
	}
	return c
}

func TestParseEmptyIsDefault(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{"", "\n", "# nothing\n", "{}", "null", "checks: {}"} {
		if got := mustParse(t, doc).Spec(); !reflect.DeepEqual(got, DefaultSpec()) {
			t.Errorf("Parse(%q) is not the default contract:\n%+v", doc, got.Checks)
		}
	}
}

func TestParseOverridesOnlyWhatItGives(t *testing.T) {
	t.Parallel()
	c := mustParse(t, `
checks:
  quantity: {max: 500}
  channel: {allowed: [web, app, other]}
  country:
    aliases: {"Jersey Isles": JE}
`)
	s := c.Spec().Checks
	if s.Quantity.Max != 500 || s.Quantity.Action != Quarantine {
		t.Errorf("quantity = %+v, want max 500 and the default action", s.Quantity)
	}
	if !slices.Equal(s.Channel.Allowed, []string{"web", "app", "other"}) || s.Channel.ReplaceWith != "other" || s.Channel.Action != Warn {
		t.Errorf("channel = %+v", s.Channel)
	}
	if s.Country.Aliases["Jersey Isles"] != "JE" || s.Country.Aliases["channel islands"] != "ZZ" {
		t.Errorf("aliases are not the defaults plus the new one: %v", s.Country.Aliases)
	}
	if !reflect.DeepEqual(s.Amount, DefaultSpec().Checks.Amount) {
		t.Errorf("amount changed: %+v", s.Amount)
	}
	if code, ok := c.Country("jersey   isles"); !ok || code != "JE" {
		t.Errorf("Country(jersey isles) = %q, %v", code, ok)
	}
}

func TestParseJSON(t *testing.T) {
	t.Parallel()
	c := mustParse(t, `{"checks":{"event_time_past":{"action":"quarantine","max_skew":"48h"}}}`)
	if s := c.Spec().Checks.EventTimePast; s.Action != Quarantine || time.Duration(s.MaxSkew) != 48*time.Hour {
		t.Errorf("event_time_past = %+v", s)
	}
}

func TestParseErrorsNameTheKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ doc, want string }{
		{"chekcs: {}", `unknown key "chekcs"`},
		{"checks: {quantity: {maxx: 5}}", `checks.quantity: unknown key "maxx"`},
		{"checks: {quantity: {max: 0}}", "checks.quantity.max: 0"},
		{"checks: {quantity: {max: many}}", "checks.quantity: max: want int64"},
		{"checks: {quantity: {action: drop}}", `checks.quantity.action: "drop"`},
		{"checks: {missing_field: {action: off}}", "checks.missing_field: a structural check"},
		{"checks: {duplicate_id: {action: warn}}", "checks.duplicate_id: a structural check"},
		{"checks: {sparkle: {}}", "checks.sparkle: unknown check"},
		{"checks: {currency: {allowed: [EUR, XBT]}}", `checks.currency.allowed[1]: "XBT"`},
		{"checks: {currency: {allowed: []}}", "checks.currency.allowed: empty"},
		{"checks: {country: {allowed: [DE, XX]}}", `checks.country.allowed[1]: "XX"`},
		{"checks: {country: {unknown_region: DE}}", `checks.country.unknown_region: "DE" is a country`},
		{"checks: {country: {unknown_region: zz}}", "checks.country.unknown_region"},
		{"checks: {country: {aliases: {Atlantis: AT1}}}", `checks.country.aliases["Atlantis"]`},
		{"checks: {quantity: {action: true}}", "checks.quantity: action: want quarantine, warn or off"},
		{"checks: {channel: {replace_with: misc}}", `checks.channel.replace_with: "misc" is not in allowed`},
		{"checks: {payment_method: {allowed: []}}", "checks.payment_method.allowed: empty"},
		{"checks: {event_time_future: {max_skew: 5 minutes}}", "checks.event_time_future: max_skew"},
		{"checks: {event_time_past: {max_skew: 0s}}", "checks.event_time_past.max_skew"},
		{"checks: {transaction_id: {pattern: '[a-'}}", "checks.transaction_id.pattern"},
		{"checks: {customer_id: {max_length: 1000}}", "checks.customer_id.max_length: 1000"},
		{"schema_versions: [{version: 1, rename: {a: total_amount}}]", "schema_versions[0].version: 1"},
		{"schema_versions: [{version: 2}]", "schema_versions[0]: neither rename nor item_rename"},
		{"schema_versions: [{version: 2, rename: {amount: totl}}]", `schema_versions[0].rename["amount"]: "totl"`},
		{"schema_versions: [{version: 2, renam: {}}]", `schema_versions[0]: unknown key "renam"`},
		{"schema_versions: [{version: 2, item_rename: {price: cost}}]", `schema_versions[0].item_rename["price"]`},
		{"schema_versions: [{version: 2, rename: {a: channel}}, {version: 2, rename: {b: channel}}]", "schema_versions[1].version: 2 registered twice"},
		{"checks: [1, 2]", "quality contract"},
		{"checks: {quantity: {max: 1}\n", "quality contract"},
	}
	for _, tc := range tests {
		_, err := Parse([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tc.doc, err, tc.want)
		}
	}
}

func TestDefaultSpecRoundTrips(t *testing.T) {
	t.Parallel()
	y, err := DefaultSpec().MarshalYAML()
	if err != nil {
		t.Fatal(err)
	}
	if got := mustParse(t, string(y)).Spec(); !reflect.DeepEqual(got, DefaultSpec()) {
		t.Errorf("the printed default contract does not parse back to itself:\n%s", y)
	}
}

func TestExampleContract(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/quality-contract.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, string(b))
	if c.Spec().Checks.Quantity.Max == DefaultSpec().Checks.Quantity.Max && len(c.versions) == 0 {
		t.Errorf("the example sets nothing that differs from the default")
	}
}

// check runs the contract on good edited by edit.
func check(c *Contract, from, to string) (Result, event.Transaction) {
	raw := strings.Replace(good, from, to, 1)
	var res Result
	var tx event.Transaction
	c.Decode([]byte(raw), now, &tx, &res)
	return res, tx
}

// TestActions: each configurable check fails a record made for it, with
// its reason when it quarantines, with a warning and the record accepted
// when it warns, silently when it is off.
func TestActions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		check    CheckName
		settings string // the check's section, without the action
		from, to string
		reason   Reason
	}{
		{CheckTransactionID, "max_length: 2", `"transaction_id":"t1"`, `"transaction_id":"t123"`, InvalidID},
		{CheckTransactionID, "pattern: 't[0-9]+'", `"transaction_id":"t1"`, `"transaction_id":"t1x"`, InvalidID},
		{CheckCustomerID, "pattern: 'c[0-9]{1,7}'", `"customer_id":"c1"`, `"customer_id":"c12345678"`, InvalidID},
		{CheckItemCount, "max: 1", `"items":[`, `"items":[{"product_id":"p2","category":"books","quantity":1,"unit_price":0},`, OutOfRange},
		{CheckQuantity, "max: 2", `"quantity":2,"unit_price":5.25}],"total_amount":10.50`, `"quantity":3,"unit_price":3.50}],"total_amount":10.50`, OutOfRange},
		{CheckAmount, "max: 1050", `"quantity":2,"unit_price":5.25}],"total_amount":10.50`, `"quantity":2,"unit_price":5.30}],"total_amount":10.60`, OutOfRange},
		{CheckCurrency, "allowed: [EUR]", `"currency":"EUR"`, `"currency":"USD"`, UnknownCurrency},
		{CheckCountry, "allowed: [DE, FR]", `"shipping_country":"FR"`, `"shipping_country":"IT"`, UnknownCountry},
		{CheckChannel, "{}", `"channel":"web"`, `"channel":"carrier_pigeon"`, UnknownChannel},
		{CheckPaymentMethod, "{}", `"payment_method":"card"`, `"payment_method":"barter"`, UnknownPaymentMethod},
		{CheckEventTimeFuture, "max_skew: 1m", `2026-11-24T11:59:00Z`, `2026-11-24T12:02:00Z`, FutureTimestamp},
		{CheckEventTimePast, "max_skew: 24h", `2026-11-24T11:59:00Z`, `2026-11-20T11:59:00Z`, StaleTimestamp},
		{CheckUnknownField, "{}", `"channel":"web"`, `"channel":"web","coupon":"X1"`, UnknownField},
	}
	for _, tc := range tests {
		for _, action := range []Action{Quarantine, Warn, Off} {
			t.Run(string(tc.check)+"/"+string(action), func(t *testing.T) {
				settings := tc.settings
				if settings == "{}" {
					settings = ""
				}
				doc := "checks:\n  " + string(tc.check) + ":\n    action: " + string(action) + "\n"
				if settings != "" {
					doc += "    " + settings + "\n"
				}
				c := mustParse(t, doc)
				if res, _ := check(c, "", ""); res.Failure != nil || len(res.Warnings) > 0 {
					t.Fatalf("the clean record: %v, warnings %v", res.Failure, res.Warnings)
				}
				res, _ := check(c, tc.from, tc.to)
				switch action {
				case Quarantine:
					if res.Failure == nil || res.Failure.Reason != tc.reason {
						t.Fatalf("failure %v, want %s", res.Failure, tc.reason)
					}
					if !strings.Contains(res.Failure.Detail, string(tc.check)) && tc.check != CheckCurrency && tc.check != CheckCountry && tc.check != CheckUnknownField {
						t.Errorf("detail %q does not name the check's key", res.Failure.Detail)
					}
				case Warn:
					if res.Failure != nil || !slices.Equal(res.Warnings, []CheckName{tc.check}) {
						t.Fatalf("failure %v, warnings %v, want accepted with warning %s", res.Failure, res.Warnings, tc.check)
					}
				case Off:
					if res.Failure != nil || len(res.Warnings) > 0 {
						t.Fatalf("failure %v, warnings %v, want accepted silently", res.Failure, res.Warnings)
					}
				}
			})
		}
	}
}

func TestStructuralChecksStay(t *testing.T) {
	t.Parallel()
	// Every configurable check off: the structural ones still quarantine.
	var doc strings.Builder
	doc.WriteString("checks:\n")
	for _, n := range configurable() {
		doc.WriteString("  " + n + ": {action: off}\n")
	}
	c := mustParse(t, doc.String())
	for _, tc := range []struct {
		from, to string
		want     Reason
	}{
		{`"total_amount":10.50`, `"total_amount":10.49`, TotalMismatch},
		{`"total_amount":10.50`, `"total_amount":-10.50`, NegativeAmount},
		{`"bin":"411111"`, `"bin":"4111111111111111"`, InvalidCard},
		{`"channel":"web"`, `"channel":""`, MissingField},
		{`"schema_version":1`, `"schema_version":3`, UnsupportedVer},
		{`"quantity":2`, `"quantity":"2"`, WrongType},
	} {
		if res, _ := check(c, tc.from, tc.to); res.Failure == nil || res.Failure.Reason != tc.want {
			t.Errorf("%s: failure %v, want %s", tc.to, res.Failure, tc.want)
		}
	}
}

func TestWarnReplacesValues(t *testing.T) {
	t.Parallel()
	c := Default()
	res, tx := check(c, `"channel":"web"`, `"channel":"smart_fridge"`)
	if res.Failure != nil || tx.Channel != "other" || !slices.Equal(res.Warnings, []CheckName{CheckChannel}) {
		t.Errorf("channel: %v, %q, %v; want stored as other with a channel warning", res.Failure, tx.Channel, res.Warnings)
	}
	res, tx = check(c, `"payment_method":"card"`, `"payment_method":"seashells"`)
	if res.Failure != nil || tx.PaymentMethod != "other" || !slices.Equal(res.Warnings, []CheckName{CheckPaymentMethod}) {
		t.Errorf("payment_method: %v, %q, %v", res.Failure, tx.PaymentMethod, res.Warnings)
	}
	for _, ch := range []string{"web", "mobile_web", "app", "import"} {
		if res, tx := check(c, `"channel":"web"`, `"channel":"`+ch+`"`); res.Failure != nil || len(res.Warnings) > 0 || tx.Channel != ch {
			t.Errorf("channel %s: %v, %v, %q", ch, res.Failure, res.Warnings, tx.Channel)
		}
	}
	w := mustParse(t, "checks: {country: {action: warn}}")
	res, tx = check(w, `"shipping_country":"FR"`, `"shipping_country":"Atlantis"`)
	if res.Failure != nil || tx.ShippingCountry != "ZZ" || !slices.Equal(res.Warnings, []CheckName{CheckCountry}) {
		t.Errorf("country with warn: %v, %q, %v; want stored as ZZ with a warning", res.Failure, tx.ShippingCountry, res.Warnings)
	}
}

func TestCountries(t *testing.T) {
	t.Parallel()
	c := Default()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"DE", "DE", true}, {"de", "DE", true}, {"GB", "GB", true}, {"UK", "GB", true}, {"uk", "GB", true},
		{"United Kingdom", "GB", true}, {"  united   kingdom ", "GB", true}, {"EIRE", "IE", true}, {"USA", "US", true},
		{"Channel Islands", "ZZ", true}, {"European Community", "ZZ", true}, {"Unspecified", "ZZ", true}, {"ZZ", "ZZ", true},
		{"JE", "JE", true}, {"GG", "GG", true},
		{"Atlantis", "", false}, {"QQ", "", false}, {"", "", false}, {"D", "", false},
	}
	for _, tc := range tests {
		if got, ok := c.Country(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("Country(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	// In a record: an alias is stored as its code, with no warning.
	res, tx := check(c, `"billing_country":"DE"`, `"billing_country":"Channel Islands"`)
	if res.Failure != nil || len(res.Warnings) > 0 || tx.BillingCountry != "ZZ" {
		t.Errorf("Channel Islands: %v %v %q, want stored as ZZ", res.Failure, res.Warnings, tx.BillingCountry)
	}
	// Mapped to a country instead of the unknown region, by the contract.
	je := mustParse(t, `checks: {country: {aliases: {"channel islands": JE}}}`)
	if _, tx := check(je, `"billing_country":"DE"`, `"billing_country":"Channel Islands"`); tx.BillingCountry != "JE" {
		t.Errorf("Channel Islands with the JE alias stored as %q", tx.BillingCountry)
	}
	// Without an unknown region, ZZ is an unknown country.
	none := mustParse(t, `checks: {country: {unknown_region: "", aliases: {"channel islands": GG, "european community": BE, "unspecified": GB, "european union": BE, "eu": BE, unknown: GB, other: GB, "n/a": GB}}}`)
	if res, _ := check(none, `"billing_country":"DE"`, `"billing_country":"ZZ"`); res.Failure == nil || res.Failure.Reason != UnknownCountry {
		t.Errorf("ZZ without an unknown region: %v", res.Failure)
	}
}

func TestSchemaVersionMapping(t *testing.T) {
	t.Parallel()
	v2 := strings.NewReplacer(`"schema_version":1`, `"schema_version":2`, `"total_amount":`, `"amount":`,
		`"unit_price":`, `"price":`).Replace(good)
	var tx event.Transaction
	var res Result
	Default().Decode([]byte(v2), now, &tx, &res)
	if res.Failure == nil || res.Failure.Reason != UnsupportedVer {
		t.Fatalf("version 2 under the default contract: %v, want unsupported_version", res.Failure)
	}
	c := mustParse(t, `
schema_versions:
  - version: 2
    rename: {amount: total_amount}
    item_rename: {price: unit_price}
`)
	c.Decode([]byte(v2), now, &tx, &res)
	if res.Failure != nil || len(res.UnknownFields) > 0 {
		t.Fatalf("version 2 with its mapping: %v, unknown fields %v", res.Failure, res.UnknownFields)
	}
	if tx.SchemaVersion != 1 || tx.TotalCents != 1050 || tx.Items[0].UnitPriceCents != 525 || tx.TransactionID != "t1" {
		t.Errorf("mapped transaction %+v", tx)
	}
	// Version 3 is still unsupported.
	c.Decode([]byte(strings.Replace(v2, `"schema_version":2`, `"schema_version":3`, 1)), now, &tx, &res)
	if res.Failure == nil || res.Failure.Reason != UnsupportedVer {
		t.Errorf("version 3: %v", res.Failure)
	}
	// A version-2 record still fails the checks its data fails.
	c.Decode([]byte(strings.Replace(v2, `"amount":10.50`, `"amount":10.49`, 1)), now, &tx, &res)
	if res.Failure == nil || res.Failure.Reason != TotalMismatch {
		t.Errorf("version 2 with a wrong total: %v", res.Failure)
	}
}

func TestUnknownFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  string
		want []string
	}{
		{good, nil},
		{strings.Replace(good, `"channel":"web"`, `"channel":"web","coupon":"X","gift_wrap":true`, 1), []string{"coupon", "gift_wrap"}},
		{strings.Replace(good, `{"schema_version":1,`, `{"z":{"a":[1,"]}",{"b":"\""}]},"schema_version":1,`, 1), []string{"z"}},
		{strings.Replace(good, `"currency":"EUR"`, `"currency" : "EUR" , "cur\u0072ency2":null`, 1), []string{"currency2"}},
		{strings.Replace(good, `"device_id"`, `"devic\u0065_id"`, 1), nil},
		{strings.Replace(good, `"category":"books"`, `"category":"books","colour":"red"`, 1), nil}, // items' members are not top-level
		{`{"schema_version":1,"` + strings.Repeat("x", 100) + `":1}`, []string{strings.Repeat("x", maxFieldName)}},
	}
	for _, tc := range tests {
		got := appendUnknownFields(nil, []byte(tc.raw))
		if !slices.Equal(got, tc.want) {
			t.Errorf("unknown fields of %s = %q, want %q", tc.raw, got, tc.want)
		}
	}
	// Strict: quarantined, naming the fields.
	strict := mustParse(t, "checks: {unknown_field: {action: quarantine}}")
	res, _ := check(strict, `"channel":"web"`, `"channel":"web","coupon":"X"`)
	if res.Failure == nil || res.Failure.Reason != UnknownField || !strings.Contains(res.Failure.Detail, "coupon") {
		t.Errorf("strict: %v", res.Failure)
	}
	// The default counts them and stores the record.
	res, _ = check(Default(), `"channel":"web"`, `"channel":"web","coupon":"X"`)
	if res.Failure != nil || !slices.Equal(res.UnknownFields, []string{"coupon"}) || !slices.Equal(res.Warnings, []CheckName{CheckUnknownField}) {
		t.Errorf("default: %v %v %v", res.Failure, res.UnknownFields, res.Warnings)
	}
}

func TestWarningsOncePerCheck(t *testing.T) {
	t.Parallel()
	c := mustParse(t, "checks: {quantity: {action: warn, max: 2}, channel: {action: warn}}")
	raw := strings.NewReplacer(`"items":[`, `"items":[{"product_id":"p2","category":"books","quantity":3,"unit_price":0},{"product_id":"p3","category":"books","quantity":4,"unit_price":0},`,
		`"channel":"web"`, `"channel":"tv"`).Replace(good)
	var res Result
	var tx event.Transaction
	c.Decode([]byte(raw), now, &tx, &res)
	if res.Failure != nil || !slices.Equal(res.Warnings, []CheckName{CheckQuantity, CheckChannel}) {
		t.Errorf("failure %v, warnings %v; want quantity and channel once each", res.Failure, res.Warnings)
	}
	// The Result is reused: the next record starts clean.
	c.Decode([]byte(good), now, &tx, &res)
	if res.Failure != nil || len(res.Warnings) > 0 {
		t.Errorf("the next record: %v %v", res.Failure, res.Warnings)
	}
}

func TestForImportAndMaxItems(t *testing.T) {
	t.Parallel()
	c := Default()
	if c.MaxItems() != 100 {
		t.Errorf("MaxItems = %d, want 100", c.MaxItems())
	}
	if mustParse(t, "checks: {item_count: {action: warn}}").MaxItems() != 0 {
		t.Error("MaxItems of a warning item_count check is not 0")
	}
	old := strings.Replace(good, `2026-11-24T11:59:00Z`, `2010-12-01T08:26:00Z`, 1)
	var tx event.Transaction
	var res Result
	strict := mustParse(t, "checks: {event_time_past: {action: quarantine}}")
	if strict.Decode([]byte(old), now, &tx, &res); res.Failure == nil || res.Failure.Reason != StaleTimestamp {
		t.Errorf("an old record: %v, want stale_timestamp", res.Failure)
	}
	if strict.ForImport().Decode([]byte(old), now, &tx, &res); res.Failure != nil || len(res.Warnings) > 0 {
		t.Errorf("an old record under ForImport: %v %v", res.Failure, res.Warnings)
	}
	if strict.action(CheckEventTimePast) != Quarantine {
		t.Error("ForImport changed the contract it was called on")
	}
}

func TestConfigKeepsItsThresholds(t *testing.T) {
	t.Parallel()
	cfg := Config{MaxQuantity: 5}.WithDefaults()
	var tx event.Transaction
	if f := cfg.Decode([]byte(strings.Replace(good, `"quantity":2`, `"quantity":6`, 1)), now, &tx); f == nil || f.Reason != OutOfRange {
		t.Errorf("quantity 6 with MaxQuantity 5: %v", f)
	}
	if d := (Config{}).WithDefaults(); d.MaxQuantity != 100_000 || d.MaxItems != 100 {
		t.Errorf("Config defaults %+v", d)
	}
}

// FuzzParse: the parser never panics, and a contract it accepts prints as
// YAML that parses back to the same contract.
func FuzzParse(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("checks: {quantity: {max: 500}, channel: {action: quarantine}}"))
	f.Add([]byte(`{"checks":{"country":{"aliases":{"Jersey":"JE"}}},"schema_versions":[{"version":2,"rename":{"amount":"total_amount"}}]}`))
	f.Add([]byte("checks:\n  transaction_id: {pattern: 'T[0-9]+', max_length: 20}\n  event_time_past: {max_skew: 48h}\n"))
	if b, err := os.ReadFile("../../docs/quality-contract.example.yaml"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := Parse(doc)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "quality contract: ") {
				t.Fatalf("error %q does not say it is about the contract", err)
			}
			return
		}
		y, err := c.Spec().MarshalYAML()
		if err != nil {
			t.Fatalf("printing: %v", err)
		}
		back, err := Parse(y)
		if err != nil {
			t.Fatalf("the printed contract does not parse: %v\n%s", err, y)
		}
		if !reflect.DeepEqual(back.Spec(), c.Spec()) {
			t.Fatalf("round trip changed the contract:\n%s", y)
		}
	})
}

// TestCountryNamesInTheirLanguages: an export in a shop's own language
// names countries in it; the check reads those names as it reads the
// English ones, and no name two countries share decides one.
func TestCountryNamesInTheirLanguages(t *testing.T) {
	c := Default()
	for v, want := range map[string]string{
		"Deutschland": "DE", "Österreich": "AT", "  österreich ": "AT", "Schweiz": "CH", "Suisse": "CH", "Frankreich": "FR",
		"Espagne": "ES", "España": "ES", "Nederland": "NL", "België": "BE", "Polska": "PL", "Sverige": "SE", "Danmark": "DK",
		"Suomi": "FI", "Česko": "CZ", "Magyarország": "HU", "Ελλάδα": "GR", "Россия": "RU", "ドイツ": "DE", "Vereinigtes Königreich": "GB",
		"Royaume-Uni": "GB", "Estados Unidos": "US", "Brasil": "BR", "México": "MX", "Italia": "IT",
	} {
		if got, ok := c.Country(v); !ok || got != want {
			t.Errorf("Country(%q) = %q, %v; want %s", v, got, ok, want)
		}
	}
	for _, v := range []string{"Atlantis", "Deutschlandd", "", "Europa"} {
		if got, ok := c.Country(v); ok {
			t.Errorf("Country(%q) = %q: want none", v, got)
		}
	}
	// A name two countries share (here "Guinea" for both GN and GQ in
	// the second language) decides neither.
	names := countryNamesOf([]string{"en", "xx"}, func(lang, code string) string {
		switch {
		case code == "GN" || lang == "xx" && code == "GQ":
			return "Guinea"
		case code == "DE":
			return map[string]string{"en": "Germany", "xx": "Deutschland"}[lang]
		}
		return ""
	})
	if len(names) != 2 || names["germany"] != "DE" || names["deutschland"] != "DE" {
		t.Errorf("names %v, want germany and deutschland for DE and no guinea", names)
	}
	if n := len(nativeCountryNames()); n < 3000 {
		t.Errorf("%d country names: the languages' names were not read", n)
	}
}
