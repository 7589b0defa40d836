package geoip

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/shopstream/shopstream/internal/fraud"
)

// Config names the files a DB reads. Every field may be empty: the lookup
// it serves is then off.
type Config struct {
	// CountryDB is a MaxMind-format database mapping IP addresses to
	// countries: GeoLite2-Country or -City, or ip-location-db's
	// *-country-mmdb (country_code). Defaults to "": no IP country.
	CountryDB string
	// ASNDB maps IP addresses to autonomous systems: a MaxMind-format
	// ASN database (GeoLite2-ASN) or, when its name ends in .csv,
	// ip-location-db's ASN CSV (start,end,asn,organisation). Defaults to
	// "": no ASN and no hosting detection.
	ASNDB string
	// HostingASNs is a file listing the ASNs counted as hosting (see
	// ReadHostingASNs). Defaults to "": DefaultHostingASNs. It needs
	// ASNDB.
	HostingASNs string
	// BINTable is a CSV BIN table (see ReadBINTable). Defaults to "": no
	// card geography.
	BINTable string
}

// FileError is an error about one of Config's files; Field names it
// ("CountryDB", ...), so that the command can name its flag.
type FileError struct {
	Field string
	Path  string
	Err   error
}

func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// DB answers IP and BIN questions from the files of a Config. Its methods
// are safe for concurrent use. A nil *DB answers nothing.
type DB struct {
	country *maxminddb.Reader
	asn     asnSource
	hosting map[uint32]string
	bins    *BINTable
	sources []Source
	// codes caches the country code of each record of the country
	// database by its offset: a few hundred records serve every address,
	// so a lookup decodes nothing and allocates nothing once warm.
	codes sync.Map // uintptr -> string
}

// Source says where one lookup's answers come from.
type Source struct {
	// Lookup is "ip_country", "ip_asn", "hosting_ip" or "bin_country".
	Lookup string `json:"lookup"`
	// Active is false when the lookup is off: its fraud features are 0.
	Active bool `json:"active"`
	// Source describes the data: a file and its build date, or why the
	// lookup is off.
	Source string `json:"source"`
	// Attribution is what the data's licence asks to be shown, if
	// anything.
	Attribution string `json:"attribution,omitempty"`
}

// Open reads the files of cfg. An unreadable or malformed file fails with
// a *FileError naming the field.
func Open(cfg Config) (*DB, error) {
	d := &DB{}
	fail := func(field, path string, err error) (*DB, error) {
		d.Close()
		return nil, &FileError{Field: field, Path: path, Err: err}
	}
	if cfg.CountryDB != "" {
		r, err := maxminddb.Open(cfg.CountryDB)
		if err != nil {
			return fail("CountryDB", cfg.CountryDB, err)
		}
		d.country = r
		if !hasCountry(r) {
			return fail("CountryDB", cfg.CountryDB, fmt.Errorf("a %q database whose records carry no country (country_code or country.iso_code)", r.Metadata.DatabaseType))
		}
	}
	if cfg.ASNDB != "" {
		a, err := openASN(cfg.ASNDB)
		if err != nil {
			return fail("ASNDB", cfg.ASNDB, err)
		}
		d.asn = a
	}
	if cfg.HostingASNs != "" {
		if cfg.ASNDB == "" {
			return fail("HostingASNs", cfg.HostingASNs, fmt.Errorf("a hosting ASN list needs an ASN database (--geoip-asn-db)"))
		}
		f, err := os.Open(cfg.HostingASNs)
		if err != nil {
			return fail("HostingASNs", cfg.HostingASNs, err)
		}
		h, err := ReadHostingASNs(f)
		f.Close()
		if err != nil {
			return fail("HostingASNs", cfg.HostingASNs, err)
		}
		d.hosting = h
	} else if d.asn != nil {
		d.hosting = DefaultHostingASNs
	}
	if cfg.BINTable != "" {
		f, err := os.Open(cfg.BINTable)
		if err != nil {
			return fail("BINTable", cfg.BINTable, err)
		}
		t, err := ReadBINTable(f)
		f.Close()
		if err != nil {
			return fail("BINTable", cfg.BINTable, err)
		}
		d.bins = t
	}
	d.sources = d.describe(cfg)
	return d, nil
}

// countryRecord decodes both layouts: ip-location-db's country_code and
// MaxMind's country.iso_code (registered_country where country is absent,
// e.g. anycast networks).
type countryRecord struct {
	Code    string `maxminddb:"country_code"`
	Country struct {
		ISO string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Registered struct {
		ISO string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
}

func (c *countryRecord) code() string {
	switch {
	case c.Code != "":
		return c.Code
	case c.Country.ISO != "":
		return c.Country.ISO
	}
	return c.Registered.ISO
}

func hasCountry(r *maxminddb.Reader) bool {
	n := 0
	for res := range r.Networks() {
		var rec countryRecord
		if res.Decode(&rec) == nil && rec.code() != "" {
			return true
		}
		if n++; n > 100 {
			break
		}
	}
	return false
}

func (d *DB) describe(cfg Config) []Source {
	built := func(r *maxminddb.Reader) string {
		return fmt.Sprintf(" (%s, built %s)", r.Metadata.DatabaseType, r.Metadata.BuildTime().UTC().Format(time.DateOnly))
	}
	// maxMind is the attribution GeoLite2's licence asks for.
	maxMind := func(r *maxminddb.Reader) string {
		if strings.HasPrefix(r.Metadata.DatabaseType, "GeoLite2") {
			return "This product includes GeoLite2 data created by MaxMind, available from https://www.maxmind.com"
		}
		return ""
	}
	var out []Source
	if d.country != nil {
		out = append(out, Source{Lookup: "ip_country", Active: true, Source: filepath.Base(cfg.CountryDB) + built(d.country), Attribution: maxMind(d.country)})
	} else {
		out = append(out, Source{Lookup: "ip_country", Source: "off: no --geoip-country-db"})
	}
	if d.asn != nil {
		src := Source{Lookup: "ip_asn", Active: true, Source: filepath.Base(cfg.ASNDB)}
		if m, ok := d.asn.(mmdbASN); ok {
			src.Source += built(m.r)
			src.Attribution = maxMind(m.r)
		} else {
			// The CSV layout is ip-location-db's asn, whose licence (CC BY
			// 4.0) asks for this.
			src.Attribution = "IP to ASN data: RouteViews (routeviews.org), NRO (nro.net) and IP to ASN Lite by DB-IP (https://db-ip.com), CC BY 4.0"
		}
		out = append(out, src)
		hs := Source{Lookup: "hosting_ip", Active: true, Source: fmt.Sprintf("%d hosting ASNs, built-in list", len(d.hosting))}
		if cfg.HostingASNs != "" {
			hs.Source = fmt.Sprintf("%d hosting ASNs from %s", len(d.hosting), filepath.Base(cfg.HostingASNs))
		}
		out = append(out, hs)
	} else {
		out = append(out, Source{Lookup: "ip_asn", Source: "off: no --geoip-asn-db"},
			Source{Lookup: "hosting_ip", Source: "off: no --geoip-asn-db"})
	}
	switch {
	case d.bins == nil:
		out = append(out, Source{Lookup: "bin_country", Source: "off: no --bin-table"})
	case !d.bins.HasCountries():
		out = append(out, Source{Lookup: "bin_country", Source: fmt.Sprintf("off: %s (%d rows) gives card schemes, no issuing countries", filepath.Base(cfg.BINTable), d.bins.Len())})
	default:
		out = append(out, Source{Lookup: "bin_country", Active: true, Source: fmt.Sprintf("%s (%d rows)", filepath.Base(cfg.BINTable), d.bins.Len())})
	}
	return out
}

// Sources says, lookup by lookup, what is on and where its answers come
// from.
func (d *DB) Sources() []Source {
	if d == nil {
		return nil
	}
	return append([]Source(nil), d.sources...)
}

// Close releases the databases.
func (d *DB) Close() error {
	if d == nil {
		return nil
	}
	var err error
	if d.country != nil {
		err = d.country.Close()
	}
	if d.asn != nil {
		if e := d.asn.close(); err == nil {
			err = e
		}
	}
	return err
}

// CountryOfIP returns the ISO 3166 alpha-2 country of ip, or "" when
// unknown, unparsable or the country lookup is off.
func (d *DB) CountryOfIP(ip string) string {
	if d == nil || d.country == nil {
		return ""
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	res := d.country.Lookup(a.Unmap())
	if !res.Found() {
		return ""
	}
	off := res.Offset()
	if c, ok := d.codes.Load(off); ok {
		return c.(string)
	}
	var rec countryRecord
	if res.Decode(&rec) != nil {
		return ""
	}
	c := rec.code()
	d.codes.Store(off, c)
	return c
}

// ASNOf returns the autonomous system of ip.
func (d *DB) ASNOf(ip string) (ASN, bool) {
	if d == nil || d.asn == nil {
		return ASN{}, false
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ASN{}, false
	}
	return d.asn.lookup(a.Unmap())
}

// IsHostingIP reports whether ip belongs to a hosting ASN.
func (d *DB) IsHostingIP(ip string) bool {
	a, ok := d.ASNOf(ip)
	if !ok {
		return false
	}
	_, h := d.hosting[a.Number]
	return h
}

// IsHostingASN reports whether n is on the hosting list.
func (d *DB) IsHostingASN(n uint32) bool {
	if d == nil {
		return false
	}
	_, h := d.hosting[n]
	return h
}

// BIN returns the BIN table's longest row matching bin.
func (d *DB) BIN(bin string) (BINInfo, bool) {
	if d == nil || d.bins == nil {
		return BINInfo{}, false
	}
	return d.bins.Lookup(bin)
}

// CountryOfBIN returns the issuing country of bin, or "".
func (d *DB) CountryOfBIN(bin string) string {
	info, _ := d.BIN(bin)
	return info.Country
}

// BINTable returns the BIN table, nil when none was given.
func (d *DB) BINTable() *BINTable {
	if d == nil {
		return nil
	}
	return d.bins
}

// HasCountry, HasASN and HasBINCountry report which lookups are on.
func (d *DB) HasCountry() bool    { return d != nil && d.country != nil }
func (d *DB) HasASN() bool        { return d != nil && d.asn != nil }
func (d *DB) HasBINCountry() bool { return d != nil && d.bins != nil && d.bins.HasCountries() }

// Lookups returns cfg with its lookups set to those of d that are on and
// the others nil (off): the fraud features that need an off lookup are 0.
func (d *DB) Lookups(cfg fraud.StateConfig) fraud.StateConfig {
	cfg.CountryOfIP, cfg.IsHostingIP, cfg.CountryOfBIN = nil, nil, nil
	if d.HasCountry() {
		cfg.CountryOfIP = d.CountryOfIP
	}
	if d.HasASN() {
		cfg.IsHostingIP = d.IsHostingIP
	}
	if d.HasBINCountry() {
		cfg.CountryOfBIN = d.CountryOfBIN
	}
	return cfg
}

// Network is an IPv4 address range, first and last address inclusive.
type Network struct{ First, Last uint32 }

// CountryNetworks returns, for each country in want, the IPv4 networks
// the country database maps to it, in address order.
func (d *DB) CountryNetworks(want map[string]bool) map[string][]Network {
	out := map[string][]Network{}
	if !d.HasCountry() {
		return out
	}
	var rec countryRecord
	for res := range d.country.NetworksWithin(netip.MustParsePrefix("0.0.0.0/0")) {
		rec = countryRecord{}
		if res.Decode(&rec) != nil {
			continue
		}
		cc := rec.code()
		if !want[cc] {
			continue
		}
		lo, hi := prefixRange(res.Prefix())
		out[cc] = append(out[cc], Network{lo, hi})
	}
	return out
}

// HostingNetworks returns, for each country in want, the IPv4 ranges of
// hosting ASNs whose first address the country database maps to it.
func (d *DB) HostingNetworks(want map[string]bool) map[string][]Network {
	out := map[string][]Network{}
	if !d.HasASN() || !d.HasCountry() {
		return out
	}
	d.asn.ranges(d.IsHostingASN, func(lo, hi, _ uint32) {
		cc := d.CountryOfIP(fmtU32(lo))
		if want[cc] {
			out[cc] = append(out[cc], Network{lo, hi})
		}
	})
	return out
}
