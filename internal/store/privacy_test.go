package store_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/store"
)

func TestScrubJSON(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"customer_id":"alice","device_id":"d","ip_address":"1.2.3.4","card":{"bin":"411111","last4":"1"},"total_amount":1.5}`,
			`{"customer_id":"P","total_amount":1.5}`},
		{`{"customer_id":"bob","note":"alice"}`, `{"customer_id":"bob","note":"P"}`},
		{`{"customer_id":"alice",`, `{"customer_id":"P",`},
		{`{"customer_id":"alicea"}`, `{"customer_id":"alicea"}`},
	} {
		got, _ := store.ScrubJSON([]byte(tc.in), "alice", "P")
		if string(got) != tc.want {
			t.Errorf("ScrubJSON(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// Whatever the bytes, the id as a JSON string is gone afterwards.
func FuzzScrubJSON(f *testing.F) {
	f.Add([]byte(`{"customer_id":"alice","ip_address":"1.2.3.4"}`), "alice")
	f.Add([]byte(`["alice","alice"]`), "alice")
	f.Add([]byte(`{"customer_id":"a\"b"}`), `a"b`)
	f.Add([]byte{0xff, '"', 'x', '"'}, "x")
	f.Fuzz(func(t *testing.T, b []byte, id string) {
		if id == "" || strings.Contains("erased-0123456789abcdef", id) {
			return
		}
		out, changed := store.ScrubJSON(b, id, "erased-0123456789abcdef")
		quoted, _ := json.Marshal(id)
		if bytes.Contains(out, quoted) {
			t.Fatalf("ScrubJSON(%q, %q) = %q still holds the id", b, id, out)
		}
		if !changed && !bytes.Equal(out, b) {
			t.Fatalf("unchanged but different: %q -> %q", b, out)
		}
	})
}
