package geoip

import (
	"errors"
	"strings"
	"testing"
)

const sampleBINs = `# test table
prefix,country,type,scheme
4,,,visa
4147,US,credit,visa
414720,CA,debit,visa
51,,,mastercard
53999912,GB,prepaid,mastercard
`

func TestBINTableLongestPrefix(t *testing.T) {
	t.Parallel()
	tab, err := ReadBINTable(strings.NewReader(sampleBINs))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		bin                   string
		prefix, country, kind string
		scheme                string
		ok                    bool
	}{
		{"414709", "4147", "US", "credit", "visa", true},
		{"414720", "414720", "CA", "debit", "visa", true},
		{"41472012", "414720", "CA", "debit", "visa", true},
		{"499999", "4", "", "", "visa", true},
		{"539999", "", "", "", "", false},
		{"53999912", "53999912", "GB", "prepaid", "mastercard", true},
		{"51", "51", "", "", "mastercard", true},
		{"", "", "", "", "", false},
		{"x4147", "", "", "", "", false},
		{"4147ab", "4147", "US", "credit", "visa", true},
	} {
		info, ok := tab.Lookup(tt.bin)
		if ok != tt.ok || info.Prefix != tt.prefix || info.Country != tt.country || info.Type != tt.kind || info.Scheme != tt.scheme {
			t.Errorf("Lookup(%q) = %+v, %v; want prefix %q country %q type %q scheme %q, %v", tt.bin, info, ok, tt.prefix, tt.country, tt.kind, tt.scheme, tt.ok)
		}
	}
	if !tab.HasCountries() || tab.Len() != 5 {
		t.Errorf("HasCountries %v, Len %d; want true, 5", tab.HasCountries(), tab.Len())
	}
	if got := strings.Join(tab.Prefixes("US"), " "); got != "4147" {
		t.Errorf("Prefixes(US) = %q", got)
	}
}

func TestBINTableErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"", "empty"},
		{"bin,issuer\n4,US\n", `no "prefix" column`},
		{"prefix,country\n", "no rows"},
		{"prefix,country\n4,US\n4,CA\n", "line 3: prefix 4 given twice"},
		{"prefix,country\n4a,US\n", `line 2: prefix "4a" is not 1 to 8 digits`},
		{"prefix,country\n123456789,US\n", "not 1 to 8 digits"},
		{"prefix,country\n4,usa\n", `line 2: country "usa" is not an ISO 3166 alpha-2`},
		{"prefix,country,type\n4,US,gold\n", `type "gold"`},
		{"prefix,country,type\n4,US\n", "line 2 has 2 fields"},
		{"prefix,country,prefix\n4,US,4\n", "given twice"},
		{"prefix,country\n\"4,US\n", "bad BIN table"},
	} {
		_, err := ReadBINTable(strings.NewReader(tt.in))
		if err == nil || !errors.Is(err, ErrBadBINTable) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ReadBINTable(%q) = %v, want an ErrBadBINTable containing %q", tt.in, err, tt.want)
		}
	}
}

// FuzzReadBINTable: any input either fails with ErrBadBINTable or gives a
// table whose every row is found by its own prefix.
func FuzzReadBINTable(f *testing.F) {
	f.Add(sampleBINs)
	f.Add("prefix,country,type,scheme\n4,,,visa\n")
	f.Add("\ufeffprefix,country\n1,US\n12,CA\n")
	f.Fuzz(func(t *testing.T, in string) {
		tab, err := ReadBINTable(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrBadBINTable) {
				t.Fatalf("error %v does not wrap ErrBadBINTable", err)
			}
			return
		}
		if tab.Len() == 0 {
			t.Fatal("a table with no rows was accepted")
		}
		for p, want := range tab.rows {
			got, ok := tab.Lookup(p)
			if !ok || got != want {
				t.Fatalf("Lookup(%q) = %+v, %v; want its own row %+v", p, got, ok, want)
			}
			if want.Country != "" && !isCountryCode(want.Country) {
				t.Fatalf("row %q has country %q", p, want.Country)
			}
		}
	})
}

func TestReadHostingASNs(t *testing.T) {
	t.Parallel()
	got, err := ReadHostingASNs(strings.NewReader("# clouds\n16509 Amazon\nAS14061\tDigitalOcean\n\n  24940  \n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[16509] != "Amazon" || got[14061] != "DigitalOcean" {
		t.Errorf("got %v", got)
	}
	for in, want := range map[string]string{
		"16509\nAmazon\n": `line 2: "Amazon" is not an AS number`,
		"AS0\n":           "line 1",
		"# only\n":        "no AS numbers",
		"99999999999\n":   "line 1",
	} {
		if _, err := ReadHostingASNs(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadHostingASNs(%q) = %v, want %q", in, err, want)
		}
	}
}

func FuzzReadHostingASNs(f *testing.F) {
	f.Add("16509 Amazon\nAS14061\tDigitalOcean\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ReadHostingASNs(strings.NewReader(in))
		if err == nil && len(got) == 0 {
			t.Fatal("an empty list was accepted")
		}
		for n := range got {
			if n == 0 {
				t.Fatal("ASN 0 accepted")
			}
		}
	})
}

func TestReadASNCSV(t *testing.T) {
	t.Parallel()
	c, err := readASNCSV(strings.NewReader("1.0.4.0,1.0.7.255,38803,Gtelecom Pty Ltd\n1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n2001:200::,2001:200:ffff:ffff:ffff:ffff:ffff:ffff,2500,WIDE\n"))
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]ASN{
		"1.0.0.0": {13335, "Cloudflare, Inc."}, "1.0.0.255": {13335, "Cloudflare, Inc."},
		"1.0.5.9": {38803, "Gtelecom Pty Ltd"}, "2001:200::1": {2500, "WIDE"},
		"1.0.1.0": {}, "0.0.0.1": {}, "9.9.9.9": {}, "2001:201::": {},
	} {
		got, ok := c.lookup(mustAddr(t, ip))
		if got != want || ok != (want.Number != 0) {
			t.Errorf("lookup(%s) = %+v, %v; want %+v", ip, got, ok, want)
		}
	}
	o, err := readASNCSV(strings.NewReader("1.0.0.0,1.0.0.255,1,a\n1.0.0.9,1.0.1.0,2,b\n1.0.0.9,1.0.0.9,3,c\n"))
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]uint32{"1.0.0.5": 1, "1.0.0.9": 3, "1.0.0.10": 2, "1.0.1.0": 2, "1.0.1.1": 0} {
		if got, _ := o.lookup(mustAddr(t, ip)); got.Number != want {
			t.Errorf("overlapping rows: lookup(%s) = AS%d, want AS%d", ip, got.Number, want)
		}
	}
	for in, want := range map[string]string{
		"1.0.0.0,1.0.0.255,13335\n": "want start,end,asn,organisation",
		"1.0.0.9,1.0.0.1,1,x\n":     "line 1",
		"1.0.0.0,1.0.0.255,x,y\n":   "line 1",
		"":                          "no ranges",
	} {
		if _, err := readASNCSV(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("readASNCSV(%q) = %v, want %q", in, err, want)
		}
	}
}

func FuzzReadASNCSV(f *testing.F) {
	f.Add("1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := readASNCSV(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, r := range c.v4 {
			got, ok := c.lookup(mustAddrF(fmtU32(r.lo)))
			if !ok || got.Number != r.asn {
				t.Fatalf("the range starting at %s is not found by its first address: %+v", fmtU32(r.lo), got)
			}
		}
	})
}
