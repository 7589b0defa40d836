// Package shopgeo wires geography between the synthetic shop (package
// generate) and fraud detection, so that neither the detector nor the
// domain imports the generator:
//
//   - Lookups gives the detector the shop's invented address and card-BIN
//     tables as its GeoIP and BIN databases: "synthetic geography", which
//     only the demo (shopstream run without GeoIP files), the offline
//     evaluation and the benchmarks use, since only the generator's own
//     invented addresses mean anything to it;
//   - Geography turns real databases (package geoip) into the generator's
//     real address plan, so that real lookups give the answers the
//     generator's scenarios intend.
package shopgeo

import (
	"fmt"

	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/geoip"
)

// SyntheticSource is how Sources names the invented tables.
const SyntheticSource = "synthetic geography: the demo shop's invented address and BIN tables (no GeoIP files given)"

// Lookups returns cfg with its missing country and hosting lookups set to
// the synthetic shop's tables.
func Lookups(cfg fraud.StateConfig) fraud.StateConfig {
	if cfg.CountryOfIP == nil {
		cfg.CountryOfIP = generate.CountryOfIP
	}
	if cfg.CountryOfBIN == nil {
		cfg.CountryOfBIN = generate.CountryOfBIN
	}
	if cfg.IsHostingIP == nil {
		cfg.IsHostingIP = generate.IsHostingIP
	}
	return cfg
}

// Sources describes the synthetic tables as the lookups' source, in the
// form geoip.DB.Sources has.
func Sources() []geoip.Source {
	out := make([]geoip.Source, 0, 4)
	for _, l := range []string{"ip_country", "ip_asn", "hosting_ip", "bin_country"} {
		s := geoip.Source{Lookup: l, Active: true, Source: SyntheticSource}
		if l == "ip_asn" {
			s = geoip.Source{Lookup: l, Source: "off: the synthetic tables have no networks"}
		}
		out = append(out, s)
	}
	return out
}

// Geography builds the generator's real address plan from db: for each
// country of the synthetic shop, the networks db's country database maps
// to it, the hosting ASNs' networks in it, and the BIN table's prefixes
// issued there. Real addresses need both the country and the ASN
// database (without either, the generator keeps its invented addresses,
// which an IP lookup that is off ignores); real BINs need a BIN table
// with issuing countries.
func Geography(db *geoip.DB) (*generate.Geography, error) {
	if db.HasCountry() != db.HasASN() {
		return nil, fmt.Errorf("the generator's real addresses need both the country and the ASN database, not one of them")
	}
	want := map[string]bool{}
	for _, c := range generate.Countries() {
		want[c] = true
	}
	g := &generate.Geography{}
	if db.HasCountry() {
		g.Residential, g.Hosting = ranges(db.CountryNetworks(want)), ranges(db.HostingNetworks(want))
		g.CountryOfIP, g.IsHostingIP = db.CountryOfIP, db.IsHostingIP
	}
	if db.HasBINCountry() {
		g.BINs = map[string][]string{}
		for c := range want {
			g.BINs[c] = db.BINTable().Prefixes(c)
		}
		g.CountryOfBIN = db.CountryOfBIN
	}
	return g, nil
}

func ranges(in map[string][]geoip.Network) map[string][]generate.IPRange {
	out := make(map[string][]generate.IPRange, len(in))
	for c, ns := range in {
		rs := make([]generate.IPRange, len(ns))
		for i, n := range ns {
			rs[i] = generate.IPRange{First: n.First, Last: n.Last}
		}
		out[c] = rs
	}
	return out
}
