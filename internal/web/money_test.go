package web_test

import (
	"reflect"
	"testing"

	"github.com/shopstream/shopstream/internal/web"
)

// TestAmounts: revenue is listed per currency, largest first, each with its
// own ISO 4217 decimals, and never added across currencies.
func TestAmounts(t *testing.T) {
	got := web.Amounts(map[string]int64{"EUR": 123456, "JPY": 1500000, "BHD": 12345, "GBP": -250})
	want := []web.CurrencyAmount{
		{Currency: "JPY", Minor: 1500000, Amount: "1500000"},
		{Currency: "EUR", Minor: 123456, Amount: "1234.56"},
		{Currency: "BHD", Minor: 12345, Amount: "12.345"},
		{Currency: "GBP", Minor: -250, Amount: "-2.50"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Amounts = %+v\nwant %+v", got, want)
	}
	if got := web.Amounts(nil); len(got) != 0 {
		t.Fatalf("no revenue: %+v", got)
	}
}
