package shopgeo_test

import (
	"syscall"
	"testing"

	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/geoip"
	"github.com/shopstream/shopstream/internal/geoip/geoiptest"
	"github.com/shopstream/shopstream/internal/shopgeo"
)

// BenchmarkGenerate compares, in one run, the generator's CPU time per
// record on its invented plan and on the real databases' (which looks
// each written address and BIN up to check it).
func BenchmarkGenerate(b *testing.B) {
	country, asn := geoiptest.Files(b)
	db, err := geoip.Open(geoip.Config{CountryDB: country, ASNDB: asn, BINTable: "testdata/bins.csv"})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	geo, err := shopgeo.Geography(db)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		geo  *generate.Geography
	}{{"invented", nil}, {"real", geo}} {
		b.Run(bc.name, func(b *testing.B) {
			gen, err := generate.New(generate.Config{Seed: 3, Customers: 20_000, Geography: bc.geo})
			if err != nil {
				b.Fatal(err)
			}
			var ru0, ru1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			for b.Loop() {
				gen.Next()
			}
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
