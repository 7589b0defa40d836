package generate

import (
	"strings"
	"testing"
)

// fakeGeography gives country i the range 10.i.0.0/16 and hosting range
// 11.i.0.0/24, and BIN prefix 9i (two digits) plus 9i5 for the next
// country, so that the longest-prefix check has something to redraw.
func fakeGeography() (*Geography, func(string) string, func(string) bool, func(string) string) {
	g := &Geography{Residential: map[string][]IPRange{}, Hosting: map[string][]IPRange{}, BINs: map[string][]string{}}
	for i, c := range countryTable {
		g.Residential[c.code] = []IPRange{{10<<24 | uint32(i)<<16, 10<<24 | uint32(i)<<16 | 0xffff}}
		g.Hosting[c.code] = []IPRange{{11<<24 | uint32(i)<<16, 11<<24 | uint32(i)<<16 | 0xff}}
		g.BINs[c.code] = []string{"9" + string(rune('0'+i/10)) + string(rune('0'+i%10))}
	}
	octets := func(ip string) (a, b int) {
		p := strings.Split(ip, ".")
		if len(p) != 4 {
			return -1, -1
		}
		return atoi(p[0]), atoi(p[1])
	}
	country := func(ip string) string {
		a, b := octets(ip)
		if (a == 10 || a == 11) && b < len(countryTable) {
			return countryTable[b].code
		}
		return ""
	}
	hosting := func(ip string) bool { a, _ := octets(ip); return a == 11 }
	bin := func(b string) string {
		if len(b) < 3 || b[0] != '9' {
			return ""
		}
		i := atoi(b[1:3])
		if i >= len(countryTable) {
			return ""
		}
		// 9ii5xx belongs to the next country: a longer prefix elsewhere.
		if b[3] == '5' {
			return countryTable[(i+1)%len(countryTable)].code
		}
		return countryTable[i].code
	}
	return g, country, hosting, bin
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func TestRealPlanKeepsCountryHostingAndIdentity(t *testing.T) {
	t.Parallel()
	g, country, hosting, bin := fakeGeography()
	g.CountryOfIP, g.IsHostingIP, g.CountryOfBIN = country, hosting, bin
	p, err := compileGeography(g)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint32]uint32{}
	for ci := range countryTable {
		for x := uint64(0); x < 300; x++ {
			h := mix64(x*7919 + uint64(ci))
			for _, syn := range []uint32{residentialIP(uint8(ci), h), hostingIP(uint8(ci), h)} {
				s := string(appendIP(nil, syn))
				r := p.ip(syn)
				rs := string(appendIP(nil, r))
				if country(rs) != CountryOfIP(s) || hosting(rs) != IsHostingIP(s) {
					t.Fatalf("%s (%s, hosting %v) became %s (%s, hosting %v)", s, CountryOfIP(s), IsHostingIP(s), rs, country(rs), hosting(rs))
				}
				if p.ip(syn) != r {
					t.Fatalf("%s maps to %s, then to another address", s, rs)
				}
				if o := r & 0xff; o == 0 || o == 255 {
					t.Errorf("%s became %s", s, rs)
				}
				seen[syn] = r
			}
			sb := binOf(uint8(ci), h)
			rb := p.bin(sb)
			bs, rbs := string(appendPadded(nil, uint64(sb), 6)), string(appendPadded(nil, uint64(rb), 6))
			if bin(rbs) != CountryOfBIN(bs) {
				t.Fatalf("BIN %s (%s) became %s (%s)", bs, CountryOfBIN(bs), rbs, bin(rbs))
			}
		}
	}
	if p.ip(0x7f000001) != 0x7f000001 || p.bin(123456) != 123456 {
		t.Error("an address or BIN outside the invented plan was changed")
	}
	var none *realPlan
	if none.ip(0x18000001) != 0x18000001 || none.bin(414712) != 414712 {
		t.Error("no plan changed an address or BIN")
	}
}

func TestCompileGeographyNamesWhatIsMissing(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cut  func(*Geography)
		want string
	}{
		{func(g *Geography) { delete(g.Residential, "IE") }, "no IPv4 networks in IE"},
		{func(g *Geography) { delete(g.Hosting, "RO") }, "no hosting networks in RO"},
		{func(g *Geography) { g.BINs["JP"] = []string{"1234567"} }, "no prefix of at most six digits issued in JP"},
	} {
		g, _, _, _ := fakeGeography()
		tt.cut(g)
		if _, err := New(Config{Customers: 100, Geography: g}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New = %v, want %q", err, tt.want)
		}
	}
	g, _, _, _ := fakeGeography()
	delete(g.Hosting, "IE") // not a hosting country: not needed
	g.BINs = nil            // keeps the invented BINs
	if _, err := New(Config{Customers: 100, Geography: g}); err != nil {
		t.Errorf("New: %v", err)
	}
}
