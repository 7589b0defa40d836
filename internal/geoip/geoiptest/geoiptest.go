// Package geoiptest finds the real, freely licensed GeoIP databases that
// tests use: ip-location-db's geo-whois-asn-country (CC0) and asn (CC BY
// 4.0), which .ci/run fetches from the npm registry into the directory
// named by SHOPSTREAM_GEOIP_DIR. Nothing is fetched at test time.
package geoiptest

import (
	"os"
	"path/filepath"
	"testing"
)

// EnvDir names the directory holding CountryFile and ASNFile.
const EnvDir = "SHOPSTREAM_GEOIP_DIR"

// The files in EnvDir, as .ci/run lays them out.
const (
	CountryFile = "geo-whois-asn-country.mmdb"
	ASNFile     = "asn.csv"
)

// Files returns the paths of the country database and the ASN CSV. It
// skips the test when SHOPSTREAM_GEOIP_DIR is unset, but fails it under CI
// (CI=true), where the databases must be there.
func Files(t testing.TB) (country, asn string) {
	t.Helper()
	dir := os.Getenv(EnvDir)
	if dir == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is unset under CI: .ci/run fetches the GeoIP databases from the npm registry and sets it", EnvDir)
		}
		t.Skipf("needs the real GeoIP databases: set %s to a directory with %s and %s (see .ci/run, phase geoip)", EnvDir, CountryFile, ASNFile)
	}
	country, asn = filepath.Join(dir, CountryFile), filepath.Join(dir, ASNFile)
	for _, p := range []string{country, asn} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s=%s: %v", EnvDir, dir, err)
		}
	}
	return country, asn
}
