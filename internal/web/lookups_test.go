package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/shopgeo"
	"github.com/shopstream/shopstream/internal/web"
)

// TestSummaryLookups: a scoring server's summary says which geographic
// lookups are on and where their answers come from, as documented.
func TestSummaryLookups(t *testing.T) {
	e := newAPIEnv(t, web.Config{Lookups: func() []web.Lookup {
		return []web.Lookup{
			{Lookup: "ip_country", Active: true, Source: "geo-whois-asn-country.mmdb (ipinfo geo-whois-asn-country, built 2026-06-17)"},
			{Lookup: "ip_asn", Active: true, Source: "asn.csv", Attribution: "ASN data: RouteViews, NRO and DB-IP"},
			{Lookup: "hosting_ip", Active: true, Source: "44 hosting ASNs, built-in list"},
			{Lookup: "bin_country", Source: "off: no --bin-table"},
		}
	}})
	o := loadOpenAPI(t)
	var op operation
	for _, x := range o.operations() {
		if x.method == "GET" && x.path == "/api/v1/summary" {
			op = x
		}
	}
	resp, body := e.send(t, "GET", "/api/v1/summary", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"lookups":[{"lookup":"ip_country","active":true,"source":"geo-whois-asn-country.mmdb`) ||
		!strings.Contains(string(body), `{"lookup":"bin_country","active":false,"source":"off: no --bin-table"}`) {
		t.Fatalf("summary: %d %s", resp.StatusCode, body)
	}
	o.check(t, op, resp, body)

	// A server that scores nothing has no lookups field.
	plain := newAPIEnv(t, web.Config{})
	resp, body = plain.send(t, "GET", "/api/v1/summary", "", nil)
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), "lookups") {
		t.Fatalf("summary without lookups: %d %s", resp.StatusCode, body)
	}
}

// syntheticLookups are the demo's lookups, as `shopstream run` shows them.
func syntheticLookups() []web.Lookup {
	var out []web.Lookup
	for _, s := range shopgeo.Sources() {
		out = append(out, web.Lookup(s))
	}
	return out
}
