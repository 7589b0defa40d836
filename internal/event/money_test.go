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
