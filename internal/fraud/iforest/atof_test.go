package iforest

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// sameAsStrconv fails t unless parseFloat(s) is strconv.ParseFloat(s, 64):
// the same bits (NaN as NaN) and the same error.
func sameAsStrconv(t *testing.T, s string) {
	t.Helper()
	got, gerr := parseFloat([]byte(s))
	want, werr := strconv.ParseFloat(s, 64)
	if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
		t.Fatalf("parseFloat(%q): error %v, strconv %v", s, gerr, werr)
	}
	if math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
		t.Fatalf("parseFloat(%q) = %v (%#x), strconv %v (%#x)", s, got, math.Float64bits(got), want, math.Float64bits(want))
	}
}

func TestParseFloatAsStrconv(t *testing.T) {
	for _, s := range []string{
		"", "+", "-", ".", "5.", ".5", "+.5", "-5.", "1e", "1e+", "1e-", "1ex", "e5", "1.2.3", "--1", "+-1",
		"0x1p-2", "0X1.8P3", "inf", "-Inf", "+INF", "infinity", "NaN", "nan", "1_000", "1_000.5", " 1", "1 ", "1,5",
		"0", "-0", "+0", "0.0", "-0.0", "0e9999", "-0e-9999", "000", "00000000000000000000000000001.5",
		"1e-324", "4.9e-324", "5e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
		"2.2250738585072011e-308", "2.2250738585072014e-308", "1.7976931348623157e308",
		"1.7976931348623158e308", "1.7976931348623159e308", "1e308", "1e309", "-1e309", "1e400", "1e-400",
		"9007199254740992", "9007199254740993", "9007199254740994", "9007199254740995",
		"18446744073709551615", "18446744073709551616", "9999999999999999999", "99999999999999999999",
		"1234567890123456789", "12345678901234567890", "0.1234567890123456789", "0.12345678901234567890",
		"1e22", "1e23", "8.988465674311579e307", "0.30000000000000004", "123456789e-30", "1E5", "1e+05", "1e0005",
		"7.2057594037927933e16", "3.0e-1", "1.00000000000000011102230246251565404236316680908203125",
		"1.00000000000000011102230246251565404236316680908203124", "1.00000000000000011102230246251565404236316680908203126",
	} {
		sameAsStrconv(t, s)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	n := 300_000
	if testing.Short() {
		n = 30_000
	}
	for range n {
		// Any finite float64 in each of strconv's formats and precisions.
		f := math.Float64frombits(rng.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		for _, fmtc := range []byte{'g', 'e', 'f'} {
			prec := -1
			if rng.IntN(2) == 0 {
				prec = rng.IntN(21)
			}
			if fmtc == 'f' && math.Abs(f) > 1e30 {
				continue
			}
			sameAsStrconv(t, strconv.FormatFloat(f, fmtc, prec, 64))
		}
		// Feature-like values: normal, scaled, in shortest form.
		sameAsStrconv(t, strconv.FormatFloat(rng.NormFloat64()*math.Pow(10, float64(rng.IntN(20)-10)), 'g', -1, 64))
		// Random decimals: up to 25 digits each side, any exponent.
		b := make([]byte, 0, 64)
		switch rng.IntN(3) {
		case 0:
			b = append(b, '-')
		case 1:
			b = append(b, '+')
		}
		for range rng.IntN(25) {
			b = append(b, byte('0'+rng.IntN(10)))
		}
		if rng.IntN(2) == 0 {
			b = append(b, '.')
			for range rng.IntN(25) {
				b = append(b, byte('0'+rng.IntN(10)))
			}
		}
		if rng.IntN(2) == 0 {
			b = append(b, "eE"[rng.IntN(2)])
			b = strconv.AppendInt(b, int64(rng.IntN(800)-400), 10)
		}
		sameAsStrconv(t, string(b))
	}
}

// TestParseFloatFastPathTaken checks that the plain decimals of a
// feature CSV do not all fall back to strconv, which would still pass the
// test above.
func TestParseFloatFastPathTaken(t *testing.T) {
	for _, s := range []string{"-0.12345678901234567", "1.2345678901234567", "42", "0.5", "3e-7", "1234567890123456789"} {
		if _, ok := parseDecimal([]byte(s)); !ok {
			t.Errorf("parseDecimal(%q) left it to strconv", s)
		}
	}
}

func FuzzParseFloat(f *testing.F) {
	for _, s := range []string{"1.5", "-0.12345678901234567", "1e308", "4.9e-324", "9007199254740993", "0x1p-2", "inf", "1_0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sameAsStrconv(t, s)
	})
}

func BenchmarkParseFloat(b *testing.B) {
	in := [][]byte{[]byte("-0.12345678901234567"), []byte("1.2345678901234567"), []byte("0.9876543210987654"), []byte("-2.345678901234567")}
	var sum float64
	for i := 0; b.Loop(); i++ {
		v, err := parseFloat(in[i&3])
		if err != nil {
			b.Fatal(err)
		}
		sum += v
	}
	sink += sum
}

// TestEightDigits: every byte value at every place of eight, against a
// digit-by-digit reading.
func TestEightDigits(t *testing.T) {
	base := []byte("90817263")
	for pos := range 8 {
		for c := range 256 {
			b := append([]byte(nil), base...)
			b[pos] = byte(c)
			v, lead, ok := eightDigits(b)
			var want uint64
			wantOK, wantLead := true, 0
			for i, d := range b {
				if d < '0' || d > '9' {
					wantOK = false
					break
				}
				want = want*10 + uint64(d-'0')
				if want == 0 {
					wantLead = i + 1
				}
			}
			if ok != wantOK || (ok && (v != want || lead != wantLead)) {
				t.Fatalf("eightDigits(%q) = %d, %d, %v; want %d, %d, %v", b, v, lead, ok, want, wantLead, wantOK)
			}
		}
	}
	for _, s := range []string{"00000000", "00000001", "00012345", "10000000", "99999999"} {
		v, lead, ok := eightDigits([]byte(s))
		want, _ := strconv.ParseUint(s, 10, 64)
		wantLead := len(s) - len(strings.TrimLeft(s, "0"))
		if !ok || v != want || lead != wantLead {
			t.Errorf("eightDigits(%q) = %d, %d, %v; want %d, %d", s, v, lead, ok, want, wantLead)
		}
	}
}
