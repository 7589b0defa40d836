package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

// TestAPISpans traces API requests, one server span each named by method
// and route with its status; the dashboard's files are not traced.
func TestAPISpans(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	srv, err := web.New(web.Config{Store: st, Tracer: tp.Tracer("test")})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	for _, path := range []string{"/api/v1/summary", "/api/v1/nothing-here", "/"} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2 (the two API requests): %v", len(spans), spans)
	}
	attr := func(s tracetest.SpanStub, k attribute.Key) attribute.Value {
		for _, a := range s.Attributes {
			if a.Key == k {
				return a.Value
			}
		}
		return attribute.Value{}
	}
	if s := spans[0]; s.Name != "GET /api/v1/summary" || s.SpanKind != trace.SpanKindServer ||
		attr(s, "http.response.status_code").AsInt64() != 200 || attr(s, "http.route").AsString() != "/api/v1/summary" {
		t.Errorf("span of the summary: %s %v %v", s.Name, s.SpanKind, s.Attributes)
	}
	if s := spans[1]; s.Name != "GET unknown route" || attr(s, "http.response.status_code").AsInt64() != 404 {
		t.Errorf("span of an unknown route: %s %v", s.Name, s.Attributes)
	}
	if spans[0].Parent.IsValid() {
		t.Errorf("a request without traceparent has a parent span: %v", spans[0].Parent)
	}
	// A caller's traceparent makes the span its child, in its trace.
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/summary", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	spans = exp.GetSpans()
	s := spans[len(spans)-1]
	if s.SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || s.Parent.SpanID().String() != "00f067aa0ba902b7" || !s.Parent.IsRemote() {
		t.Errorf("span of a request with traceparent: trace %s parent %s, want the caller's", s.SpanContext.TraceID(), s.Parent.SpanID())
	}
}
