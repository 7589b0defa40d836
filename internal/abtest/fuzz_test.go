package abtest_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/shopstream/shopstream/internal/abtest"
)

// FuzzParseFile feeds the experiments file (and so the API's body, the
// same JSON) anything: it must not panic, and a definition that parses
// and validates must come back the same from its own encoding.
func FuzzParseFile(f *testing.F) {
	f.Add([]byte(`{"experiments":[{"name":"x","window":"30m","start":"2026-06-01T12:00:00Z",
		"variants":[{"name":"a","weight":0.5,"recommender":"popularity"},{"name":"b","weight":0.5,"recommender":"item-item"}]}]}`))
	f.Add([]byte(`{"experiments":[{"name":"y","coverage":0.5,"hash_version":1,"metric":"revenue","window":"1h",
		"start":"2026-06-01T12:00:00Z","stop":"2026-06-02T12:00:00Z",
		"variants":[{"name":"a","weight":0.2,"recommender":"popularity"},{"name":"b","weight":0.8,"recommender":"item-item"}]}]}`))
	f.Add([]byte(`{"experiments":[{"window":"-1h"}]}`))
	f.Add([]byte(`{"experiments":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		defs, err := abtest.ParseFile(b)
		if err != nil {
			return
		}
		for _, d := range defs {
			d = d.WithDefaults(t0)
			if d.Validate() != nil {
				continue
			}
			enc, err := json.Marshal(d)
			if err != nil {
				t.Fatalf("encoding a valid definition %+v: %v", d, err)
			}
			var back abtest.Definition
			if err := json.Unmarshal(enc, &back); err != nil {
				t.Fatalf("decoding %s: %v", enc, err)
			}
			if !reflect.DeepEqual(back, d) {
				t.Fatalf("round trip changed the definition:\n%+v\n%+v", d, back)
			}
		}
	})
}
