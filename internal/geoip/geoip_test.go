package geoip_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/geoip"
	"github.com/shopstream/shopstream/internal/geoip/geoiptest"
)

func TestRealDatabases(t *testing.T) {
	t.Parallel()
	country, asn := geoiptest.Files(t)
	db, err := geoip.Open(geoip.Config{CountryDB: country, ASNDB: asn})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tt := range []struct {
		ip, country string
		asn         uint32
		hosting     bool
	}{
		{"8.8.8.8", "US", 15169, true},              // Google Public DNS
		{"1.1.1.1", "", 13335, true},                // Cloudflare's anycast resolver
		{"2001:4860:4860::8888", "US", 15169, true}, // Google Public DNS over IPv6
		{"193.0.6.139", "NL", 3333, false},          // RIPE NCC, Amsterdam
		{"81.2.69.142", "GB", 20712, false},         // Andrews & Arnold, MaxMind's example address
	} {
		if got := db.CountryOfIP(tt.ip); tt.country != "" && got != tt.country {
			t.Errorf("CountryOfIP(%s) = %q, want %q", tt.ip, got, tt.country)
		}
		a, ok := db.ASNOf(tt.ip)
		if !ok || a.Number != tt.asn || a.Organization == "" {
			t.Errorf("ASNOf(%s) = %+v, %v; want AS%d with its organisation", tt.ip, a, ok, tt.asn)
		}
		if got := db.IsHostingIP(tt.ip); got != tt.hosting {
			t.Errorf("IsHostingIP(%s) = %v, want %v", tt.ip, got, tt.hosting)
		}
	}
	for _, bad := range []string{"", "not an ip", "300.1.1.1", "h:0123456789abcdef"} {
		if c, h := db.CountryOfIP(bad), db.IsHostingIP(bad); c != "" || h {
			t.Errorf("%q: country %q hosting %v, want nothing", bad, c, h)
		}
	}
	src := db.Sources()
	if len(src) != 4 || !src[0].Active || !src[1].Active || !src[2].Active || src[3].Active {
		t.Errorf("sources %+v: want ip_country, ip_asn, hosting_ip on and bin_country off", src)
	}
	if !strings.Contains(src[0].Source, geoiptest.CountryFile) || !strings.Contains(src[3].Source, "--bin-table") {
		t.Errorf("sources do not say where the answers come from: %+v", src)
	}
	if src[0].Attribution != "" || !strings.Contains(src[1].Attribution, "DB-IP") {
		t.Errorf("attributions: the CC0 country database needs none, the CC BY ASN data its sources': %+v", src)
	}
	cfg := db.Lookups(fraud.StateConfig{CountryOfBIN: func(string) string { return "ZZ" }})
	if cfg.CountryOfIP == nil || cfg.IsHostingIP == nil || cfg.CountryOfBIN != nil {
		t.Errorf("Lookups: the BIN lookup is off but set, or an IP lookup on but unset")
	}
	nets := db.CountryNetworks(map[string]bool{"IE": true, "SG": true})
	if len(nets["IE"]) < 100 || len(nets["SG"]) < 100 || len(nets) != 2 {
		t.Errorf("CountryNetworks: %d IE and %d SG networks of %d countries", len(nets["IE"]), len(nets["SG"]), len(nets))
	}
	host := db.HostingNetworks(map[string]bool{"DE": true})
	if len(host["DE"]) == 0 {
		t.Fatal("no hosting networks in DE (Hetzner's are there)")
	}
	ip := host["DE"][0].First + 1
	s := []byte{}
	for i := 3; i >= 0; i-- {
		if i < 3 {
			s = append(s, '.')
		}
		s = append(s, []byte(strings.TrimSpace(itoa(int(ip>>(8*i))&255)))...)
	}
	if !db.IsHostingIP(string(s)) || db.CountryOfIP(string(s)) != "DE" {
		t.Errorf("%s from a DE hosting network: hosting %v, country %q", s, db.IsHostingIP(string(s)), db.CountryOfIP(string(s)))
	}
}

func itoa(v int) string {
	if v < 10 {
		return string(rune('0' + v))
	}
	return itoa(v/10) + string(rune('0'+v%10))
}

func TestOffWithoutFiles(t *testing.T) {
	t.Parallel()
	db, err := geoip.Open(geoip.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := db.Lookups(fraud.StateConfig{})
	if cfg.CountryOfIP != nil || cfg.IsHostingIP != nil || cfg.CountryOfBIN != nil {
		t.Error("a lookup is on without its file")
	}
	for _, s := range db.Sources() {
		if s.Active || !strings.HasPrefix(s.Source, "off: no --") {
			t.Errorf("source %+v: want off, naming the flag", s)
		}
	}
	var nilDB *geoip.DB
	if nilDB.CountryOfIP("8.8.8.8") != "" || nilDB.IsHostingIP("8.8.8.8") || nilDB.CountryOfBIN("414709") != "" {
		t.Error("a nil DB answered")
	}
}

func TestSchemeTableGivesNoGeography(t *testing.T) {
	t.Parallel()
	db, err := geoip.Open(geoip.Config{BINTable: filepath.Join("..", "..", "deploy", "geo", "bin-schemes.csv")})
	if err != nil {
		t.Fatal(err)
	}
	for bin, want := range map[string]string{"411111": "visa", "222100": "mastercard", "601100": "discover", "601000": "rupay", "378282": "amex", "352800": "jcb", "220000": "mir"} {
		if info, ok := db.BIN(bin); !ok || info.Scheme != want {
			t.Errorf("BIN(%s) = %+v, want scheme %s", bin, info, want)
		}
	}
	if db.HasBINCountry() || db.Lookups(fraud.StateConfig{}).CountryOfBIN != nil {
		t.Error("a table of schemes switched the BIN-country lookup on")
	}
	if s := db.Sources()[3]; s.Active || !strings.Contains(s.Source, "no issuing countries") {
		t.Errorf("bin_country source %+v", s)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notMMDB := write("x.mmdb", "not a database")
	badCSV := write("asn.csv", "1.0.0.0,1.0.0.255\n")
	badBINs := write("bins.csv", "prefix,country\n4x,US\n")
	badHosting := write("hosting.txt", "Amazon\n")
	for _, tt := range []struct {
		cfg   geoip.Config
		field string
		want  string
	}{
		{geoip.Config{CountryDB: filepath.Join(dir, "missing.mmdb")}, "CountryDB", "no such file"},
		{geoip.Config{CountryDB: notMMDB}, "CountryDB", "x.mmdb"},
		{geoip.Config{ASNDB: notMMDB}, "ASNDB", "x.mmdb"},
		{geoip.Config{ASNDB: badCSV}, "ASNDB", "start,end,asn,organisation"},
		{geoip.Config{BINTable: badBINs}, "BINTable", "line 2"},
		{geoip.Config{HostingASNs: badHosting}, "HostingASNs", "needs an ASN database"},
		{geoip.Config{ASNDB: write("ok.csv", "1.0.0.0,1.0.0.255,13335,x\n"), HostingASNs: badHosting}, "HostingASNs", "line 1"},
	} {
		_, err := geoip.Open(tt.cfg)
		var fe *geoip.FileError
		if !errors.As(err, &fe) || fe.Field != tt.field || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%+v) = %v; want a FileError for %s containing %q", tt.cfg, err, tt.field, tt.want)
		}
	}
}

func TestCountryDBIsNotAnASNDB(t *testing.T) {
	t.Parallel()
	country, _ := geoiptest.Files(t)
	_, err := geoip.Open(geoip.Config{ASNDB: country})
	var fe *geoip.FileError
	if !errors.As(err, &fe) || fe.Field != "ASNDB" || !strings.Contains(err.Error(), "not an ASN database") {
		t.Errorf("a country database as the ASN database: %v", err)
	}
}
