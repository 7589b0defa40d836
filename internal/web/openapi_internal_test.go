package web

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestOpenAPIMatchesRouteTable fails when a line of the route table under
// /api/ is not an operation of the OpenAPI document, or an operation is not
// a line: the table says who may call a route, the document what it
// answers, and neither may name a route the other lacks.
func TestOpenAPIMatchesRouteTable(t *testing.T) {
	b, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	for pattern := range routes {
		if _, path, ok := strings.Cut(pattern, " "); ok && strings.HasPrefix(path, "/api/") && !documented[pattern] {
			t.Errorf("the route table's %s is not in openapi.yaml", pattern)
		}
	}
	for op := range documented {
		if _, ok := routes[op]; !ok {
			t.Errorf("openapi.yaml documents %s, which the route table lacks", op)
		}
	}
}

// FuzzWindowsQuery fuzzes the query of GET /api/v1/windows: an error is a
// bad request naming the parameter, and a range taken is not empty.
func FuzzWindowsQuery(f *testing.F) {
	for _, s := range []string{"", "granularity=hour", "granularity=day", "since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z",
		"since=1767225600&until=1767225660", "since=5&until=4", "until=x", "since=-1", "since=99999999999999"} {
		f.Add(s)
	}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		wr, err := windowsQuery(v, now)
		if err != nil {
			msg := err.Error()
			if !isBadRequest(err) || !strings.Contains(msg, "granularity") && !strings.Contains(msg, "since") && !strings.Contains(msg, "until") {
				t.Fatalf("%q: %v is not a bad request naming its parameter", q, err)
			}
			return
		}
		if wr.Granularity != "minute" && wr.Granularity != "hour" || wr.Until != nil && !wr.Until.After(wr.Since) {
			t.Fatalf("%q gave %+v", q, wr)
		}
	})
}
