package fraud

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func vec(kv map[Feature]float64) *[NumFeatures]float64 {
	var v [NumFeatures]float64
	for k, x := range kv {
		v[k] = x
	}
	return &v
}

func TestExprEval(t *testing.T) {
	t.Parallel()
	v := vec(map[Feature]float64{Amount: 4.5, CardsPerDevice1h: 3, NewDevice: 1, HostingIP: 0, AmountZ: -2})
	tests := []struct {
		src  string
		want float64
	}{
		{"1", 1},
		{"2.5e1", 25},
		{".5", 0.5},
		{"amount", 4.5},
		{"amount + 1 * 2", 6.5},
		{"(amount + 1) * 2", 11},
		{"amount - 1 - 1", 2.5},
		{"amount / 3 / 3", 0.5},
		{"-amount", -4.5},
		{"--amount", 4.5},
		{"-amount_z * 2", 4},
		{"cards_per_device_1h >= 3 && amount < 5", 1},
		{"cards_per_device_1h >= 3 && amount < 4", 0},
		{"cards_per_device_1h > 3 || amount <= 4.5", 1},
		{"new_device", 1},
		{"!new_device", 0},
		{"!hosting_ip", 1},
		{"!!amount", 1},
		{"new_device && !hosting_ip", 1},
		{"amount == 4.5", 1},
		{"amount != 4.5", 0},
		{"1 || 0 && 0", 1}, // && binds tighter
		{"(1 || 0) && 0", 0},
		{"1 + 2 < 4", 1}, // arithmetic binds tighter than comparison
		{"!0 + 1", 0},    // ! applies to the comparison level: !(0+1)
		{"true && !false", 1},
		{"amount / 0 > 1000", 1},
		{"hosting_ip / 0 > 0", 0}, // NaN compares false
		{"hosting_ip / 0", math.NaN()},
		{" amount\t>\n4 ", 1},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, err := ParseExpr(tt.src)
			if err != nil {
				t.Fatalf("ParseExpr: %v", err)
			}
			got := e.Eval(v)
			if got != tt.want && !(math.IsNaN(got) && math.IsNaN(tt.want)) {
				t.Errorf("= %v, want %v", got, tt.want)
			}
			if e.True(v) != truth(tt.want) {
				t.Errorf("True = %v, want %v", e.True(v), truth(tt.want))
			}
			if e.String() != tt.src {
				t.Errorf("String = %q", e.String())
			}
		})
	}
}

func TestExprFeatures(t *testing.T) {
	t.Parallel()
	e, err := ParseExpr("amount > 1 && (new_device || amount < 3) && countries >= 3")
	if err != nil {
		t.Fatal(err)
	}
	got := e.Features()
	want := []Feature{Amount, NewDevice, Countries}
	if len(got) != len(want) {
		t.Fatalf("Features = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Features = %v, want %v", got, want)
		}
	}
}

func TestExprErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src     string
		col     int    // 1-based column in the message, 0 to skip
		message string // substring of the error
	}{
		{"", 1, "condition ends where a value was expected"},
		{"amount >", 9, "condition ends"},
		{"amount > 5 &", 12, "unexpected character '&' (write &&)"},
		{"amount = 5", 8, "write == to compare"},
		{"cards_per_devic_1h >= 3", 1, `unknown feature "cards_per_devic_1h" (did you mean "cards_per_device_1h"?)`},
		{"amount > 5 && bogus", 15, `unknown feature "bogus"`},
		{"(amount > 5", 12, "missing ) for the ( at column 1"},
		{"amount > 5)", 11, `unexpected ")"`},
		{"1 < amount < 3", 12, "comparisons do not chain"},
		{"1.2.3", 1, `bad number "1.2.3"`},
		{"1e999", 1, "bad number"},
		{"1_000", 1, "bad number"},
		{"amount $ 3", 8, "unexpected character '$'"},
		{"amount > é", 10, "unexpected character 'é'"},
		{"amount > \xff", 10, "unexpected character '\uFFFD'"},
		{"amount 5", 8, "unexpected number 5"},
		{strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100), 0, "nested deeper than 64"},
		{strings.Repeat("!", 100) + "1", 0, "nested deeper than 64"},
		{strings.Repeat("-", 100) + "1", 0, "nested deeper than 64"},
		{strings.Repeat("1+", 3000) + "1", 0, "longer than 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.src[:min(len(tt.src), 30)], func(t *testing.T) {
			_, err := ParseExpr(tt.src)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not contain %q", err, tt.message)
			}
			if tt.col > 0 && !strings.Contains(err.Error(), "at column "+itoa(tt.col)+":") {
				t.Errorf("error %q is not at column %d", err, tt.col)
			}
		})
	}
	var uf *UnknownFeatureError
	if _, err := ParseExpr("x > 1"); !errors.As(err, &uf) || uf.Name != "x" {
		t.Errorf("unknown feature error = %#v", err)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// TestCompiledMatchesInterpreted checks the closure compiler, with its
// constant folding and specialised comparisons, against the plain tree
// walk over many feature values.
func TestCompiledMatchesInterpreted(t *testing.T) {
	t.Parallel()
	srcs := []string{
		"amount > 3", "3 < amount", "amount >= 3 && 2 * 2 == 4", "-(1 + 2) * amount != -9",
		"!(amount <= 3) || new_device", "amount / (new_device - 1) < 0", "1 - 2 - 3 > amount - 10",
		"(amount == 3) + (new_device == 1) >= 2", "amount * amount > 8.99 && amount < 3.01",
	}
	values := []float64{0, 1, 3, -3, 2.5, math.Inf(1), math.NaN()}
	for _, src := range srcs {
		p := &parser{src: src}
		p.next()
		n, err := p.or(0)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		fn := n.compile()
		for _, a := range values {
			for _, d := range values {
				v := vec(map[Feature]float64{Amount: a, NewDevice: d})
				got, want := fn(v), n.interpret(v)
				if got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
					t.Errorf("%s with amount=%v new_device=%v: compiled %v, interpreted %v", src, a, d, got, want)
				}
			}
		}
	}
}

func TestExprDoesNotAllocate(t *testing.T) {
	e, err := ParseExpr("cards_per_device_1h >= 3 && amount < 5 || (new_device && amount * 2 > amount_z)")
	if err != nil {
		t.Fatal(err)
	}
	v := vec(map[Feature]float64{Amount: 4})
	if n := testing.AllocsPerRun(100, func() { e.True(v) }); n != 0 {
		t.Errorf("Eval allocates %v times", n)
	}
}

func FuzzParseExpr(f *testing.F) {
	for _, s := range []string{
		"cards_per_device_1h >= 3 && amount < 5", "!(new_device || hosting_ip)", "-amount * 2 / 3 + 1e3",
		"(((amount)))", "amount <= .5e-2", "1 < 2 < 3", "amount &", "1_0", "é", "",
	} {
		f.Add(s)
	}
	v := vec(map[Feature]float64{Amount: 3, NewDevice: 1})
	f.Fuzz(func(t *testing.T, src string) {
		e, err := ParseExpr(src)
		if err != nil {
			if e != nil {
				t.Fatal("error with a non-nil expression")
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		e.Eval(v)
		// What compiles must read only real features and round-trip.
		for _, f := range e.Features() {
			if f < 0 || int(f) >= NumFeatures {
				t.Fatalf("feature %d out of range", f)
			}
		}
		if _, err := ParseExpr(e.String()); err != nil {
			t.Fatalf("source of a compiled expression does not compile: %v", err)
		}
	})
}
