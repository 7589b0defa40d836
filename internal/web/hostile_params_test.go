package web_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/web"
)

// hostileValues are what a query or path parameter gets from scripts,
// scanners and typos: empty, signs, overflow, non-numbers, NUL, invalid
// UTF-8, a long value, an impossible date, a list.
var hostileValues = []string{"", "-1", "0", "abc", "1e400", "99999999999999999999999", "NaN", "Inf", "-Inf",
	"\x00", "\xff\xfe", strings.Repeat("9", 400), "2026-13-45T99:99:99Z", "-9223372036854775808",
	"9223372036854775807", "0.5", " 5", "1,2", "%", "../../etc/passwd"}

// TestHostileParameters gives every documented parameter of every read
// each hostile value in turn, the others their examples: no answer is a
// server error, every refusal is the documented error body, and every
// answer is valid by the document.
func TestHostileParameters(t *testing.T) {
	e := newAPIEnv(t, web.Config{Limits: web.Limits{AddrRate: -1, TokenRate: -1}})
	o := loadOpenAPI(t)
	n := 0
	for _, op := range o.operations() {
		if op.method != "GET" || op.path == "/api/v1/stream" {
			continue // the stream stays open: TestStream* read it
		}
		base, err := url.Parse(o.url(t, op))
		if err != nil {
			t.Fatal(err)
		}
		params, _ := op.op["parameters"].([]any)
		for _, p := range params {
			p := o.resolve(p.(map[string]any))
			name := p["name"].(string)
			for _, v := range hostileValues {
				u := *base
				switch p["in"] {
				case "query":
					q := u.Query()
					q.Set(name, v)
					u.RawQuery = q.Encode()
				case "path":
					if v == "" {
						continue // another route's path
					}
					ex := url.PathEscape(fmt.Sprint(p["example"]))
					u.RawPath = strings.Replace(u.EscapedPath(), "/"+ex, "/"+url.PathEscape(v), 1)
					u.Path, _ = url.PathUnescape(u.RawPath)
				default:
					continue
				}
				resp, body := e.send(t, "GET", u.String(), "", nil)
				n++
				what := op.String() + " " + name + "=" + strings.ToValidUTF8(v, "?")
				if resp.StatusCode >= 500 {
					t.Errorf("%s: %d %s", what, resp.StatusCode, body)
				}
				if resp.StatusCode >= 400 {
					checkErrorBody(t, what, resp.StatusCode, body)
				}
				if resp.StatusCode != 404 { // a hostile id names another path at times
					o.check(t, op, resp, body)
				}
			}
		}
	}
	if n < 1000 {
		t.Errorf("only %d requests: the document's parameters were not found", n)
	}
}
