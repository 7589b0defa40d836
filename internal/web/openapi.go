package web

import (
	_ "embed"
	"fmt"
	"net/http"
	"sync"

	"sigs.k8s.io/yaml"
)

// openAPIYAML is the API's OpenAPI 3.1 document. It is written by hand,
// as YAML, next to the handlers it describes; the tests (openapi_test.go)
// keep the two together: every route of the route table under /api/ is in
// it and every operation in it is a route, and every documented read
// answers a real server as its schema says.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// OpenAPI returns the OpenAPI document as JSON, as GET
// /api/v1/openapi.json serves it.
var OpenAPI = sync.OnceValues(func() ([]byte, error) {
	b, err := yaml.YAMLToJSON(openAPIYAML)
	if err != nil {
		return nil, fmt.Errorf("the embedded openapi.yaml: %w", err)
	}
	return b, nil
})

func openAPIHandler(w http.ResponseWriter, _ *http.Request) {
	b, err := OpenAPI()
	if err != nil {
		WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b) //nolint:errcheck // the client went away
}
