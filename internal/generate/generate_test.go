package generate

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/quality"
)

func newGen(t testing.TB, cfg Config) *Generator {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// stream writes n records of g to a JSON-lines buffer and a labels buffer.
func stream(t testing.TB, g *Generator, n int) (values, labels []byte) {
	t.Helper()
	var v, l bytes.Buffer
	sink := NewFileSink(&v, &l)
	for i := 0; i < n; i++ {
		if err := sink.Write(context.Background(), g.Next()); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return v.Bytes(), l.Bytes()
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	cfg := Config{Seed: 42, Customers: 3000, Products: 500, FraudRate: 0.05, BadRate: 0.05}
	v1, l1 := stream(t, newGen(t, cfg), 30_000)
	v2, l2 := stream(t, newGen(t, cfg), 30_000)
	if !bytes.Equal(v1, v2) || !bytes.Equal(l1, l2) {
		t.Fatal("two generators with the same Config produced different bytes")
	}
	cfg.Seed = 43
	v3, _ := stream(t, newGen(t, cfg), 1000)
	if bytes.Equal(v1[:len(v3)], v3) {
		t.Fatal("different seeds produced the same records")
	}
}

// TestEncodingRoundTrip checks the hand-written encoder against the event
// package's decoder: every good record decodes to exactly the transaction
// the generator built.
func TestEncodingRoundTrip(t *testing.T) {
	t.Parallel()
	g := newGen(t, Config{Seed: 3, Customers: 2000, FraudRate: 0.2, BadRate: 0.1})
	for i := 0; i < 20_000; i++ {
		r := g.Next()
		if r.Bad != "" {
			continue
		}
		want := g.event(&g.tx)
		var got event.Transaction
		if err := event.Decode(r.Value, &got); err != nil {
			t.Fatalf("record %d: %v\n%s", i, err, r.Value)
		}
		if !got.EventTime.Equal(want.EventTime) || !got.EventTime.Equal(r.EventTime) {
			t.Fatalf("record %d: event time %v, built %v, record says %v", i, got.EventTime, want.EventTime, r.EventTime)
		}
		got.EventTime, want.EventTime = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("record %d decodes to\n%+v\nbuilt\n%+v", i, got, want)
		}
		if got.ItemsCents() != got.TotalCents {
			t.Fatalf("record %d: items sum to %s, total %s", i, got.ItemsCents(), got.TotalCents)
		}
	}
}

func TestEncodeEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"padded id", string(appendCustomerID(nil, 42)), "c00000042"},
		{"wide id", string(appendCustomerID(nil, 1234567890)), "c1234567890"},
		{"product", string(appendProductID(nil, 0)), "p000001"},
		{"epoch", string(appendTime(nil, 0, false)), "1970-01-01T00:00:00.000Z"},
		{"leap day", string(appendTime(nil, time.Date(2028, 2, 29, 23, 59, 59, 999e6, time.UTC).UnixMilli(), false)), "2028-02-29T23:59:59.999Z"},
		{"before epoch", string(appendTime(nil, time.Date(1969, 12, 31, 1, 2, 3, 4e6, time.UTC).UnixMilli(), false)), "1969-12-31T01:02:03.004Z"},
		{"wrong format", string(appendTime(nil, 0, true)), "1970-01-01 00:00:00"},
		{"ip", string(appendIP(nil, 0x0a000102)), "10.0.1.2"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	for day := int64(-800_000); day < 800_000; day += 997 {
		y, m, d := civil(day)
		ty, tm, td := time.Unix(day*86400, 0).UTC().Date()
		if y != ty || m != int(tm) || d != td || days(y, m, d) != day {
			t.Fatalf("civil(%d) = %d-%d-%d, time says %d-%d-%d", day, y, m, d, ty, tm, td)
		}
	}
}

// TestBadKinds makes each kind alone and checks that the quality checks
// reject every such record for exactly that reason, and pass the rest.
func TestBadKinds(t *testing.T) {
	t.Parallel()
	qc := quality.Config{}.WithDefaults()
	for _, kind := range BadKinds {
		t.Run(string(kind), func(t *testing.T) {
			g := newGen(t, Config{Seed: 11, Customers: 1000, Products: 200, BadRate: 0.3, BadKinds: []quality.Reason{kind}})
			dedup := quality.NewDedup(1024)
			made := 0
			for i := 0; i < 4000; i++ {
				r := g.Next()
				if bytes.IndexByte(r.Value, '\n') >= 0 {
					t.Fatalf("record %d contains a newline: %q", i, r.Value)
				}
				var tx event.Transaction
				f := qc.Decode(r.Value, r.EventTime, &tx)
				if f == nil {
					f = dedup.Check(tx.TransactionID)
				}
				if r.Bad == "" {
					if f != nil {
						t.Fatalf("good record %d rejected: %v\n%s", i, f, r.Value)
					}
					continue
				}
				made++
				if r.Bad != kind {
					t.Fatalf("record %d is %s, only %s configured", i, r.Bad, kind)
				}
				if f == nil {
					t.Fatalf("%s record %d accepted:\n%s", kind, i, r.Value)
				}
				if f.Reason != kind {
					t.Fatalf("%s record %d rejected as %v:\n%s", kind, i, f, r.Value)
				}
				if r.AmountCents != 0 || r.Fraud || r.Label() != "bad" {
					t.Fatalf("%s record %d labelled fraud=%v amount=%s label=%s", kind, i, r.Fraud, r.AmountCents, r.Label())
				}
			}
			if made < 800 {
				t.Fatalf("made %d %s records of 4000, want about 1200", made, kind)
			}
		})
	}
}

// TestBadVariantsCovered checks that every variant of the multi-form kinds
// is exercised by TestBadKinds' volume, by making each one directly.
func TestBadVariantsCovered(t *testing.T) {
	qc := quality.Config{}.WithDefaults()
	g := newGen(t, Config{Seed: 5, Customers: 100, Products: 100})
	check := func(what string, want quality.Reason) {
		t.Helper()
		b, _, _, _, _ := g.encode(nil, &g.tx)
		var tx event.Transaction
		f := qc.Decode(b, timeOfMs(g.tx.ms), &tx)
		if f == nil || f.Reason != want {
			t.Errorf("%s: got %v, want %s\n%s", what, f, want, b)
		}
	}
	for w := wrongKind(1); w < nWrong; w++ {
		g.buildLegit(0, DefaultStart.UnixMilli(), false)
		g.tx.wrong = w
		check(fmt.Sprintf("wrong kind %d", w), quality.WrongType)
	}
	for f := field(1); f < nFields; f++ {
		g.buildLegit(0, DefaultStart.UnixMilli(), false)
		g.tx.omit = f
		check(fmt.Sprintf("omitted field %d", f), quality.MissingField)
	}
	// the defects made on the encoded bytes: each variant, by volume
	seen := map[string]bool{}
	for _, kind := range []quality.Reason{quality.InvalidText, quality.InvalidCard, quality.TooManyDecimals, quality.EmptyRecord} {
		for i := 0; i < 400; i++ {
			g.buildLegit(0, DefaultStart.UnixMilli(), false)
			b, _, _, _, _ := g.encode(nil, &g.tx)
			b, _ = g.damage(b, kind)
			var tx event.Transaction
			f := qc.Decode(b, DefaultStart, &tx)
			if f == nil || f.Reason != kind {
				t.Fatalf("%s record rejected as %v:\n%q", kind, f, b)
			}
			seen[variant(kind, b)] = true
		}
	}
	for _, v := range []string{"tombstone", "empty value", `escaped \u0000`, "raw NUL", "Latin-1", "cut UTF-8",
		"full number in bin", "full number in last4", "short bin", "masked last4", "price decimals", "total decimals"} {
		if !seen[v] {
			t.Errorf("variant %q never made", v)
		}
	}
	for i := 0; i < 200; i++ {
		g.buildLegit(0, DefaultStart.UnixMilli(), false)
		b, _, _, _, _ := g.encode(nil, &g.tx)
		b = g.corrupt(b)
		var tx event.Transaction
		if f := qc.Decode(b, DefaultStart, &tx); f == nil || f.Reason != quality.MalformedJSON {
			t.Fatalf("corrupted record rejected as %v, want malformed_json:\n%s", f, b)
		}
	}
}

// variant names which defect a damaged record carries, written apart from
// the generator's own choice so that the test can see each was made.
func variant(kind quality.Reason, b []byte) string {
	switch {
	case kind == quality.EmptyRecord && b == nil:
		return "tombstone"
	case kind == quality.EmptyRecord:
		return "empty value"
	case bytes.Contains(b, []byte(`\u0000`)):
		return `escaped \u0000`
	case bytes.IndexByte(b, 0) >= 0:
		return "raw NUL"
	case bytes.Contains(b, []byte("caf\xe9")):
		return "Latin-1"
	case bytes.Contains(b, []byte("\xe2\x82")):
		return "cut UTF-8"
	case kind == quality.InvalidCard:
		card := regexp.MustCompile(`"card":\{"bin":"([^"]*)","last4":"([^"]*)"\}`).FindSubmatch(b)
		switch {
		case card == nil:
			return "no card"
		case len(card[1]) == 16:
			return "full number in bin"
		case len(card[2]) == 16:
			return "full number in last4"
		case len(card[1]) == 5:
			return "short bin"
		case bytes.HasPrefix(card[2], []byte("**")):
			return "masked last4"
		}
	case kind == quality.TooManyDecimals:
		if regexp.MustCompile(`"total_amount":-?[0-9]+\.[0-9]{3}`).Match(b) {
			return "total decimals"
		}
		return "price decimals"
	}
	return "unknown"
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string // in the error; "" = valid
	}{
		{"defaults", Config{}, ""},
		{"no fraud", Config{FraudRate: -1}, ""},
		{"negative customers", Config{Customers: -1}, "Customers"},
		{"tiny catalogue", Config{Products: 10}, "Products"},
		{"fraud rate", Config{FraudRate: 0.6}, "FraudRate"},
		{"bad rate", Config{BadRate: 1.5}, "BadRate"},
		{"negative bad rate", Config{BadRate: -0.1}, "BadRate"},
		{"currency", Config{Currency: "usd"}, "Currency"},
		{"unknown scenario", Config{FraudMix: map[string]float64{"phishing": 1}}, "FraudMix"},
		{"negative weight", Config{FraudMix: map[string]float64{CardTesting: -1}}, "FraudMix"},
		{"all zero mix", Config{FraudMix: map[string]float64{CardTesting: 0}}, "FraudMix"},
		{"yen", Config{Currency: "JPY"}, "Currency"},
		{"unknown bad kind", Config{BadRate: 0.1, BadKinds: []quality.Reason{quality.OutOfRange}}, "BadKinds"},
		{"empty bad kinds", Config{BadRate: 0.1, BadKinds: []quality.Reason{}}, "BadKinds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.WithDefaults().Validate()
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.field != "" && (err == nil || !strings.Contains(err.Error(), tt.field)):
				t.Fatalf("error %v, want one naming %s", err, tt.field)
			}
		})
	}
	if _, err := New(Config{Products: 1}); err == nil {
		t.Fatal("New accepted an invalid Config")
	}
}

func TestNoFraudAndOnlyOneScenario(t *testing.T) {
	t.Parallel()
	g := newGen(t, Config{Seed: 1, Customers: 500, Products: 100, FraudRate: -1})
	for i := 0; i < 5000; i++ {
		if r := g.Next(); r.Fraud || r.Bad != "" {
			t.Fatalf("record %d labelled %s with fraud and bad records off", i, r.Label())
		}
	}
	g = newGen(t, Config{Seed: 1, Customers: 500, Products: 100, FraudRate: 0.2, FraudMix: map[string]float64{GeoMismatch: 1}})
	n := 0
	for i := 0; i < 5000; i++ {
		if r := g.Next(); r.Fraud {
			n++
			if r.Scenario != GeoMismatch {
				t.Fatalf("record %d is %s, only %s configured", i, r.Scenario, GeoMismatch)
			}
		}
	}
	if n < 700 {
		t.Fatalf("%d fraud records of 5000 at rate 0.2", n)
	}
}

func TestStartAndClock(t *testing.T) {
	t.Parallel()
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	g := newGen(t, Config{Seed: 1, Customers: 100, Products: 100, Start: start})
	if r := g.Next(); !r.EventTime.Equal(start) {
		t.Fatalf("first record at %v, want Start %v", r.EventTime, start)
	}
	if r := newGen(t, Config{Seed: 1, Customers: 100, Products: 100}).Next(); !r.EventTime.Equal(DefaultStart) {
		t.Fatalf("first record at %v, want DefaultStart %v", r.EventTime, DefaultStart)
	}
	// Live mode stamps the caller's time, truncated to the millisecond.
	now := time.Date(2026, 6, 1, 10, 0, 0, 123_456_789, time.UTC)
	for i := 0; i < 1000; i++ {
		now = now.Add(time.Second)
		r := g.NextAt(now)
		if !r.EventTime.Equal(now.Truncate(time.Millisecond)) {
			t.Fatalf("NextAt(%v) gave event time %v", now, r.EventTime)
		}
	}
}

// TestLiveModeFollowsRates checks how NextAt picks buyers: in proportion
// to each customer's rate times the seasonal factor of their time zone and
// daily profile at that hour.
func TestLiveModeFollowsRates(t *testing.T) {
	t.Parallel()
	g := newGen(t, Config{Seed: 2, Customers: 5000, Products: 100, FraudRate: -1})
	for _, at := range []time.Time{
		time.Date(2026, 3, 4, 3, 0, 0, 0, time.UTC),  // night in Europe, evening in America
		time.Date(2026, 3, 7, 14, 0, 0, 0, time.UTC), // Saturday afternoon in Europe
	} {
		ms := at.UnixMilli()
		how := hourOfWeek(ms)
		w := make([]float64, len(g.cust))
		total := 0.0
		for i := range g.cust {
			w[i] = float64(g.cust[i].rate) * g.groups[g.cust[i].group].season[how]
			total += w[i]
		}
		cut := quantile(w, 0.9)
		want := 0.0
		for _, x := range w {
			if x >= cut {
				want += x / total
			}
		}
		const draws = 200_000
		got := 0
		for i := 0; i < draws; i++ {
			if w[g.pickBuyer(ms)] >= cut {
				got++
			}
		}
		share := float64(got) / draws
		t.Logf("%v: top tenth by seasonal rate got %.4f of picks, predicted %.4f", at, share, want)
		if math.Abs(share-want) > 0.01 {
			t.Errorf("%v: top tenth by seasonal rate got %.4f of picks, want %.4f ± 0.01", at, share, want)
		}
	}
}

func quantile(xs []float64, q float64) float64 {
	c := append([]float64(nil), xs...)
	sort.Float64s(c)
	return c[int(q*float64(len(c)-1))]
}

func TestGeoLookups(t *testing.T) {
	tests := []struct {
		ip, country string
		hosting     bool
	}{
		{"24.1.2.3", "US", false},
		{"104.16.0.1", "US", true},
		{"87.32.10.10", "IE", false},
		{"87.34.10.10", "", false},
		{"185.100.1.1", "NL", true},
		{"10.0.0.1", "", false},
		{"", "", false},
		{"not an ip", "", false},
		{"300.1.1.1", "", false},
		{"24", "", false},
	}
	for _, tt := range tests {
		if got := CountryOfIP(tt.ip); got != tt.country {
			t.Errorf("CountryOfIP(%q) = %q, want %q", tt.ip, got, tt.country)
		}
		if got := IsHostingIP(tt.ip); got != tt.hosting {
			t.Errorf("IsHostingIP(%q) = %v, want %v", tt.ip, got, tt.hosting)
		}
	}
	for bin, want := range map[string]string{"414712": "US", "465900": "GB", "220099": "RU", "999999": "", "41": "", "": "", "41a712": ""} {
		if got := CountryOfBIN(bin); got != want {
			t.Errorf("CountryOfBIN(%q) = %q, want %q", bin, got, want)
		}
	}
	// Everything the generator draws maps back to where it was drawn.
	for ci, c := range countryTable {
		for h := uint64(0); h < 2000; h++ {
			x := mix64(h)
			ip := string(appendIP(nil, residentialIP(uint8(ci), x)))
			if got := CountryOfIP(ip); got != c.code || IsHostingIP(ip) {
				t.Fatalf("residential IP %s of %s maps to %q (hosting %v)", ip, c.code, got, IsHostingIP(ip))
			}
			if len(c.hosting) > 0 {
				ip := string(appendIP(nil, hostingIP(uint8(ci), x)))
				if got := CountryOfIP(ip); got != c.code || !IsHostingIP(ip) {
					t.Fatalf("hosting IP %s of %s maps to %q (hosting %v)", ip, c.code, got, IsHostingIP(ip))
				}
			}
			bin := string(appendPadded(nil, uint64(binOf(uint8(ci), x)), 6))
			if got := CountryOfBIN(bin); got != c.code {
				t.Fatalf("BIN %s of %s maps to %q", bin, c.code, got)
			}
		}
		if !quality.KnownCountry(c.code) {
			t.Errorf("country %s is not known to the quality checks", c.code)
		}
	}
}

func TestSinkAndHeaders(t *testing.T) {
	t.Parallel()
	g := newGen(t, Config{Seed: 9, Customers: 500, Products: 100, FraudRate: 0.3, BadRate: 0.2})
	var recs []Record
	for i := 0; i < 2000; i++ {
		recs = append(recs, g.Next())
	}
	var v, l bytes.Buffer
	sink := NewFileSink(&v, &l)
	for _, r := range recs {
		if err := sink.Write(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(v.String(), "\n"), "\n")
	rows := strings.Split(strings.TrimSuffix(l.String(), "\n"), "\n")
	if len(lines) != len(recs) || len(rows) != len(recs)+1 || rows[0]+"\n" != LabelsHeader {
		t.Fatalf("%d lines and %d label rows (header %q) for %d records", len(lines), len(rows), rows[0], len(recs))
	}
	seen := map[string]bool{}
	for i, r := range recs {
		if lines[i] != string(r.Value) {
			t.Fatalf("line %d differs from the record's value", i)
		}
		fraud := "0"
		if r.Fraud {
			fraud = "1"
		}
		if want := r.TransactionID + "," + fraud + "," + r.Scenario + "," + string(r.Bad); rows[i+1] != want {
			t.Fatalf("label row %d = %q, want %q", i+1, rows[i+1], want)
		}
		h := r.Headers()
		got := map[string]string{}
		for _, x := range h {
			got[x.Key] = string(x.Value)
		}
		want := map[string]string{HeaderLabel: r.Label(), HeaderScenario: r.Scenario, HeaderBad: string(r.Bad)}
		if !reflect.DeepEqual(got, want) || len(h) != 3 {
			t.Fatalf("headers %v, want %v", got, want)
		}
		seen[r.Label()] = true
		if r.Bad == quality.DuplicateID {
			continue
		}
		if r.Bad != quality.MissingField && r.Bad != quality.MalformedJSON && !bytes.Contains(r.Value, []byte(`"transaction_id":"`+r.TransactionID+`"`)) {
			t.Fatalf("record %d: TransactionID %s not in its value", i, r.TransactionID)
		}
	}
	if !seen["fraud"] || !seen["legit"] || !seen["bad"] {
		t.Fatalf("labels seen: %v", seen)
	}
}

func TestBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a million customers")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g := newGen(t, Config{Seed: 1, Customers: 1_000_000})
	runtime.GC()
	runtime.ReadMemStats(&after)
	built := after.HeapAlloc - before.HeapAlloc
	// Run a while: per-record state must not grow.
	for i := 0; i < 300_000; i++ {
		g.Next()
	}
	runtime.GC()
	var ran runtime.MemStats
	runtime.ReadMemStats(&ran)
	t.Logf("1M customers: %d MiB after New (%d B/customer), %d MiB after 300k records, %d pending campaigns",
		built>>20, built/1_000_000, (ran.HeapAlloc-before.HeapAlloc)>>20, len(g.campaigns.h))
	if built > 200<<20 {
		t.Errorf("a million customers take %d MiB, want under 200 MiB", built>>20)
	}
	if ran.HeapAlloc > after.HeapAlloc+32<<20 {
		t.Errorf("heap grew from %d to %d MiB over 300k records", after.HeapAlloc>>20, ran.HeapAlloc>>20)
	}
	runtime.KeepAlive(g)
}

// TestLiveModeFraudShare checks that in live mode, where campaigns unfold
// in wall-clock time, the fraud share settles at FraudRate once the
// longest campaigns (an hour or so) have had time to play out.
func TestLiveModeFraudShare(t *testing.T) {
	t.Parallel()
	g := newGen(t, Config{Seed: 8, Customers: 5000, Products: 200, FraudRate: 0.05})
	now := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	fraud, good := 0, 0
	for i := 0; i < 80_000; i++ {
		now = now.Add(200 * time.Millisecond) // 5 records/s for 4.4 hours
		r := g.NextAt(now)
		if i < 20_000 {
			continue // the first 67 minutes: campaigns still ramping up
		}
		good++
		if r.Fraud {
			fraud++
		}
	}
	share := float64(fraud) / float64(good)
	t.Logf("live fraud share %.4f", share)
	if !within(share, 0.05, 0.2) {
		t.Fatalf("live fraud share %.4f, want 0.05 ± 20%%", share)
	}
}

// TestShopIsStationary checks that churn and acquisition balance: the
// base's total purchase rate, and so records per simulated day, neither
// dwindles nor grows over years of simulated time.
func TestShopIsStationary(t *testing.T) {
	t.Parallel()
	g := newGen(t, Config{Seed: 6, Customers: 2000, Products: 100, FraudRate: -1})
	weight := func() float64 {
		var w int64
		for _, gr := range g.groups {
			w += gr.weight
		}
		return float64(w) / rateUnit
	}
	w0 := weight()
	first := g.Next().EventTime
	var last time.Time
	for i := 0; i < 200_000; i++ {
		last = g.Next().EventTime
	}
	w1 := weight()
	years := last.Sub(first).Hours() / 24 / 365
	t.Logf("purchase rate of the base: %.0f/day at the start, %.0f/day after %.1f simulated years", w0, w1, years)
	if years < 5 || !within(w1, w0, 0.2) {
		t.Fatalf("purchase rate of the base went from %.0f to %.0f per day over %.1f years", w0, w1, years)
	}
}
