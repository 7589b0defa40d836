package event

import (
	"errors"
	"math/big"
	"testing"
)

// FuzzAmount checks the exact decimal reader against math/big: an amount
// it accepts has exactly the value of its literal, in minor units of every
// number of decimals, and it rejects for precision exactly when the value
// is not a whole number of minor units.
func FuzzAmount(f *testing.F) {
	for _, s := range []string{"0", "12.34", "-0.005", "1e2", "1.5E-3", "100.000", "9999999999999.999", "0e99", "1e-30"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, lit []byte) {
		var d decimal
		if err := d.UnmarshalJSON(lit); err != nil || string(lit) == "null" {
			return
		}
		r, ok := new(big.Rat).SetString(string(lit))
		if !ok { // math/big refuses exponents beyond 10^7: no amount is that big or small
			for digits := 0; digits <= 4; digits++ {
				if c, err := d.minor(digits); err == nil && c != 0 {
					t.Fatalf("accepted %q as %d minor units", lit, c)
				}
			}
			return
		}
		for digits := 0; digits <= 4; digits++ {
			c, err := d.minor(digits)
			scaled := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil)))
			switch {
			case errors.Is(err, ErrPrecision):
				if scaled.IsInt() {
					t.Fatalf("%q with %d decimals: rejected for precision, but it is %s minor units", lit, digits, scaled.RatString())
				}
			case err != nil:
				if scaled.IsInt() && scaled.Num().IsInt64() && abs(scaled.Num().Int64()) < 1e13 {
					t.Fatalf("%q with %d decimals: %v, but it is %s minor units", lit, digits, err, scaled.RatString())
				}
			default:
				if !scaled.IsInt() || scaled.Num().Int64() != int64(c) || !scaled.Num().IsInt64() {
					t.Fatalf("%q with %d decimals: %d minor units, want %s", lit, digits, c, scaled.RatString())
				}
			}
		}
	})
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func TestSubMinorUnitPrices(t *testing.T) {
	t.Parallel()
	tests := []struct {
		price     string
		digits    int
		qty       int
		wantUnit  Cents
		wantExact string
		wantLine  Cents
	}{
		{"0.001", 2, 100, 0, "0.001", 10},
		{"0.001", 2, 4, 0, "0.001", 0},
		{"0.005", 2, 1, 1, "0.005", 1},
		{"0.0125", 2, 3, 1, "0.0125", 4}, // 3.75 cents, rounded once for the line
		{"2.55", 2, 3, 255, "", 765},
		{"0", 2, 5, 0, "", 0},
		{"1.2345", 3, 2, 1235, "1.2345", 2469},
		{"0.5", 0, 3, 1, "0.5", 2}, // 1.5 yen: half away from zero
		{"-0.015", 2, 1, -2, "-0.015", -2},
	}
	for _, tt := range tests {
		unit, exact, err := ExactMinor(tt.price, tt.digits)
		if err != nil {
			t.Fatalf("ExactMinor(%q, %d): %v", tt.price, tt.digits, err)
		}
		if unit != tt.wantUnit || exact != tt.wantExact {
			t.Errorf("ExactMinor(%q, %d) = %d, %q; want %d, %q", tt.price, tt.digits, unit, exact, tt.wantUnit, tt.wantExact)
		}
		it := Item{Quantity: tt.qty, UnitPriceCents: unit, UnitPriceExact: exact}
		if got := it.LineCents(tt.digits); got != tt.wantLine {
			t.Errorf("%d × %s: line %d minor units, want %d", tt.qty, tt.price, got, tt.wantLine)
		}
	}
	if _, _, err := ExactMinor("1e", 2); err == nil {
		t.Error("ExactMinor(\"1e\") did not fail")
	}

	// The exact price survives the wire and keeps the total consistent.
	tx := Transaction{SchemaVersion: SchemaVersion, TransactionID: "o1", CustomerID: "c", Currency: "GBP",
		Items: []Item{{ProductID: "p", Quantity: 100, UnitPriceExact: "0.001"}}, TotalCents: 10}
	b, err := Marshal(&tx)
	if err != nil {
		t.Fatal(err)
	}
	var back Transaction
	if err := Decode(b, &back); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	if back.Items[0].UnitPriceExact != "0.001" || back.ItemsCents() != 10 {
		t.Errorf("decoded %s: items %+v sum to %d, want exact 0.001 summing to 10", b, back.Items, back.ItemsCents())
	}
	if err := Decode([]byte(`{"schema_version":1,"currency":"GBP","total_amount":0,"items":[{"quantity":1,"unit_price":0,"unit_price_exact":"abc"}]}`), &back); err == nil {
		t.Error("Decode accepted unit_price_exact \"abc\"")
	}
}

func TestExactLineBounds(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		price string
		want  Cents
		ok    bool
	}{
		{"1e-99999", 0, true}, {"1e99999", 0, false}, {"0", 0, true}, {"4.5e-3", 5, true}, {"1e16", 0, false},
	} {
		got, ok := exactLine(10, tt.price, 2)
		if got != tt.want || ok != tt.ok {
			t.Errorf("exactLine(10, %q, 2) = %d, %v; want %d, %v", tt.price, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzExactLine checks the exact line amount against math/big rationals:
// qty × price in minor units, rounded half away from zero, whenever it
// fits an int64.
func FuzzExactLine(f *testing.F) {
	for _, s := range []string{"0.001", "2.55", "-0.015", "1e-3", "12.5", "9999999999999.999", "1e-50"} {
		f.Add(s, int32(3), uint8(2))
	}
	f.Fuzz(func(t *testing.T, price string, qty int32, digits uint8) {
		digits %= 5
		got, ok := exactLine(int(qty), price, int(digits))
		d, err := parseDecimal([]byte(price))
		if err != nil {
			if ok {
				t.Fatalf("exactLine accepted %q", price)
			}
			return
		}
		r, okr := new(big.Rat).SetString(d.String())
		if !okr {
			t.Fatalf("big.Rat cannot read %q", d.String())
		}
		r.Mul(r, new(big.Rat).SetInt64(int64(qty)))
		r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil)))
		// round half away from zero
		num, den := new(big.Int).Set(r.Num()), r.Denom()
		neg := num.Sign() < 0
		num.Abs(num)
		q, m := new(big.Int).QuoRem(num, den, new(big.Int))
		if m.Lsh(m, 1).Cmp(den) >= 0 {
			q.Add(q, big.NewInt(1))
		}
		if neg {
			q.Neg(q)
		}
		if !q.IsInt64() {
			if ok {
				t.Fatalf("exactLine(%d, %q, %d) = %d, want out of range", qty, price, digits, got)
			}
			return
		}
		if ok && int64(got) != q.Int64() {
			t.Fatalf("exactLine(%d, %q, %d) = %d, want %s", qty, price, digits, got, q)
		}
		if !ok && q.BitLen() < 60 && d.exp+int(digits) <= 18 && d.mant < 1e18 {
			t.Fatalf("exactLine(%d, %q, %d) refused a line of %s", qty, price, digits, q)
		}
	})
}

// TestCurrencyDigitsTable checks the table CurrencyDigits reads against
// the lists it is made from, for every code of three capital letters,
// and that anything else is unknown.
func TestCurrencyDigitsTable(t *testing.T) {
	known := 0
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			for c := 'A'; c <= 'Z'; c++ {
				code := string([]rune{a, b, c})
				want, wantOK := 2, false
				if d, ok := minorUnits[code]; ok {
					want, wantOK = int(d), true
				} else if _, ok := twoDigits[code]; ok {
					wantOK = true
				}
				if wantOK {
					known++
				}
				if got, ok := CurrencyDigits(code); got != want || ok != wantOK {
					t.Fatalf("CurrencyDigits(%q) = %d, %v; want %d, %v", code, got, ok, want, wantOK)
				}
			}
		}
	}
	if known != len(minorUnits)+len(twoDigits) || known < 150 {
		t.Fatalf("%d codes known, the lists hold %d and %d", known, len(minorUnits), len(twoDigits))
	}
	for code, want := range map[string]int{"JPY": 0, "BHD": 3, "CLF": 4, "EUR": 2, "GBP": 2} {
		if got, ok := CurrencyDigits(code); got != want || !ok {
			t.Errorf("CurrencyDigits(%q) = %d, %v; want %d, true", code, got, ok, want)
		}
	}
	for _, code := range []string{"", "EU", "EURO", "eur", "Eur", "E1R", "[UR", "@@@", "ZZZ", "EU\x00", "\xffUR"} {
		if got, ok := CurrencyDigits(code); got != 2 || ok {
			t.Errorf("CurrencyDigits(%q) = %d, %v; want 2, false", code, got, ok)
		}
	}
}

func BenchmarkCurrencyDigits(b *testing.B) {
	codes := []string{"EUR", "GBP", "USD", "JPY", "XXX", "BHD"}
	n := 0
	for i := 0; b.Loop(); i++ {
		d, _ := CurrencyDigits(codes[i%len(codes)])
		n += d
	}
	if n < 0 {
		b.Fatal(n)
	}
}

func TestMinorPerMajor(t *testing.T) {
	for _, c := range []struct {
		by   map[string]int64
		want float64
	}{
		{map[string]int64{"EUR": 5}, 100}, {map[string]int64{"JPY": 5}, 1}, {map[string]int64{"BHD": 5}, 1000},
		{map[string]int64{"EUR": 5, "JPY": 9}, 100}, {nil, 100}, {map[string]int64{"XXQ": 1}, 100},
	} {
		if got := MinorPerMajor(c.by); got != c.want {
			t.Errorf("MinorPerMajor(%v) = %v, want %v", c.by, got, c.want)
		}
	}
}
