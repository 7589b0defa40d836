package cli

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"sync"

	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/geoip"
	"github.com/shopstream/shopstream/internal/shopgeo"
	"github.com/shopstream/shopstream/internal/web"
)

// geoFlags name the real-world lookups' files (package geoip): the GeoIP
// country and ASN databases, the hosting ASN list and the BIN table. What
// is not given is off, except in the demo (run), whose generator's
// invented addresses only the synthetic shop's own tables understand:
// there, no file at all means synthetic geography.
type geoFlags struct {
	countryDB, asnDB, binTable, hostingASNs string
	// demo: with no file given, use the synthetic shop's tables (run).
	demo bool

	once sync.Once
	err  error
	db   *geoip.DB // nil when synthetic
	src  []geoip.Source
}

func (f *geoFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.countryDB, "geoip-country-db", "", "MaxMind-format `file` (.mmdb) mapping IP addresses to countries, e.g. GeoLite2-Country or ip-location-db's geo-whois-asn-country (docs/fraud.md); default: no IP country features")
	fs.StringVar(&f.asnDB, "geoip-asn-db", "", "`file` mapping IP addresses to networks (ASNs): a MaxMind-format ASN database or ip-location-db's ASN CSV; with it, hosting addresses are detected; default: no ASN, no hosting_ip")
	fs.StringVar(&f.hostingASNs, "hosting-asns", "", "`file` listing the ASNs counted as hosting or datacenter, one a line (16509 or AS16509, # comments); default: the built-in list (docs/fraud.md)")
	fs.StringVar(&f.binTable, "bin-table", "", "CSV `file` of card BIN prefixes: prefix,country,type,scheme, longest prefix wins (docs/fraud.md); default: no card-country features")
}

// given reports whether any lookup file was named.
func (f *geoFlags) given() bool {
	return f.countryDB != "" || f.asnDB != "" || f.binTable != "" || f.hostingASNs != ""
}

// flagOf names the flag of a geoip.Config field.
var geoFlagOf = map[string]string{"CountryDB": "geoip-country-db", "ASNDB": "geoip-asn-db", "HostingASNs": "hosting-asns", "BINTable": "bin-table"}

// setup opens the files once and logs what is on and where it comes from.
func (f *geoFlags) setup(logger *slog.Logger) error {
	f.once.Do(func() {
		if f.demo && !f.given() {
			f.src = shopgeo.Sources()
			logger.Warn("fraud geography is synthetic: the demo shop's invented address and BIN tables, which mean nothing for real traffic; give --geoip-country-db, --geoip-asn-db and --bin-table for real lookups")
			return
		}
		db, err := geoip.Open(geoip.Config{CountryDB: f.countryDB, ASNDB: f.asnDB, HostingASNs: f.hostingASNs, BINTable: f.binTable})
		var fe *geoip.FileError
		if errors.As(err, &fe) {
			f.err = usageError{fmt.Errorf("flag -%s: %w", geoFlagOf[fe.Field], err)}
			return
		} else if err != nil {
			f.err = err
			return
		}
		f.db, f.src = db, db.Sources()
		for _, s := range f.src {
			if s.Active {
				logger.Info("fraud lookup on", "lookup", s.Lookup, "source", s.Source)
			} else {
				logger.Warn("fraud lookup off: its features are 0", "lookup", s.Lookup, "why", s.Source)
			}
		}
	})
	return f.err
}

// lookups returns cfg with the lookups set up: the synthetic tables, the
// files' lookups, or none. setup must have succeeded.
func (f *geoFlags) lookups(cfg fraud.StateConfig) fraud.StateConfig {
	if f.db == nil && f.demo && !f.given() {
		return shopgeo.Lookups(cfg)
	}
	return f.db.Lookups(cfg)
}

// geography is the generator's real address plan for the files given, nil
// for the invented one (no file given). setup must have succeeded.
func (f *geoFlags) geography() (*generate.Geography, error) {
	if f.db == nil || !f.given() {
		return nil, nil
	}
	if f.db.HasCountry() != f.db.HasASN() {
		return nil, usageError{errors.New("flags -geoip-country-db and -geoip-asn-db: the generator draws real addresses only with both (and real card BINs with -bin-table)")}
	}
	g, err := shopgeo.Geography(f.db)
	if err != nil {
		return nil, usageError{err}
	}
	return g, nil
}

// webLookups is what the summary and the dashboard show: which lookups
// are on and where their answers come from. Nil before setup.
func (f *geoFlags) webLookups() func() []web.Lookup {
	return func() []web.Lookup {
		out := make([]web.Lookup, len(f.src))
		for i, s := range f.src {
			out[i] = web.Lookup(s)
		}
		return out
	}
}

func (f *geoFlags) close() {
	if f.db != nil {
		f.db.Close()
	}
}
