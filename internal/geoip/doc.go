// Package geoip answers the fraud features' real-world questions about an
// order: which country an IP address is in (a MaxMind-format country
// database), which network (autonomous system) it belongs to and whether
// that is a hosting provider (an ASN database and a list of hosting ASNs),
// and which country issued a card and what kind of card it is (a BIN table,
// CSV, longest-prefix match).
//
// It is plumbing: it reads files given by the operator (flags
// --geoip-country-db, --geoip-asn-db, --bin-table, --hosting-asns) and
// hands plain functions to the fraud state (fraud.StateConfig), so the
// domain carries no data and no I/O. A lookup whose file is not given is
// off, not guessed: see DB.Sources. Nothing is fetched at run time.
//
// The data and its licences are described in docs/fraud.md ("Real-world
// lookups").
package geoip
