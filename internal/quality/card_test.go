package quality

import (
	"bytes"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/event"
)

func TestInvalidCard(t *testing.T) {
	cfg := Config{}.WithDefaults()
	tests := []struct {
		card string
		want Reason
	}{
		{`{"bin":"411111","last4":"1111"}`, OK},
		{`{"bin":"4111112","last4":"1111"}`, OK},
		{`{"bin":"41111123","last4":"1111"}`, OK},
		{`{"bin":"","last4":""}`, OK}, // no card (paypal, bank transfer)
		{`{"bin":"41111","last4":"1111"}`, InvalidCard},
		{`{"bin":"411111234","last4":"1111"}`, InvalidCard},
		{`{"bin":"4111111111111111","last4":"1111"}`, InvalidCard}, // a full card number
		{`{"bin":"411111","last4":"4111111111111111"}`, InvalidCard},
		{`{"bin":"411111","last4":"111"}`, InvalidCard},
		{`{"bin":"411111","last4":"11111"}`, InvalidCard},
		{`{"bin":"4111a1","last4":"1111"}`, InvalidCard},
		{`{"bin":"411111","last4":"11 1"}`, InvalidCard},
		{`{"bin":"411111","last4":""}`, InvalidCard},
		{`{"bin":"","last4":"1111"}`, InvalidCard},
		{`{"bin":"４１１１１１","last4":"1111"}`, InvalidCard}, // full-width digits
	}
	for _, tc := range tests {
		raw := strings.Replace(good, `{"bin":"411111","last4":"1111"}`, tc.card, 1)
		var tx event.Transaction
		f := cfg.Decode([]byte(raw), now, &tx)
		got := OK
		if f != nil {
			got = f.Reason
		}
		if got != tc.want {
			t.Errorf("card %s: reason %q (%v), want %q", tc.card, got, f, tc.want)
		}
		if f != nil && strings.Contains(f.Detail, "4111111111") {
			t.Errorf("card %s: the detail repeats the card number: %s", tc.card, f.Detail)
		}
	}
}

func TestDetailMasksCardNumbers(t *testing.T) {
	cfg := Config{}.WithDefaults()
	var tx event.Transaction
	raw := strings.Replace(good, `"currency":"EUR"`, `"currency":"4111111111111111"`, 1)
	f := cfg.Decode([]byte(raw), now, &tx)
	if f == nil || f.Reason != UnknownCurrency {
		t.Fatalf("failure %v, want unknown_currency", f)
	}
	if strings.Contains(f.Detail, "4111111111111111") || !strings.Contains(f.Detail, "411111******1111") {
		t.Fatalf("detail %q does not mask the card number", f.Detail)
	}
}

func TestMaskPANs(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"bin":"4111111111111111"}`, `{"bin":"411111******1111"}`},
		{`4111 1111 1111 1111`, `4111 11** **** 1111`},
		{`4111-1111-1111-1111`, `4111-11**-****-1111`},
		{`pan 378282246310005.`, `pan 378282*****0005.`}, // Amex, 15 digits
		{`6011111111111117 and 5555555555554444`, `601111******1117 and 555555******4444`},
		{`4222222222222`, `422222***2222`},             // 13 digits
		{`6304000000000000000`, `630400*********0000`}, // 19 digits (Maestro)
		{`order 12345 4111 1111 1111 1111`, `order 12345 4111 11** **** 1111`},
		{`4111111111111112`, `4111111111111112`},         // fails Luhn
		{`411111111111`, `411111111111`},                 // 12 digits
		{`41111111111111111111`, `41111111111111111111`}, // 20 digits in one group
		{`"event_time":"2026-11-24T11:59:00Z"`, `"event_time":"2026-11-24T11:59:00Z"`},
		{`4111  1111 1111 1111`, `4111  1111 1111 1111`}, // two spaces end a run: 4 + 12 digits
		{``, ``},
	}
	for _, tc := range tests {
		if got := string(MaskPANs([]byte(tc.in))); got != tc.want {
			t.Errorf("MaskPANs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMaskPANsLeavesInputAlone(t *testing.T) {
	clean := []byte(good)
	if got := MaskPANs(clean); &got[0] != &clean[0] {
		t.Error("a record without a card number was copied")
	}
	if n := testing.AllocsPerRun(100, func() { MaskPANs(clean) }); n != 0 {
		t.Errorf("MaskPANs allocated %.0f times on a clean record", n)
	}
	dirty := []byte(`{"bin":"4111111111111111"}`)
	before := bytes.Clone(dirty)
	MaskPANs(dirty)
	if !bytes.Equal(dirty, before) {
		t.Errorf("MaskPANs changed its input: %s", dirty)
	}
}

// panRuns returns the digit strings of every card-number candidate in b:
// each maximal run (digits, single space or dash between digits) and each
// stretch of its whole groups, written independently of MaskPANs.
func panRuns(b []byte) []string {
	var out []string
	s := string(b)
	i := 0
	for i < len(s) {
		if !isDigit(s[i]) {
			i++
			continue
		}
		var groups []string
		cur := ""
		for i < len(s) {
			if isDigit(s[i]) {
				cur += s[i : i+1]
				i++
			} else if isSep(s[i]) && i+1 < len(s) && isDigit(s[i+1]) {
				groups = append(groups, cur)
				cur = ""
				i++
			} else {
				break
			}
		}
		groups = append(groups, cur)
		for a := range groups {
			for z := a + 1; z <= len(groups); z++ {
				out = append(out, strings.Join(groups[a:z], ""))
			}
		}
	}
	return out
}

func luhnString(d string) bool {
	sum := 0
	for i := range len(d) {
		v := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

func FuzzMaskPANs(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte(`{"bin":"4111111111111111","last4":"4111 1111 1111 1111"}`))
	f.Add([]byte(`12345 4111-1111-1111-1111 6011111111111117`))
	f.Add([]byte(`0000000000000 0000000000000000000000`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		in := bytes.Clone(raw)
		out := MaskPANs(raw)
		if !bytes.Equal(raw, in) {
			t.Fatalf("MaskPANs changed its input")
		}
		if len(out) != len(raw) {
			t.Fatalf("length %d, want %d", len(out), len(raw))
		}
		for _, d := range panRuns(out) {
			if len(d) >= minPAN && len(d) <= maxPAN && luhnString(d) {
				t.Fatalf("card number %s left in %q (from %q)", d, out, raw)
			}
		}
		for i := range out {
			if out[i] != raw[i] && (out[i] != '*' || !isDigit(raw[i])) {
				t.Fatalf("byte %d changed from %q to %q: only digits may become '*'", i, raw[i], out[i])
			}
		}
	})
}
