package geoip_test

import (
	"syscall"
	"testing"

	"github.com/shopstream/shopstream/internal/geoip"
	"github.com/shopstream/shopstream/internal/geoip/geoiptest"
)

// BenchmarkOpen is the start-up cost of the real databases: the country
// database is mapped, the ASN CSV parsed (515,158 ranges).
func BenchmarkOpen(b *testing.B) {
	country, asn := geoiptest.Files(b)
	cpu0 := cpuTime(b)
	for b.Loop() {
		db, err := geoip.Open(geoip.Config{CountryDB: country, ASNDB: asn})
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
	}
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}

// BenchmarkLookups is what scoring a transaction adds with the real
// databases: its IP's country and hosting flag, and its BIN's country.
func BenchmarkLookups(b *testing.B) {
	country, asn := geoiptest.Files(b)
	db, err := geoip.Open(geoip.Config{CountryDB: country, ASNDB: asn, BINTable: "../shopgeo/testdata/bins.csv"})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ips := []string{"8.8.8.8", "81.2.69.142", "193.0.6.139", "24.48.0.1", "2001:4860:4860::8888", "177.20.3.4", "106.51.2.9", "88.198.1.1"}
	bins := []string{"414712", "542433", "457130", "999999"}
	b.ReportAllocs()
	i := 0
	cpu0 := cpuTime(b)
	for b.Loop() {
		ip := ips[i%len(ips)]
		_ = db.CountryOfIP(ip)
		_ = db.IsHostingIP(ip)
		_ = db.CountryOfBIN(bins[i%len(bins)])
		i++
	}
	// CPU time, not wall time: the figure holds on a loaded host.
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user and system CPU time so far, in ns.
func cpuTime(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
