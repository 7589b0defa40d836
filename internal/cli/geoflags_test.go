package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/geoip"
	"github.com/shopstream/shopstream/internal/geoip/geoiptest"
	"github.com/shopstream/shopstream/internal/web"
)

const testBINTable = "../shopgeo/testdata/bins.csv"

// TestGeoFlagsNameTheFlag: a bad lookup file fails at start as a usage
// error naming its flag, on every command that takes it.
func TestGeoFlagsNameTheFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bins.csv")
	if err := os.WriteFile(bad, []byte("prefix,country\n41x,US\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.mmdb")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"generate", "--out", filepath.Join(dir, "o.jsonl"), "--count", "1", "--bin-table", bad}, "flag -bin-table: " + bad + ": bad BIN table: line 2"},
		{[]string{"generate", "--out", filepath.Join(dir, "o.jsonl"), "--count", "1", "--geoip-country-db", missing}, "flag -geoip-country-db: " + missing},
		{[]string{"generate", "--out", filepath.Join(dir, "o.jsonl"), "--count", "1", "--hosting-asns", bad}, "flag -hosting-asns: " + bad + ": a hosting ASN list needs an ASN database"},
		{[]string{"serve", "--data-dir", filepath.Join(dir, "s"), "--addr", "127.0.0.1:0", "--geoip-asn-db", missing}, "flag -geoip-asn-db: " + missing},
		{[]string{"run", "--data-dir", filepath.Join(dir, "r"), "--addr", "127.0.0.1:0", "--history", "0", "--bin-table", bad}, "flag -bin-table: "},
	} {
		_, stderr, err := runCLI(t, tc.args...)
		if err == nil || !IsUsage(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v (usage error %v), want one containing %q\n%s", tc.args[0], err, IsUsage(err), tc.want, stderr)
		}
	}
}

// TestConfigPrintShowsGeoFlags: the lookup files are flags like any other,
// settable from the configuration file, on every command that scores or
// generates.
func TestConfigPrintShowsGeoFlags(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, "c.yaml", "geoip-country-db: /data/country.mmdb\ngeoip-asn-db: /data/asn.csv\nbin-table: /data/bins.csv\nhosting-asns: /data/hosting.txt\n")
	for _, cmd := range []string{"run", "process", "serve", "generate"} {
		out, _, err := runCLI(t, "config", "print", "--config", path, cmd)
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		for _, want := range []string{`geoip-country-db\s+/data/country\.mmdb\s+file`, `geoip-asn-db\s+/data/asn\.csv\s+file`,
			`bin-table\s+/data/bins\.csv\s+file`, `hosting-asns\s+/data/hosting\.txt\s+file`} {
			if !regexp.MustCompile(`(?m)^` + want).MatchString(out) {
				t.Errorf("config print %s has no line matching %s:\n%s", cmd, want, out)
			}
		}
	}
}

// TestGenerateWithRealGeoIP: generate with the real databases writes the
// records it writes without them, but with addresses and BINs that the real
// lookups place where the invented tables place the invented ones.
func TestGenerateWithRealGeoIP(t *testing.T) {
	t.Parallel()
	country, asn := geoiptest.Files(t)
	dir := t.TempDir()
	gen := func(name string, extra ...string) []event.Transaction {
		out := filepath.Join(dir, name)
		args := append([]string{"generate", "--out", out, "--rate", "0", "--count", "3000", "--seed", "5", "--customers", "2000", "--fraud-rate", "0.05"}, extra...)
		if _, stderr, err := runCLI(t, args...); err != nil {
			t.Fatalf("generate: %v\n%s", err, stderr)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var txs []event.Transaction
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var tx event.Transaction
			if err := event.Decode([]byte(line), &tx); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			txs = append(txs, tx)
		}
		return txs
	}
	syn := gen("syn.jsonl")
	real := gen("real.jsonl", "--geoip-country-db", country, "--geoip-asn-db", asn, "--bin-table", testBINTable)
	db, err := geoip.Open(geoip.Config{CountryDB: country, ASNDB: asn, BINTable: testBINTable})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if len(syn) != len(real) {
		t.Fatalf("%d and %d records", len(syn), len(real))
	}
	changed := 0
	for i := range syn {
		s, r := syn[i], real[i]
		if s.TransactionID != r.TransactionID {
			t.Fatalf("record %d: %s and %s", i, s.TransactionID, r.TransactionID)
		}
		if generate.CountryOfIP(s.IPAddress) != db.CountryOfIP(r.IPAddress) || generate.IsHostingIP(s.IPAddress) != db.IsHostingIP(r.IPAddress) ||
			generate.CountryOfBIN(s.Card.BIN) != db.CountryOfBIN(r.Card.BIN) {
			t.Fatalf("record %d: invented %s and %s (%s, hosting %v; card %s) became %s and %s (%s, hosting %v; card %s)", i,
				s.IPAddress, s.Card.BIN, generate.CountryOfIP(s.IPAddress), generate.IsHostingIP(s.IPAddress), generate.CountryOfBIN(s.Card.BIN),
				r.IPAddress, r.Card.BIN, db.CountryOfIP(r.IPAddress), db.IsHostingIP(r.IPAddress), db.CountryOfBIN(r.Card.BIN))
		}
		if s.IPAddress != r.IPAddress {
			changed++
		}
	}
	if changed < len(syn)*9/10 {
		t.Errorf("only %d of %d addresses were replaced by real ones", changed, len(syn))
	}
}

// summaryLookups starts run with args for a short while and returns the
// lookups its summary shows.
func summaryLookups(t *testing.T, args ...string) ([]web.Lookup, string) {
	t.Helper()
	urls := make(chan string, 1)
	stdout := &watchWriter{want: regexp.MustCompile(`dashboard on (http://127\.0\.0\.1:\d+)`)}
	stdout.found = func() { urls <- stdout.want.FindStringSubmatch(stdout.buf.String())[1] }
	stderr := &watchWriter{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, append([]string{"run", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--customers", "2000",
			"--new-per-day", "0", "--history", "0", "--rate", "50", "--analytics-interval", "0", "--log-level", "info"}, args...), stdout, stderr)
	}()
	var url string
	select {
	case url = <-urls:
	case err := <-done:
		cancel()
		t.Fatalf("run ended: %v\n%s", err, stderr.String())
	}
	resp, err := http.Get(url + "/api/v1/summary")
	if err != nil {
		t.Fatal(err)
	}
	var sum web.SummaryResponse
	err = json.NewDecoder(resp.Body).Decode(&sum)
	resp.Body.Close()
	cancel()
	if runErr := <-done; runErr != nil {
		t.Fatalf("run: %v\n%s", runErr, stderr.String())
	}
	if err != nil {
		t.Fatal(err)
	}
	return sum.Lookups, stderr.String()
}

// TestRunSaysWhichGeographyItUses: the demo's default is the synthetic
// shop's tables, said in the log and the summary; with the real files the
// summary names them.
func TestRunSaysWhichGeographyItUses(t *testing.T) {
	lk, logs := summaryLookups(t)
	if len(lk) != 4 || !strings.Contains(logs, "fraud geography is synthetic") {
		t.Fatalf("lookups %+v; log:\n%s", lk, logs)
	}
	for _, l := range lk {
		if want := l.Lookup != "ip_asn"; l.Active != want || (want && !strings.HasPrefix(l.Source, "synthetic geography")) {
			t.Errorf("default run: lookup %+v", l)
		}
	}
	country, asn := geoiptest.Files(t)
	lk, logs = summaryLookups(t, "--geoip-country-db", country, "--geoip-asn-db", asn)
	want := map[string]string{"ip_country": geoiptest.CountryFile, "ip_asn": geoiptest.ASNFile, "hosting_ip": "hosting ASNs, built-in list", "bin_country": "off: no --bin-table"}
	for _, l := range lk {
		if !strings.Contains(l.Source, want[l.Lookup]) || l.Active != (l.Lookup != "bin_country") {
			t.Errorf("run with GeoIP files: lookup %+v, want its source to contain %q", l, want[l.Lookup])
		}
		delete(want, l.Lookup)
	}
	if len(want) > 0 || !strings.Contains(logs, "fraud lookup off") {
		t.Errorf("lookups missing: %v; log:\n%s", want, logs)
	}
}
