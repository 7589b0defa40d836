package sqlstore

import (
	"encoding/json"
	"math/big"
	"strconv"
	"testing"
)

func TestLineCents(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		q     int64
		price string
		want  int64
	}{
		{2, "1.25", 250},
		{1, "9.99", 999},
		{7, "14.29", 10003},
		{1, "0.70", 70},
		{3, "5", 1500},      // no decimals (JPY)
		{3, "1.2", 360},     // one decimal
		{3, "1.235", 371},   // 370.5 rounds away from zero once, not 3 × 124
		{1, "0.005", 1},     // half a cent rounds up
		{1, "0.0049", 0},    // under half
		{-3, "1.235", -371}, // away from zero below it too
		{2, "1e2", 20000},   // an exponent: read as a float
		{1, "0", 0},
	} {
		got, err := lineCents(tc.q, json.Number(tc.price))
		if err != nil || got != tc.want {
			t.Errorf("lineCents(%d, %s) = %d, %v; want %d", tc.q, tc.price, got, err, tc.want)
		}
	}
	for _, bad := range []string{"abc", ""} {
		if _, err := lineCents(1, json.Number(bad)); err == nil {
			t.Errorf("lineCents(1, %q) accepted it", bad)
		}
	}
	if _, err := lineCents(1<<40, "99999999.99"); err == nil {
		t.Error("lineCents accepted a product that overflows")
	}
}

// FuzzLineCents checks lineCents against exact rational arithmetic on
// plain decimal prices (what the store writes).
func FuzzLineCents(f *testing.F) {
	f.Add(int64(3), int64(1235), uint8(3))
	f.Add(int64(-7), int64(1429), uint8(2))
	f.Add(int64(1), int64(5), uint8(0))
	f.Fuzz(func(t *testing.T, q, mant int64, scale uint8) {
		if mant < 0 || scale > 6 {
			return
		}
		digits := strconv.FormatInt(mant, 10)
		for len(digits) <= int(scale) {
			digits = "0" + digits
		}
		lit := digits
		if scale > 0 {
			lit = digits[:len(digits)-int(scale)] + "." + digits[len(digits)-int(scale):]
		}
		got, err := lineCents(q, json.Number(lit))
		// Exact: q × mant × 100 / 10^scale, rounded half away from zero.
		r := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(q), new(big.Int).Mul(big.NewInt(mant), big.NewInt(100))),
			new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
		num, den := new(big.Int).Abs(r.Num()), r.Denom()
		quo, rem := new(big.Int).QuoRem(num, den, new(big.Int))
		if new(big.Int).Mul(rem, big.NewInt(2)).Cmp(den) >= 0 {
			quo.Add(quo, big.NewInt(1))
		}
		if r.Sign() < 0 {
			quo.Neg(quo)
		}
		if !quo.IsInt64() {
			if err == nil {
				t.Fatalf("lineCents(%d, %s) = %d, want an overflow error (exact %v)", q, lit, got, quo)
			}
			return
		}
		if err != nil {
			// Only an intermediate product too large for int64 may fail.
			if new(big.Int).Mul(big.NewInt(q), big.NewInt(mant)).IsInt64() && scale <= 2 && quo.IsInt64() {
				wide := new(big.Int).Mul(new(big.Int).Mul(big.NewInt(q), big.NewInt(mant)), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(2-scale)), nil))
				if wide.IsInt64() {
					t.Fatalf("lineCents(%d, %s): %v, want %v", q, lit, err, quo)
				}
			}
			return
		}
		if got != quo.Int64() {
			t.Fatalf("lineCents(%d, %s) = %d, want %v", q, lit, got, quo)
		}
	})
}
