package web

import (
	"encoding/json"
	"strings"
	"testing"
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
