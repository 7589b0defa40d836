package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/shopstream/shopstream/internal/abtest"
	"github.com/shopstream/shopstream/internal/alertroute"
	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/recsvc"
	"github.com/shopstream/shopstream/internal/replay"
	"github.com/shopstream/shopstream/internal/shopgeo"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

// The OpenAPI document's tests. The document (openapi.yaml) is written by
// hand; these tests are what keep it true: every registered API route is
// documented and every documented operation is registered, every
// documented read answers a server holding data with the status and body
// its schema says, every error is the documented Error, and every path
// refuses the methods it does not document with 405 and the Allow header
// the document implies.

// openAPI is the document as served, with its schemas compiled on demand.
type openAPI struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema
	// seen are the responses check validated, as "METHOD /path status"
	// with the document's key (a status or "default").
	seen map[string]bool
}

const docURL = "file:///openapi.json"

func loadOpenAPI(t testing.TB) *openAPI {
	t.Helper()
	b, err := web.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(docURL, inst); err != nil {
		t.Fatal(err)
	}
	return &openAPI{doc: doc, compiler: c, schemas: map[string]*jsonschema.Schema{}, seen: map[string]bool{}}
}

// schema compiles the schema at the JSON pointer ptr of the document.
func (o *openAPI) schema(t testing.TB, ptr string) *jsonschema.Schema {
	t.Helper()
	if s, ok := o.schemas[ptr]; ok {
		return s
	}
	s, err := o.compiler.Compile(docURL + "#" + ptr)
	if err != nil {
		t.Fatalf("compiling the schema at %s: %v", ptr, err)
	}
	o.schemas[ptr] = s
	return s
}

func pointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// operation is one documented method of one path.
type operation struct {
	method, path string
	op           map[string]any
}

func (o operation) String() string { return o.method + " " + o.path }

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func (o *openAPI) operations() []operation {
	var out []operation
	for path, item := range o.doc["paths"].(map[string]any) {
		for _, m := range httpMethods {
			if op, ok := item.(map[string]any)[m].(map[string]any); ok {
				out = append(out, operation{method: strings.ToUpper(m), path: path, op: op})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// resolve follows a local $ref.
func (o *openAPI) resolve(v map[string]any) map[string]any {
	for {
		ref, ok := v["$ref"].(string)
		if !ok {
			return v
		}
		var cur any = o.doc
		for _, p := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			p = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
			cur = cur.(map[string]any)[p]
		}
		v = cur.(map[string]any)
	}
}

// url fills the operation's path parameters with their examples, and
// adds the query parameters that have one.
func (o *openAPI) url(t *testing.T, op operation) string {
	t.Helper()
	path := op.path
	query := url.Values{}
	params, _ := op.op["parameters"].([]any)
	for _, p := range params {
		p := o.resolve(p.(map[string]any))
		if p["in"] == "query" {
			if ex, ok := p["example"]; ok {
				query.Set(p["name"].(string), fmt.Sprint(ex))
			}
			continue
		}
		if p["in"] != "path" {
			continue
		}
		ex, ok := p["example"]
		if !ok {
			t.Fatalf("%s: path parameter %v has no example to call it with", op, p["name"])
		}
		path = strings.Replace(path, "{"+p["name"].(string)+"}", url.PathEscape(fmt.Sprint(ex)), 1)
	}
	if strings.Contains(path, "{") {
		t.Fatalf("%s: a path parameter is not declared", op)
	}
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	return path
}

// checkEvents validates a stream of Server-Sent Events: each event must be
// one the document lists under x-events, its data valid by that schema.
func (o *openAPI) checkEvents(t *testing.T, op operation, sse map[string]any, resp *http.Response, body []byte) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("%s answered with Content-Type %q, want text/event-stream", op, ct)
	}
	events, _ := sse["x-events"].(map[string]any)
	n := 0
	for _, block := range strings.Split(string(body), "\n\n") {
		var name, data string
		for _, line := range strings.Split(block, "\n") {
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				name = v
			} else if v, ok := strings.CutPrefix(line, "data: "); ok {
				data = v
			}
		}
		if name == "" {
			continue
		}
		n++
		if _, ok := events[name]; !ok {
			t.Errorf("%s sent event %q, which x-events does not list", op, name)
			continue
		}
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(data))
		if err != nil {
			t.Errorf("%s: event %s carries data that is not JSON: %v: %s", op, name, err, data)
			continue
		}
		ptr := "/paths/" + pointerEscape(op.path) + "/" + strings.ToLower(op.method) + "/responses/200/content/text~1event-stream/x-events/" + pointerEscape(name)
		if err := o.schema(t, ptr).Validate(inst); err != nil {
			t.Errorf("%s: event %s refused by its schema: %v\ndata: %s", op, name, err, data)
		}
	}
	if n == 0 {
		t.Errorf("%s sent no event: %s", op, body)
	}
}

// check validates an answer to op against the document: its status must be
// documented (or covered by default), its body must match the schema of
// that response, and an error must carry the code of its status.
func (o *openAPI) check(t *testing.T, op operation, resp *http.Response, body []byte) {
	t.Helper()
	status := strconv.Itoa(resp.StatusCode)
	responses := op.op["responses"].(map[string]any)
	key := status
	if _, ok := responses[key]; !ok {
		key = "default"
		if _, ok := responses[key]; !ok || resp.StatusCode < 400 {
			t.Errorf("%s answered %d, which the document does not list: %s", op, resp.StatusCode, body)
			return
		}
	}
	o.seen[op.String()+" "+key] = true
	r := o.resolve(responses[key].(map[string]any))
	content, _ := r["content"].(map[string]any)
	if content == nil {
		if len(bytes.TrimSpace(body)) != 0 {
			t.Errorf("%s answered %d with a body the document does not have: %s", op, resp.StatusCode, body)
		}
		return
	}
	if sse, ok := content["text/event-stream"].(map[string]any); ok && resp.StatusCode < 300 {
		o.checkEvents(t, op, sse, resp, body)
		return
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s answered %d with Content-Type %q, want application/json", op, resp.StatusCode, ct)
	}
	ptr := "/paths/" + pointerEscape(op.path) + "/" + strings.ToLower(op.method) + "/responses/" + pointerEscape(key) +
		"/content/application~1json/schema"
	if ref, ok := responses[key].(map[string]any)["$ref"].(string); ok {
		ptr = strings.TrimPrefix(ref, "#") + "/content/application~1json/schema"
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Errorf("%s answered %d with a body that is not JSON: %v: %s", op, resp.StatusCode, err, body)
		return
	}
	if err := o.schema(t, ptr).Validate(inst); err != nil {
		t.Errorf("%s answered %d with a body its schema refuses: %v\nbody: %s", op, resp.StatusCode, err, body)
	}
	if resp.StatusCode >= 400 {
		checkErrorBody(t, op.String(), resp.StatusCode, body)
	}
}

// pathPattern matches the URL paths of a templated path.
func pathPattern(path string) *regexp.Regexp {
	return regexp.MustCompile("^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(path), "[^/]+") + "$")
}

// codeOf is the error code of status.
func codeOf(status int) string {
	for code, s := range web.ErrorCodes() {
		if s == status {
			return code
		}
	}
	return ""
}

// checkErrorBody checks an error answer: an ErrorResponse, and nothing
// else, with the code of its status and a message.
func checkErrorBody(t *testing.T, what string, status int, body []byte) {
	t.Helper()
	var e web.ErrorResponse
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Errorf("%s: %d body is not an ErrorResponse: %v: %s", what, status, err, body)
		return
	}
	if want := codeOf(status); e.Error.Code != want || e.Error.Message == "" {
		t.Errorf("%s: %d answered code %q message %q, want code %q and a message", what, status, e.Error.Code, e.Error.Message, want)
	}
}

// apiEnv is a server with every component's routes over an SQLite store
// holding something for each of them, and an admin token.
type apiEnv struct {
	*authEnv
	admin string
}

func newAPIEnv(t *testing.T, cfg web.Config) *apiEnv {
	t.Helper()
	return newAPIEnvReplay(t, cfg, nil)
}

// newAPIEnvReplay is newAPIEnv whose quarantine replays with replay
// (nil: the server cannot replay).
func newAPIEnvReplay(t *testing.T, cfg web.Config, replayer func(store.Store) web.ReplayFunc) *apiEnv {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newAPIEnvOn(t, cfg, replayer, st)
}

// newAPIEnvOn is newAPIEnvReplay on st, SQLite's or PostgreSQL's.
func newAPIEnvOn(t *testing.T, cfg web.Config, replayer func(store.Store) web.ReplayFunc, st envStore) *apiEnv {
	t.Helper()
	ctx := context.Background()
	fraudFixture(t, st)
	analyticsFixture(t, st)
	// Quarantined records (ids 1 and 2) and routed alerts.
	if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "q", Parts: []store.Part{{Partition: 0, From: 0, To: 2,
		Quarantined: []store.Quarantined{
			{Reason: "malformed_json", Detail: "bad", Raw: []byte("{"), Partition: 0, Offset: 0},
			{Reason: "out_of_range", Detail: "big", Raw: []byte("{}"), Partition: 0, Offset: 1},
		}}}}); err != nil {
		t.Fatal(err)
	}
	routes, err := alertroute.Parse([]byte(`{"destinations": [{"name": "ops", "type": "dashboard"}], "rules": [{"name": "all", "destinations": ["ops"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := alertroute.FromPayload([]byte(`{"transaction_id":"f7","customer_id":"alice","risk":0.6,"decision":"review"}`))
	if _, err := st.RouteAlert(ctx, 1, func(s alertroute.State) error {
		_, err := routes.Route(s, &a, time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// Another process's saved samples of its metrics, two hours ending
	// a minute ago (GET /api/v1/metrics/instances, instance=).
	if err := web.SeedSystemHistory(st, "p1", time.Now().Add(-121*time.Minute), 120); err != nil {
		t.Fatal(err)
	}

	cfg.Store = st
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := web.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	det, err := detector.New(detector.Config{State: shopgeo.Lookups(fraud.StateConfig{}), Logger: cfg.Logger})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterFraud(srv, web.FraudDeps{Store: st, Detector: det})
	exps, err := abtest.New(abtest.Config{Store: st, Logger: cfg.Logger})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterExperiments(srv, exps)
	recs, err := recsvc.New(recsvc.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := recs.Fold(ctx); err != nil {
		t.Fatal(err)
	}
	recs.Rebuild()
	web.RegisterRecommendations(srv, recs)
	web.RegisterAnalytics(srv, st)
	web.RegisterQuality(srv, st, nil)
	var replay web.ReplayFunc
	if replayer != nil {
		replay = replayer(st)
	}
	web.RegisterQuarantine(srv, st, replay)
	web.RegisterDeliveries(srv, st)
	web.RegisterErasure(srv, st)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	e := &apiEnv{authEnv: &authEnv{st: st, srv: srv, ts: ts}}
	e.admin, _ = e.token(t, "ops", store.RoleAdmin)
	return e
}

// send sends method path with the admin's token, a content type and body,
// and returns the answer and its body.
func (e *apiEnv) send(t *testing.T, method, path, contentType string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	return e.sendAs(t, e.admin, method, path, contentType, body)
}

// sendAs is send with token ("" for none).
func (e *apiEnv) sendAs(t *testing.T, token, method, path, contentType string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	hr, err := http.NewRequest(method, e.ts.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		hr.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		hr.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestOpenAPIDocumentsEveryRoute fails when a registered route under /api/
// is not in the document, or a documented operation is not registered.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	e := newAPIEnv(t, web.Config{})
	o := loadOpenAPI(t)
	var registered, documented []string
	for _, p := range e.srv.Routes() {
		if method, path, ok := strings.Cut(p, " "); ok && strings.HasPrefix(path, "/api/") {
			registered = append(registered, method+" "+path)
		}
	}
	for _, op := range o.operations() {
		documented = append(documented, op.String())
	}
	slices.Sort(registered)
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.yaml", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			t.Errorf("openapi.yaml documents %s, which no route serves", d)
		}
	}
	if len(registered) < 30 {
		t.Fatalf("only %d API routes registered: %v", len(registered), registered)
	}
}

// TestOpenAPIDocument checks what the document says of every operation:
// an operationId, a success response and a default or error responses of
// the Error schema, examples for path parameters, and a request body for a
// change that takes one.
func TestOpenAPIDocument(t *testing.T) {
	o := loadOpenAPI(t)
	if v, _ := o.doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("openapi %q, want 3.1.x", v)
	}
	ids := map[string]string{}
	for _, op := range o.operations() {
		id, _ := op.op["operationId"].(string)
		if id == "" || ids[id] != "" {
			t.Errorf("%s: operationId %q missing or also %s's", op, id, ids[id])
		}
		ids[id] = op.String()
		responses := op.op["responses"].(map[string]any)
		ok, errs := false, false
		for status, r := range responses {
			if strings.HasPrefix(status, "2") {
				ok = true
				continue
			}
			errs = true
			schema := o.resolve(r.(map[string]any))["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
			if schema["$ref"] != "#/components/schemas/Error" {
				t.Errorf("%s: response %s is not an Error", op, status)
			}
		}
		if !ok {
			t.Errorf("%s documents no success", op)
		}
		if !errs {
			t.Errorf("%s documents no error (a default response or a status): every route can answer one", op)
		}
		o.url(t, op) // path parameters have examples
		// A request body has an example its schema takes: what
		// TestOpenAPIConformance sends.
		if rb, ok := op.op["requestBody"].(map[string]any); ok {
			mt, _ := rb["content"].(map[string]any)["application/json"].(map[string]any)
			ex, ok := mt["example"]
			if !ok {
				t.Errorf("%s: its request body has no example", op)
				continue
			}
			b, _ := json.Marshal(ex)
			inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			ptr := "/paths/" + pointerEscape(op.path) + "/" + strings.ToLower(op.method) + "/requestBody/content/application~1json/schema"
			if err := o.schema(t, ptr).Validate(inst); err != nil {
				t.Errorf("%s: the request body's example is refused by its schema: %v", op, err)
			}
		}
	}
	// The Error schema lists exactly the codes WriteError writes.
	codes := o.doc["components"].(map[string]any)["schemas"].(map[string]any)["Error"].(map[string]any)["properties"].(map[string]any)["error"].(map[string]any)["properties"].(map[string]any)["code"].(map[string]any)["enum"].([]any)
	var doc, code []string
	for _, c := range codes {
		doc = append(doc, c.(string))
	}
	for c := range web.ErrorCodes() {
		code = append(code, c)
	}
	slices.Sort(doc)
	slices.Sort(code)
	if !slices.Equal(doc, code) {
		t.Errorf("the Error schema's codes %v, WriteError's %v", doc, code)
	}
}

// TestOpenAPIConformance calls every documented read of a server holding
// data and validates its answer against the document, then every
// documented path with the methods it does not document, and every change
// with a wrong content type and a body too large.
//
// Then every change with the body the document gives as its example, every
// route without credentials, and the public routes past a rate limit; at
// the end, every response the document lists for an operation (each
// status and its default) must have been met and validated.
func TestOpenAPIConformance(t *testing.T) {
	brokers, err := bus.StartEmbedded(bus.EmbeddedConfig{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(brokers.Close)
	e := newAPIEnvReplay(t, web.Config{Limits: web.Limits{MaxBody: 4096, AddrRate: -1, TokenRate: -1}}, func(st store.Store) web.ReplayFunc {
		return func(ctx context.Context, f store.QuarantineFilter, dry bool) (web.ReplayCounts, error) {
			res, err := replay.Replay(ctx, replay.Config{Store: st, Brokers: brokers.Addrs(), Logger: slog.New(slog.DiscardHandler)}, f, dry)
			return web.ReplayCounts{DryRun: res.DryRun, Stream: res.Stream, StreamByReason: res.StreamByReason, ImportReplayed: res.Import.Replayed,
				ImportStored: res.Import.Stored, ImportDuplicate: res.Import.Duplicate, ImportQuarantined: res.Import.Quarantined,
				ImportByReason: res.ImportByReason}, err
		}
	})
	o := loadOpenAPI(t)
	ops := o.operations()
	byPath := map[string][]string{}
	for _, op := range ops {
		byPath[op.path] = append(byPath[op.path], op.method)
	}
	find := func(method, path string) operation {
		for _, op := range ops {
			if op.method == method && op.path == path {
				return op
			}
		}
		t.Fatalf("%s %s is not documented", method, path)
		return operation{}
	}

	// The experiment the reads look at, created as documented.
	create := find("POST", "/api/v1/experiments")
	resp, body := e.send(t, "POST", "/api/v1/experiments", "application/json", strings.NewReader(
		`{"name":"recs","start":"2026-01-01T00:00:00Z","variants":[{"name":"control","weight":0.5,"recommender":"popularity"},{"name":"treatment","weight":0.5,"recommender":"item-item"}]}`))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("creating an experiment: %d %s", resp.StatusCode, body)
	}
	o.check(t, create, resp, body)

	// A labelled alert, as documented, and the queue showing who labelled
	// it: the nullable fields filled in.
	resp, body = e.send(t, "POST", "/api/v1/alerts/f7/label", "application/json", strings.NewReader(`{"label":"fraud"}`))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"labelled_by":"token 1 (ops), admin"`) {
		t.Fatalf("labelling an alert: %d %s", resp.StatusCode, body)
	}
	o.check(t, find("POST", "/api/v1/alerts/{transaction_id}/label"), resp, body)
	resp, body = e.send(t, "GET", "/api/v1/alerts?status=confirmed_fraud&decision=review&min_amount=10&until=2030-01-01T00:00:00Z", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"transaction_id":"f7"`) || !strings.Contains(string(body), `"labelled_by":"token 1 (ops), admin"`) {
		t.Fatalf("the labelled alert in the filtered queue: %d %s", resp.StatusCode, body)
	}
	o.check(t, find("GET", "/api/v1/alerts"), resp, body)

	// Another process's saved samples, as serve reads them: listed, and
	// answered with instance=.
	for _, c := range []struct{ path, want string }{
		{"/api/v1/metrics/instances", `"instance":"p1"`},
		{"/api/v1/metrics/series?instance=p1&step=300&name=shopstream_records_total&name=shopstream_e2e_latency_seconds&since=" +
			strconv.FormatInt(time.Now().Add(-3*time.Hour).Unix(), 10), `"source":"store"`},
		{"/api/v1/metrics/histograms?instance=p1&name=shopstream_e2e_latency_seconds&since=" +
			strconv.FormatInt(time.Now().Add(-3*time.Hour).Unix(), 10), `"resolution_seconds":300`},
	} {
		resp, body := e.send(t, "GET", c.path, "", nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), c.want) {
			t.Errorf("GET %s: %d %s, want 200 with %s", c.path, resp.StatusCode, body, c.want)
		}
		u, _ := url.Parse(c.path)
		o.check(t, find("GET", u.Path), resp, body)
	}

	for _, op := range ops {
		if op.method != "GET" {
			continue
		}
		t.Run("GET "+op.path, func(t *testing.T) {
			resp, body := e.send(t, "GET", o.url(t, op), "", nil)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s: %d %s, want 200", op, resp.StatusCode, body)
			}
			o.check(t, op, resp, body)
		})
	}

	// Every path refuses the methods it does not document, with the
	// documented ones in Allow. A URL that fills a templated path too
	// (/api/v1/quarantine/replay is also /api/v1/quarantine/{id}) takes
	// that path's methods as well.
	for path, methods := range byPath {
		op := find(methods[0], path)
		u := o.url(t, op)
		var allow []string
		for p, ms := range byPath {
			if up, _, _ := strings.Cut(u, "?"); pathPattern(p).MatchString(up) {
				allow = append(allow, ms...)
			}
		}
		if slices.Contains(allow, "GET") {
			allow = append(allow, "HEAD")
		}
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if slices.Contains(allow, m) {
				continue
			}
			resp, body := e.send(t, m, u, "application/json", strings.NewReader("{}"))
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %d %s, want 405", m, u, resp.StatusCode, body)
				continue
			}
			checkErrorBody(t, m+" "+u, resp.StatusCode, body)
			got := strings.Split(resp.Header.Get("Allow"), ", ")
			slices.Sort(got)
			slices.Sort(allow)
			// /api/v1/alerts/deliveries is also /api/v1/alerts/{transaction_id}:
			// both answer GET.
			allow = slices.Compact(allow)
			if !slices.Equal(got, allow) {
				t.Errorf("%s %s: Allow %v, want the documented %v", m, u, got, allow)
			}
		}
	}

	// Changes: a wrong content type is 415, a body over the limit 413.
	big := `{"x":"` + strings.Repeat("x", 5000) + `"}`
	for _, op := range ops {
		if op.method == "GET" || op.path == "/api/v1/session" {
			continue // signing in and out is checked below
		}
		u := o.url(t, op)
		resp, body := e.send(t, op.method, u, "text/plain", strings.NewReader("{}"))
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("%s with text/plain: %d %s, want 415", op, resp.StatusCode, body)
		}
		o.check(t, op, resp, body)
		resp, body = e.send(t, op.method, u, "application/json", strings.NewReader(big))
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s with %d bytes: %d %s, want 413", op, len(big), resp.StatusCode, body)
		}
		o.check(t, op, resp, body)
	}
	signIn := find("POST", "/api/v1/session")
	resp, body = e.send(t, "POST", "/api/v1/session", "text/plain", strings.NewReader(`{"token":"x"}`))
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("signing in with text/plain: %d %s, want 415", resp.StatusCode, body)
	}
	o.check(t, signIn, resp, body)
	resp, body = e.send(t, "POST", "/api/v1/session", "application/json", strings.NewReader(`{"token":"ss1_wrong"}`))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("signing in with a wrong token: %d %s, want 401", resp.StatusCode, body)
	}
	o.check(t, signIn, resp, body)

	// Documented errors of reads: a bad filter, an unknown resource, no
	// credentials.
	for _, c := range []struct {
		path   string
		status int
	}{
		{"/api/v1/alerts?status=maybe", http.StatusBadRequest},
		{"/api/v1/alerts?min_amount=-1", http.StatusBadRequest},
		{"/api/v1/quarantine?limit=0", http.StatusBadRequest},
		{"/api/v1/quality?from=yesterday", http.StatusBadRequest},
		{"/api/v1/customers/nobody", http.StatusNotFound},
		{"/api/v1/quarantine/999", http.StatusNotFound},
		{"/api/v1/experiments/none", http.StatusNotFound},
		{"/api/v1/alerts/none", http.StatusNotFound},
		{"/api/v1/fraud/rings?cursor=5", http.StatusBadRequest},
		{"/api/v1/customers/alice/transactions?cursor=5", http.StatusBadRequest},
		{"/api/v1/fraud/rings?since=soon", http.StatusBadRequest},
		{"/api/v1/metrics/series?name=shopstream_nothing_total", http.StatusNotFound},
		{"/api/v1/metrics/series?name=dashboard:consumer_lag&step=0", http.StatusBadRequest},
		{"/api/v1/metrics/series?name=shopstream_records_total&instance=nobody", http.StatusNotFound},
		{"/api/v1/metrics/histograms?instance=nobody", http.StatusNotFound},
	} {
		u, _ := url.Parse(c.path)
		var op operation
		for _, cand := range ops {
			if cand.method == "GET" && pathPattern(cand.path).MatchString(u.Path) {
				op = cand
			}
		}
		resp, body := e.send(t, "GET", c.path, "", nil)
		if resp.StatusCode != c.status {
			t.Errorf("GET %s: %d %s, want %d", c.path, resp.StatusCode, body, c.status)
		}
		o.check(t, op, resp, body)
	}
	resp, err = http.Get(e.ts.URL + "/api/v1/summary")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/summary without a token: %d %s, want 401", resp.StatusCode, body)
	}
	o.check(t, find("GET", "/api/v1/summary"), resp, body)

	// Every route that needs credentials answers 401 without them.
	for _, op := range ops {
		if acc, ok := web.RouteAccess(op.String()); !ok || acc.Role == web.Public {
			continue
		}
		resp, body := e.sendAs(t, "", op.method, o.url(t, op), "application/json", strings.NewReader(o.example(op)))
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without credentials: %d %s, want 401", op, resp.StatusCode, body)
		}
		o.check(t, op, resp, body)
	}

	// Every change, with the body the document gives as its example,
	// answers its documented success. The order is the one the changes
	// need (a promotion before its rollback, a token before its
	// revocation, the erasure last); a documented change missing from it
	// fails the test.
	order := []string{"POST /api/v1/score", "POST /api/v1/experiments", "POST /api/v1/alerts/{transaction_id}/label",
		"POST /api/v1/quarantine/replay", "POST /api/v1/fraud/models/{version}/promote", "POST /api/v1/fraud/models/rollback",
		"POST /api/v1/tokens", "DELETE /api/v1/tokens/{id}", "POST /api/v1/session", "DELETE /api/v1/session",
		"DELETE /api/v1/customers/{id}"}
	for _, op := range ops {
		if op.method != "GET" && !slices.Contains(order, op.String()) {
			t.Errorf("%s is a documented change this test does not call: add it to its order", op)
		}
	}
	var created web.TokenJSON
	for _, name := range order {
		method, path, _ := strings.Cut(name, " ")
		op := find(method, path)
		u, body := o.url(t, op), o.example(op)
		switch name {
		case "DELETE /api/v1/tokens/{id}":
			u = "/api/v1/tokens/" + strconv.FormatInt(created.ID, 10) // the one just created, not the caller's
		case "POST /api/v1/session":
			body = `{"token":"` + e.admin + `"}`
		}
		resp, b := e.send(t, method, u, "application/json", strings.NewReader(body))
		if resp.StatusCode >= 300 {
			t.Errorf("%s %s with the documented example %s: %d %s", method, u, body, resp.StatusCode, b)
		}
		o.check(t, op, resp, b)
		if name == "POST /api/v1/tokens" {
			if err := json.Unmarshal(b, &created); err != nil || created.ID == 0 {
				t.Fatalf("the created token: %v %s", err, b)
			}
		}
	}
	// A well-formed body that is not valid is 422.
	for _, c := range []struct{ method, path, url, body string }{
		{"POST", "/api/v1/alerts/{transaction_id}/label", "/api/v1/alerts/f7/label", `{"label":"maybe"}`},
		{"POST", "/api/v1/experiments", "/api/v1/experiments", `{"name":"","variants":[]}`},
		{"POST", "/api/v1/tokens", "/api/v1/tokens", `{"name":"x","role":"root"}`},
		{"POST", "/api/v1/score", "/api/v1/score", `{"transaction_id":"t"}`},
	} {
		resp, b := e.send(t, c.method, c.url, "application/json", strings.NewReader(c.body))
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%s %s %s: %d %s, want 422", c.method, c.url, c.body, resp.StatusCode, b)
		}
		o.check(t, find(c.method, c.path), resp, b)
	}
	// Signing out is a change too: a wrong content type is refused.
	resp, body = e.send(t, "DELETE", "/api/v1/session", "text/plain", nil)
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("signing out with text/plain: %d %s, want 415", resp.StatusCode, body)
	}
	o.check(t, find("DELETE", "/api/v1/session"), resp, body)

	// The public reads past the address's rate limit: 429.
	limited := newAPIEnv(t, web.Config{Limits: web.Limits{AddrRate: 0.001, AddrBurst: 1}})
	for _, op := range ops {
		if acc, _ := web.RouteAccess(op.String()); op.method != "GET" || acc.Role != web.Public {
			continue
		}
		var resp *http.Response
		var body []byte
		for range 2 {
			resp, body = limited.send(t, "GET", o.url(t, op), "", nil)
		}
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s past the rate limit: %d %q %s, want 429 with Retry-After", op, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		o.check(t, op, resp, body)
	}

	// Every response the document lists was met and validated.
	for _, op := range ops {
		for key := range op.op["responses"].(map[string]any) {
			if !o.seen[op.String()+" "+key] {
				t.Errorf("%s: the documented response %s was never met by this test", op, key)
			}
		}
	}
}

// example is the JSON of the example of op's request body, "" for none.
func (o *openAPI) example(op operation) string {
	rb, ok := op.op["requestBody"].(map[string]any)
	if !ok {
		return ""
	}
	b, _ := json.Marshal(rb["content"].(map[string]any)["application/json"].(map[string]any)["example"])
	return string(b)
}

// TestUnknownAPIRoutes checks the answers no route gives: a JSON 404 for a
// path under /api/ no route has, whatever the method, and for a file the
// dashboard does not have (TestErrorShapeEverywhere has the other errors
// outside /api/).
func TestUnknownAPIRoutes(t *testing.T) {
	e := newAPIEnv(t, web.Config{})
	o := loadOpenAPI(t)
	errSchema := o.schema(t, "/components/schemas/Error")
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/v1/nothing-here"},
		{"POST", "/api/v1/nothing-here"},
		{"DELETE", "/api/v2/summary"},
		{"GET", "/api/"},
		{"GET", "/api/v1/customers/alice/orders"},
		{"HEAD", "/api/v1/nothing-here"},
	} {
		resp, body := e.send(t, c.method, c.path, "application/json", nil)
		if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d %q %s, want a JSON 404", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			continue
		}
		if c.method == "HEAD" {
			continue
		}
		checkErrorBody(t, c.method+" "+c.path, resp.StatusCode, body)
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if err := errSchema.Validate(inst); err != nil {
			t.Errorf("%s %s: %v", c.method, c.path, err)
		}
	}
	// The dashboard's files: served, or the API's 404.
	resp, body := e.send(t, "GET", "/core.js", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") || !bytes.Contains(body, []byte("fetch(")) {
		t.Errorf("GET /core.js: %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	resp, body = e.send(t, "GET", "/no-such-file.js", "", nil)
	if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("GET /no-such-file.js: %d %q %s, want a JSON 404", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	} else {
		checkErrorBody(t, "GET /no-such-file.js", resp.StatusCode, body)
	}
}

// TestOpenAPIServed checks the document's route and the reference page.
func TestOpenAPIServed(t *testing.T) {
	e := newAPIEnv(t, web.Config{})
	// Public: no token needed.
	resp, err := http.Get(e.ts.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want, _ := web.OpenAPI()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(b, want) || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/v1/openapi.json: %d %q, %d bytes, want the document", resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
	}
	resp, body := e.send(t, "GET", "/api.html", "", nil)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`src="api.js"`)) {
		t.Fatalf("GET /api.html: %d %s", resp.StatusCode, body)
	}
}

// TestOpenAPISummaryLoading: the summary of a server that is loading (as
// `shopstream run` is while it backfills) carries the loading object as
// documented.
func TestOpenAPISummaryLoading(t *testing.T) {
	from := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	to, through := from.AddDate(1, 6, 0), from.AddDate(1, 0, 0)
	e := newAPIEnv(t, web.Config{Loading: func() web.Loading {
		return web.Loading{
			Backfill:  web.LoadingBackfill{State: "generating", Percent: 66.5, From: &from, To: &to, Through: &through, Records: 1234, Seconds: 3.5},
			Analytics: web.LoadingAnalytics{State: "waiting"},
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
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"loading":{"done":false,"backfill":{"state":"generating","percent":66.5`) {
		t.Fatalf("summary while loading: %d %s", resp.StatusCode, body)
	}
	o.check(t, op, resp, body)
}

// TestOpenAPISeriesTakeATimeRange: every series of the API takes a time
// range, since and until.
func TestOpenAPISeriesTakeATimeRange(t *testing.T) {
	o := loadOpenAPI(t)
	series := map[string]bool{"/api/v1/windows": true, "/api/v1/fraud/metrics": true, "/api/v1/fraud/series": true,
		"/api/v1/quality": true, "/api/v1/cohorts": true, "/api/v1/metrics/histograms": true, "/api/v1/metrics/series": true,
		"/api/v1/products/top": true, "/api/v1/quality/drift": true}
	for _, op := range o.operations() {
		if op.method != "GET" || !series[op.path] {
			continue
		}
		delete(series, op.path)
		params := map[string]bool{}
		ps, _ := op.op["parameters"].([]any)
		for _, p := range ps {
			params[o.resolve(p.(map[string]any))["name"].(string)] = true
		}
		if !params["since"] || !params["until"] {
			t.Errorf("%s is a series without a time range: parameters %v, want since and until", op, params)
		}
	}
	if len(series) != 0 {
		t.Errorf("series not documented: %v", series)
	}
}

// TestOpenAPIListsPage holds the document to the API's rule for lists:
// every list of stored things (a GET without path parameters whose answer
// has an array) takes limit, a cursor and at least one filter, and answers
// a next_cursor. What is no such list says why here.
func TestOpenAPIListsPage(t *testing.T) {
	o := loadOpenAPI(t)
	notLists := map[string]string{
		"/api/v1/summary":          "running totals",
		"/api/v1/segments":         "the fixed RFM segments, each with its counts",
		"/api/v1/clv/distribution": "histograms of a fixed number of buckets",
		"/api/v1/products/top":     "a ranking of n (the n parameter) over a time range, not pages",
		"/api/v1/fraud/rules":      "the configured rules, a fixed set",
		"/api/v1/fraud/cost":       "a curve over thresholds, not over time, of a window or a time range",
		// Series take since and until (TestOpenAPISeriesTakeATimeRange).
		"/api/v1/windows": "a series", "/api/v1/fraud/metrics": "a series", "/api/v1/fraud/series": "a series",
		"/api/v1/quality": "a series", "/api/v1/cohorts": "a series",
		"/api/v1/metrics/histograms": "a series",
		"/api/v1/metrics/series":     "a series",
		"/api/v1/quality/drift":      "a series",
		"/api/v1/metrics/instances":  "the processes that saved samples in the last 32 days, a handful",
	}
	lists := 0
	for _, op := range o.operations() {
		if op.method != "GET" || strings.Contains(op.path, "{") || notLists[op.path] != "" {
			continue
		}
		ok := o.resolve(op.op["responses"].(map[string]any)["200"].(map[string]any))
		content, _ := ok["content"].(map[string]any)["application/json"].(map[string]any)
		if content == nil {
			continue
		}
		props, _ := o.resolve(content["schema"].(map[string]any))["properties"].(map[string]any)
		list := false
		for _, p := range props {
			if o.resolve(p.(map[string]any))["type"] == "array" {
				list = true
			}
		}
		if !list {
			continue
		}
		lists++
		params := map[string]bool{}
		ps, _ := op.op["parameters"].([]any)
		filters := 0
		for _, p := range ps {
			name := o.resolve(p.(map[string]any))["name"].(string)
			params[name] = true
			if name != "limit" && name != "cursor" && name != "before_id" && name != "since_id" {
				filters++
			}
		}
		if !params["limit"] || !params["cursor"] || filters == 0 || props["next_cursor"] == nil {
			t.Errorf("%s is a list: parameters %v, next_cursor %v; want limit, cursor, a filter and next_cursor", op, params, props["next_cursor"] != nil)
		}
	}
	if lists < 8 {
		t.Errorf("only %d lists found", lists)
	}
}
