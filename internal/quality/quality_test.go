package quality

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/shopstream/shopstream/internal/event"
)

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

const good = `{"schema_version":1,"transaction_id":"t1","customer_id":"c1","event_time":"2026-11-24T11:59:00Z",
"items":[{"product_id":"p1","category":"books","quantity":2,"unit_price":5.25}],"total_amount":10.50,"currency":"EUR",
"payment_method":"card","card":{"bin":"411111","last4":"1111"},"device_id":"d1","ip_address":"1.2.3.4",
"billing_country":"DE","shipping_country":"FR","channel":"web"}`

func TestDecode(t *testing.T) {
	cfg := Config{}.WithDefaults()
	tests := []struct {
		name string
		edit func(string) string
		want Reason
	}{
		{"clean", func(s string) string { return s }, OK},
		{"malformed", func(s string) string { return s[:40] }, MalformedJSON},
		{"not an object", func(string) string { return `[1,2]` }, WrongType},
		{"quantity as string", func(s string) string { return strings.Replace(s, `"quantity":2`, `"quantity":"2"`, 1) }, WrongType},
		{"price as string", func(s string) string { return strings.Replace(s, `"unit_price":5.25`, `"unit_price":"5.25"`, 1) }, WrongType},
		{"bad time", func(s string) string { return strings.Replace(s, `2026-11-24T11:59:00Z`, `yesterday`, 1) }, WrongType},
		{"no version", func(s string) string { return strings.Replace(s, `"schema_version":1,`, ``, 1) }, MissingField},
		{"version 2", func(s string) string { return strings.Replace(s, `"schema_version":1`, `"schema_version":2`, 1) }, UnsupportedVer},
		{"no id", func(s string) string { return strings.Replace(s, `"transaction_id":"t1",`, ``, 1) }, MissingField},
		{"no customer", func(s string) string { return strings.Replace(s, `"customer_id":"c1"`, `"customer_id":""`, 1) }, MissingField},
		{"no items", func(s string) string {
			return strings.Replace(s, `[{"product_id":"p1","category":"books","quantity":2,"unit_price":5.25}]`, `[]`, 1)
		}, MissingField},
		{"no product", func(s string) string { return strings.Replace(s, `"product_id":"p1"`, `"product_id":""`, 1) }, MissingField},
		{"negative total", func(s string) string { return strings.Replace(s, `"total_amount":10.50`, `"total_amount":-10.50`, 1) }, NegativeAmount},
		{"negative price", func(s string) string {
			return strings.Replace(strings.Replace(s, `"unit_price":5.25`, `"unit_price":-5.25`, 1), `"total_amount":10.50`, `"total_amount":0`, 1)
		}, NegativeAmount},
		{"zero quantity", func(s string) string { return strings.Replace(s, `"quantity":2`, `"quantity":0`, 1) }, OutOfRange},
		{"mismatch", func(s string) string { return strings.Replace(s, `"total_amount":10.50`, `"total_amount":10.49`, 1) }, TotalMismatch},
		{"currency", func(s string) string { return strings.Replace(s, `"EUR"`, `"XXX"`, 1) }, UnknownCurrency},
		{"country", func(s string) string {
			return strings.Replace(s, `"shipping_country":"FR"`, `"shipping_country":"QQ"`, 1)
		}, UnknownCountry},
		{"future", func(s string) string { return strings.Replace(s, `2026-11-24T11:59:00Z`, `2026-11-24T12:06:00Z`, 1) }, FutureTimestamp},
		{"slightly ahead is fine", func(s string) string { return strings.Replace(s, `2026-11-24T11:59:00Z`, `2026-11-24T12:04:00Z`, 1) }, OK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tx event.Transaction
			f := cfg.Decode([]byte(tc.edit(good)), now, &tx)
			got := OK
			if f != nil {
				got = f.Reason
				if f.Detail == "" {
					t.Errorf("failure %s has no detail", f.Reason)
				}
			}
			if got != tc.want {
				t.Fatalf("reason = %q (%v), want %q", got, f, tc.want)
			}
		})
	}
}

func TestEmptyRecord(t *testing.T) {
	cfg := Config{}.WithDefaults()
	for name, raw := range map[string][]byte{"tombstone": nil, "empty": {}} {
		tx := event.Transaction{TransactionID: "left from the last record"}
		f := cfg.Decode(raw, now, &tx)
		if f == nil || f.Reason != EmptyRecord || f.Detail == "" {
			t.Errorf("%s value: failure %v, want empty_record with a detail", name, f)
		}
		if tx.TransactionID != "" {
			t.Errorf("%s value left the previous transaction in place: %+v", name, tx)
		}
	}
	var tx event.Transaction
	if f := cfg.Decode([]byte(" "), now, &tx); f == nil || f.Reason != MalformedJSON {
		t.Errorf("a blank value: failure %v, want malformed_json", f)
	}
}

func TestDedup(t *testing.T) {
	d := NewDedup(3)
	for _, id := range []string{"a", "b", "c"} {
		if f := d.Check(id); f != nil {
			t.Fatalf("first sight of %s rejected: %v", id, f)
		}
	}
	if f := d.Check("b"); f == nil || f.Reason != DuplicateID {
		t.Fatalf("repeat of b = %v, want duplicate_id", f)
	}
	d.Check("d") // pushes "a" out of the ring of 3
	if f := d.Check("a"); f != nil {
		t.Fatalf("a should have left the ring: %v", f)
	}
}

// FuzzDecode: the checks never panic, every failure has a reason and a
// detail a text column can hold, and what they accept is what the stores
// can hold the same way: text without NUL or invalid UTF-8, card data
// that is no card number, amounts consistent in minor units.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte(`{"items":[{"quantity":1e9}]}`))
	f.Add([]byte(strings.Replace(good, `"currency":"EUR"`, `"currency":"JPY"`, 1)))
	f.Add([]byte(strings.Replace(good, `"device_id":"d1"`, `"device_id":"d\u0000"`, 1)))
	f.Add([]byte(strings.Replace(good, `"bin":"411111"`, `"bin":"4111111111111111"`, 1)))
	cfg := Config{}.WithDefaults()
	f.Fuzz(func(t *testing.T, data []byte) {
		var tx event.Transaction
		fail := cfg.Decode(data, now, &tx)
		if fail != nil {
			if fail.Reason == OK || fail.Detail == "" {
				t.Fatalf("a failure without a reason or detail: %+v", fail)
			}
			if !utf8.ValidString(fail.Detail) || strings.IndexByte(fail.Detail, 0) >= 0 {
				t.Fatalf("detail %q is not storable text", fail.Detail)
			}
			return
		}
		if tx.TransactionID == "" || tx.ItemsCents() != tx.TotalCents || tx.TotalCents < 0 {
			t.Fatalf("accepted an invalid record: %+v", tx)
		}
		texts := []string{tx.TransactionID, tx.CustomerID, tx.Currency, tx.PaymentMethod, tx.Card.BIN, tx.Card.Last4,
			tx.DeviceID, tx.IPAddress, tx.BillingCountry, tx.ShippingCountry, tx.Channel}
		for _, it := range tx.Items {
			texts = append(texts, it.ProductID, it.Category)
		}
		for _, s := range texts {
			if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
				t.Fatalf("accepted text %q that PostgreSQL cannot store", s)
			}
		}
		if tx.Card.BIN != "" && (len(tx.Card.BIN) > 8 || len(tx.Card.Last4) != 4) {
			t.Fatalf("accepted card data %+v", tx.Card)
		}
		if !KnownCurrency(tx.Currency) {
			t.Fatalf("accepted currency %q", tx.Currency)
		}
	})
}

func TestInvalidText(t *testing.T) {
	cfg := Config{}.WithDefaults()
	tests := []struct {
		name, from, to string
		want           Reason
		field          string // named in the detail
	}{
		{"escaped NUL in id", `"transaction_id":"t1"`, `"transaction_id":"t\u00001"`, InvalidText, "transaction_id"},
		{"escaped NUL in product", `"product_id":"p1"`, `"product_id":"p1\u0000"`, InvalidText, "product_id"},
		{"escaped NUL in device", `"device_id":"d1"`, `"device_id":"\u0000"`, InvalidText, "device_id"},
		{"raw NUL byte", `"channel":"web"`, "\"channel\":\"w\x00eb\"", InvalidText, "channel"},
		{"invalid UTF-8", `"category":"books"`, "\"category\":\"bo\xffoks\"", InvalidText, "category"},
		{"truncated UTF-8", `"customer_id":"c1"`, "\"customer_id\":\"c1\xc3\"", InvalidText, "customer_id"},
		{"surrogate encoded as UTF-8", `"ip_address":"1.2.3.4"`, "\"ip_address\":\"\xed\xa0\x80\"", InvalidText, "ip_address"},
		{"escaped backslash before u0000 is text", `"device_id":"d1"`, `"device_id":"d\\u0000"`, OK, ""},
		{"other escapes are fine", `"device_id":"d1"`, `"device_id":"\u00e9\n\u0001"`, OK, ""},
		{"valid UTF-8 is fine", `"category":"books"`, `"category":"Bücher 本 🙂"`, OK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := strings.Replace(good, tc.from, tc.to, 1)
			if raw == good {
				t.Fatalf("edit %q not applied", tc.from)
			}
			var tx event.Transaction
			f := cfg.Decode([]byte(raw), now, &tx)
			got := OK
			if f != nil {
				got = f.Reason
			}
			if got != tc.want {
				t.Fatalf("reason = %q (%v), want %q", got, f, tc.want)
			}
			if f != nil && !strings.Contains(f.Detail, `"`+tc.field+`"`) {
				t.Errorf("detail %q does not name field %s", f.Detail, tc.field)
			}
		})
	}
}

// TestValidateText: a transaction not decoded from a record (an imported
// order line) gets the text check of its fields that Decode gives a
// record, naming the field, so that such a line is quarantined rather
// than refused by PostgreSQL with its whole batch.
func TestValidateText(t *testing.T) {
	cfg := Config{}.WithDefaults()
	tests := []struct {
		name  string
		edit  func(*event.Transaction)
		field string // named in the detail; "" when accepted
	}{
		{"NUL in customer", func(tx *event.Transaction) { tx.CustomerID = "c\x001" }, "customer_id: NUL byte at byte 1"},
		{"NUL in transaction id", func(tx *event.Transaction) { tx.TransactionID = "\x00" }, "transaction_id: NUL byte at byte 0"},
		{"invalid UTF-8 in country", func(tx *event.Transaction) { tx.BillingCountry = "\xd6sterreich" }, "billing_country: invalid UTF-8 at byte 0"},
		{"truncated UTF-8 in category", func(tx *event.Transaction) { tx.Items[0].Category = "bo\xc3" }, "items[0].category: invalid UTF-8 at byte 2"},
		{"NUL in an exact price", func(tx *event.Transaction) { tx.Items[0].UnitPriceExact = "1\x00" }, "items[0].unit_price_exact: NUL byte at byte 1"},
		{"valid UTF-8 is fine", func(tx *event.Transaction) { tx.Items[0].Category = "Bücher 本 🙂" }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tx event.Transaction
			if f := cfg.Decode([]byte(good), now, &tx); f != nil {
				t.Fatal(f)
			}
			tc.edit(&tx)
			f := cfg.Validate(&tx, now)
			switch {
			case tc.field == "" && f != nil:
				t.Fatalf("refused: %v", f)
			case tc.field != "" && (f == nil || f.Reason != InvalidText || f.Detail != tc.field):
				t.Fatalf("failure %+v, want invalid_text %q", f, tc.field)
			}
		})
	}
}

// TestFieldLength: a text field longer than the stores' keys hold is
// quarantined as field_too_long, naming the field, for a record (Decode)
// and for an imported order line (Validate) alike; at the bound it passes.
func TestFieldLength(t *testing.T) {
	cfg := Config{}.WithDefaults()
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name   string
		edit   func(*event.Transaction, int)
		bound  int
		detail string // for bound+1
	}{
		{"product", func(tx *event.Transaction, n int) { tx.Items[0].ProductID = long(n) }, MaxFieldLength, "items[0].product_id is 256 bytes, at most 255"},
		{"category", func(tx *event.Transaction, n int) { tx.Items[0].Category = long(n) }, MaxFieldLength, "items[0].category is 256 bytes, at most 255"},
		{"device", func(tx *event.Transaction, n int) { tx.DeviceID = long(n) }, MaxFieldLength, "device_id is 256 bytes, at most 255"},
		{"ip", func(tx *event.Transaction, n int) { tx.IPAddress = long(n) }, MaxFieldLength, "ip_address is 256 bytes, at most 255"},
		{"address", func(tx *event.Transaction, n int) { tx.ShippingAddress = long(n) }, MaxAddressLength, "shipping_address is 1025 bytes, at most 1024"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range []int{tc.bound, tc.bound + 1} {
				var tx event.Transaction
				if f := cfg.Decode([]byte(good), now, &tx); f != nil {
					t.Fatal(f)
				}
				tc.edit(&tx, n)
				raw, err := event.Marshal(&tx)
				if err != nil {
					t.Fatal(err)
				}
				var back event.Transaction
				for name, f := range map[string]*Failure{"Decode": cfg.Decode(raw, now, &back), "Validate": cfg.Validate(&tx, now)} {
					switch {
					case n == tc.bound && f != nil:
						t.Errorf("%s at %d bytes: %v", name, n, f)
					case n > tc.bound && (f == nil || f.Reason != FieldTooLong || f.Detail != tc.detail):
						t.Errorf("%s at %d bytes: %+v, want field_too_long %q", name, n, f, tc.detail)
					}
				}
			}
		})
	}
}

// TestEventTimeRange: an event time before 1970 or from 2100 on is
// quarantined as out_of_range by the event_time_range check, for a record
// and an imported order line alike, whatever the contract's past and
// future checks say (off here); at the bounds' inside it passes.
func TestEventTimeRange(t *testing.T) {
	spec := DefaultSpec()
	spec.Checks.EventTimePast.Action, spec.Checks.EventTimeFuture.Action = Off, Off
	c, err := spec.Compile()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   time.Time
		want bool // accepted
	}{
		{time.Date(211, 3, 15, 0, 0, 0, 0, time.UTC), false},
		{MinEventTime.Add(-time.Second), false},
		{MinEventTime, true},
		{MaxEventTime.Add(-time.Second), true},
		{MaxEventTime, false},
		{time.Date(9011, 3, 15, 0, 0, 0, 0, time.UTC), false},
	} {
		var tx event.Transaction
		var res Result
		if c.Decode([]byte(good), now, &tx, &res); res.Failure != nil {
			t.Fatal(res.Failure)
		}
		tx.EventTime = tc.at
		raw, err := event.Marshal(&tx)
		if err != nil {
			t.Fatal(err)
		}
		var back event.Transaction
		var dres Result
		c.Decode(raw, now, &back, &dres)
		var vres Result
		c.Validate(&tx, now, &vres)
		for name, f := range map[string]*Failure{"Decode": dres.Failure, "Validate": vres.Failure} {
			switch {
			case tc.want && f != nil:
				t.Errorf("%s of %s: %v", name, tc.at, f)
			case !tc.want && (f == nil || f.Reason != OutOfRange || !strings.Contains(f.Detail, "event_time_range")):
				t.Errorf("%s of %s: %+v, want out_of_range by event_time_range", name, tc.at, f)
			}
		}
	}
}

func TestDetailIsStorableText(t *testing.T) {
	long := strings.Repeat("é", 150) // 300 bytes: a cut at 200 would split nothing, at 201 a rune
	for _, msg := range []string{"x" + long, long, "a\x00b", "bad \xff byte"} {
		d := trimErr(msg)
		if !utf8.ValidString(d) || strings.IndexByte(d, 0) >= 0 {
			t.Errorf("trimErr(%q) = %q: not valid UTF-8 without NUL", msg, d)
		}
	}
}

// TestDedupMatchesWindow: Dedup rejects exactly the IDs among the last
// size it accepted, as a plain list of them does, also when every ID
// shares its hash with others (a hash of one byte), which makes the
// collision path carry most of the IDs. A fifth of the IDs are longer than
// a slot holds in place (dedupWidth), so they live in the map of long
// ones, and the slots they leave are reused by short ones and back.
func TestDedupMatchesWindow(t *testing.T) {
	hashes := map[string]func(maphash.Seed, string) uint64{
		"maphash":  maphash.String,
		"one byte": func(_ maphash.Seed, s string) uint64 { return uint64(s[len(s)-1] % 4) },
	}
	for name, hash := range hashes {
		for _, size := range []int{1, 2, 3, 7, 64} {
			rng := rand.New(rand.NewPCG(uint64(size), 9))
			d := NewDedup(size)
			d.hash = hash
			var window []string // the last size accepted, oldest first
			for i := range 5000 {
				k := rng.IntN(3*size + 2)
				id := fmt.Sprintf("tx%d", k)
				if k%5 == 0 {
					id = strings.Repeat("x", dedupWidth) + id
				}
				want := slices.Contains(window, id)
				if got := d.Check(id) != nil; got != want {
					t.Fatalf("%s hash, window %d, check %d of %s: duplicate %v, want %v (window %v)", name, size, i, id, got, want, window)
				}
				if !want {
					window = append(window, id)
					if len(window) > size {
						window = window[1:]
					}
				}
			}
			if len(d.seen)+len(d.coll) != len(window) {
				t.Errorf("%s hash, window %d: index holds %d+%d IDs, the window %d", name, size, len(d.seen), len(d.coll), len(window))
			}
			if got := d.AppendIDs(nil); !slices.Equal(got, window) {
				t.Errorf("%s hash, window %d: remembers %q, want %q", name, size, got, window)
			}
			long := 0
			for _, id := range window {
				if len(id) > dedupWidth {
					long++
				}
			}
			if len(d.long) != long {
				t.Errorf("%s hash, window %d: %d long IDs held, the window has %d", name, size, len(d.long), long)
			}
		}
	}
}
