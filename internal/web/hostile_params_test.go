package web_test

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/web"
)

// hostileValues are what a query or path parameter gets from scripts,
// scanners and typos: empty, signs, overflow, non-numbers, NUL, invalid
// UTF-8, a long value, an impossible date, a list.
var hostileValues = []string{"", "-1", "0", "abc", "1e400", "99999999999999999999999", "NaN", "Inf", "-Inf",
	"\x00", "\xff\xfe", strings.Repeat("9", 400), "2026-13-45T99:99:99Z", "-9223372036854775808",
	"9223372036854775807", "0.5", " 5", "1,2", "%", "../../etc/passwd"}

// TestHostileParameters gives every documented parameter of every read
// each hostile value in turn, the others their examples, on both stores
// (PostgreSQL refuses a NUL and invalid UTF-8 where SQLite compares them):
// no answer is a server error, every refusal is the documented error
// body, and every answer is valid by the document.
func TestHostileParameters(t *testing.T) {
	onBothStores(t, hostileParameters)
}

// onBothStores runs test against an API server on SQLite and one on
// PostgreSQL, without rate limits.
func onBothStores(t *testing.T, test func(*testing.T, *apiEnv)) {
	cfg := web.Config{Limits: web.Limits{AddrRate: -1, TokenRate: -1}}
	t.Run("sqlite", func(t *testing.T) { test(t, newAPIEnv(t, cfg)) })
	t.Run("postgres", func(t *testing.T) {
		st, err := postgres.Open(context.Background(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		test(t, newAPIEnvOn(t, cfg, nil, st))
	})
}

func hostileParameters(t *testing.T, e *apiEnv) {
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

// TestHostileBodies sends the changes text no store keeps alike, a NUL
// (raw, or as the escape \u0000) or bytes that are not UTF-8, in their
// bodies and paths, on both stores: each is refused with 400 and the
// documented error body, where PostgreSQL answered 500 before; a record
// to score says so itself (422 invalid_text), and an escaped backslash
// before u0000 is text.
func TestHostileBodies(t *testing.T) {
	onBothStores(t, func(t *testing.T, e *apiEnv) {
		for _, c := range []struct {
			method, path, body string
			want               int
		}{
			{"POST", "/api/v1/experiments", `{"name":"recs\u0000","window":"30m","variants":[{"name":"control","weight":0.5,"recommender":"popularity"},{"name":"treatment","weight":0.5,"recommender":"item-item"}]}`, 400},
			{"POST", "/api/v1/experiments", "{\"name\":\"recs\xff\",\"window\":\"30m\",\"variants\":[]}", 400},
			{"POST", "/api/v1/quarantine/replay", `{"reason":"x\u0000"}`, 400},
			{"POST", "/api/v1/quarantine/replay", "{\"reason\":\"x\x00\"}", 400},
			{"POST", "/api/v1/alerts/t%00x/label", `{"label":"fraud"}`, 400},
			{"DELETE", "/api/v1/customers/c%00x", ``, 400},
			{"DELETE", "/api/v1/customers/c%FFx", ``, 400},
			{"POST", "/api/v1/tokens", `{"name":"a\u0000","role":"viewer"}`, 400},
			{"POST", "/api/v1/score", `{"schema_version":1,"transaction_id":"t\u0000"}`, 422},
			// Text, past the check (this server cannot replay: 409).
			{"POST", "/api/v1/quarantine/replay", `{"reason":"x\\u0000","dry_run":true}`, 409},
		} {
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			resp, b := e.send(t, c.method, c.path, "application/json", body)
			what := c.method + " " + c.path + " " + strings.ToValidUTF8(c.body, "?")
			if resp.StatusCode != c.want {
				t.Errorf("%s: %d %s, want %d", what, resp.StatusCode, b, c.want)
			}
			if resp.StatusCode >= 400 {
				checkErrorBody(t, what, resp.StatusCode, b)
			}
		}
	})
}
