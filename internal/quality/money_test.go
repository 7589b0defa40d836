package quality

import (
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/event"
)

func TestTooManyDecimals(t *testing.T) {
	cfg := Config{}.WithDefaults()
	tests := []struct {
		name, currency, price, total string
		want                         Reason
		cents                        event.Cents // total in minor units when accepted
	}{
		{"EUR cents", "EUR", "5.25", "10.50", OK, 1050},
		{"EUR a tenth of a cent", "EUR", "5.255", "10.51", TooManyDecimals, 0},
		{"EUR total with three decimals", "EUR", "5.25", "10.500", OK, 1050},
		{"EUR total with a third decimal", "EUR", "5.25", "10.501", TooManyDecimals, 0},
		{"JPY whole yen", "JPY", "525", "1050", OK, 1050},
		{"JPY written with .00", "JPY", "525.00", "1050.0", OK, 1050},
		{"JPY with sen", "JPY", "5.25", "10.50", TooManyDecimals, 0},
		{"BHD fils", "BHD", "5.255", "10.510", OK, 10510},
		{"BHD two decimals", "BHD", "5.25", "10.50", OK, 10500},
		{"BHD four decimals", "BHD", "5.2555", "10.511", TooManyDecimals, 0},
		{"KWD fils", "KWD", "0.001", "0.002", OK, 2},
		{"unknown currency wins", "XBT", "0.00012", "0.00024", UnknownCurrency, 0},
		{"missing currency wins", "", "5.255", "10.51", MissingField, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := strings.NewReplacer(`"unit_price":5.25`, `"unit_price":`+tc.price, `"total_amount":10.50`, `"total_amount":`+tc.total,
				`"currency":"EUR"`, `"currency":"`+tc.currency+`"`).Replace(good)
			var tx event.Transaction
			f := cfg.Decode([]byte(raw), now, &tx)
			got := OK
			if f != nil {
				got = f.Reason
			}
			if got != tc.want {
				t.Fatalf("reason %q (%v), want %q", got, f, tc.want)
			}
			if got == OK && tx.TotalCents != tc.cents {
				t.Fatalf("total %d minor units, want %d", tx.TotalCents, tc.cents)
			}
			if got == TooManyDecimals && (!strings.Contains(f.Detail, tc.currency) || !strings.Contains(f.Detail, "decimals")) {
				t.Fatalf("detail %q does not say which amount and currency", f.Detail)
			}
		})
	}
}

func TestAcceptedCurrenciesHaveMinorUnits(t *testing.T) {
	for c := range currencies {
		if _, ok := event.CurrencyDigits(c); !ok {
			t.Errorf("accepted currency %s has no ISO 4217 minor unit", c)
		}
	}
}
