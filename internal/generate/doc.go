// Package generate is the synthetic shop: a reproducible stream of
// labelled e-commerce transactions for every other part of shopstream to
// be built and measured on.
//
// It owns a catalogue (departments with log-normal prices, Zipf-distributed
// popularity and planted co-purchase partners), a customer base (personas,
// home countries and time zones, devices and cards, buy-till-you-die
// purchase processes, acquisition of new customers as others churn),
// seasonality (daily, weekly, yearly), five labelled fraud scenarios,
// honest behaviour that looks like fraud to naive rules (Honest), and bad
// records of every kind the quality checks reject. Labels travel out of
// band (Record fields, Kafka headers, a labels file), never in the event.
//
// With a Lifecycle the base instead grows by acquisition and follows the
// BG/NBD story, so that customer models fitted on its history recover the
// parameters it was drawn from: the demo shop of `shopstream run`.
//
// CountryOfIP, IsHostingIP and CountryOfBIN expose the invented address and
// BIN plan the generator draws from; they stand in for GeoIP and BIN
// databases in the fraud features of the demo. With Config.Geography (real
// databases' networks and BIN prefixes) each address and BIN is written as
// a real one that real lookups place where the invented plan does (geo.go).
//
// Fraud campaigns unfold in event time: a card-testing burst over minutes,
// an account takeover over an hour. In live mode that is wall-clock time,
// so the scenario mix settles only after the first hour of a live run.
//
// Everything random comes from Config.Seed; the simulated clock starts at
// Config.Start. Encoding is by hand into a reused buffer, so the only
// allocation per record is its Value.
package generate
