package tracing

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSetupOffWithoutEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tp, shutdown, err := Setup(context.Background(), Config{Service: "s"})
	if err != nil || tp != Off {
		t.Fatalf("Setup without endpoint = %v, %v; want Off", tp, err)
	}
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("t").Start(context.Background(), "x")
	if span.SpanContext().IsValid() || span.IsRecording() {
		t.Fatal("a span of the off provider records")
	}
}

func TestSetupEndpoint(t *testing.T) {
	for _, bad := range []string{"collector:4318", "ftp://x", "http://"} {
		_, _, err := Setup(context.Background(), Config{Endpoint: bad, Service: "s"})
		if err == nil || !strings.Contains(err.Error(), "-otlp-endpoint") {
			t.Errorf("endpoint %q: err = %v, want one naming the flag", bad, err)
		}
	}
	tp, shutdown, err := Setup(context.Background(), Config{Endpoint: "http://127.0.0.1:1", Service: "s", Version: "v"})
	if err != nil || tp == Off {
		t.Fatalf("Setup with an endpoint = %v, %v", tp, err)
	}
	_, span := tp.Tracer("t").Start(context.Background(), "x")
	if !span.SpanContext().IsValid() {
		t.Fatal("a span of the OTLP provider has no trace id")
	}
	span.End()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // nothing listens on port 1: shutdown must not wait for it
	_ = shutdown(ctx)
}

// TestSetupExportsOTLP: with an endpoint, spans reach an OTLP/HTTP
// collector at its /v1/traces as protobuf, with the service's name, when
// the provider is shut down (which flushes its batch).
func TestSetupExportsOTLP(t *testing.T) {
	type export struct {
		path, ctype string
		body        []byte
	}
	got := make(chan export, 4)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- export{r.URL.Path, r.Header.Get("Content-Type"), b}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	tp, shutdown, err := Setup(context.Background(), Config{Endpoint: collector.URL, Service: "shopstream-test", Version: "v9"})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("t").Start(context.Background(), "write")
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	select {
	case e := <-got:
		if e.path != "/v1/traces" || e.ctype != "application/x-protobuf" {
			t.Fatalf("export to %s as %q, want /v1/traces as application/x-protobuf", e.path, e.ctype)
		}
		for _, want := range []string{"shopstream-test", "write", "v9"} {
			if !bytes.Contains(e.body, []byte(want)) {
				t.Errorf("the export does not carry %q", want)
			}
		}
	default:
		t.Fatal("nothing was exported by the time shutdown returned")
	}
}

// TestSetupEndpointPath: a collector URL with a path of its own is used as
// it is.
func TestSetupEndpointPath(t *testing.T) {
	paths := make(chan string, 4)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths <- r.URL.Path
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	tp, shutdown, err := Setup(context.Background(), Config{Endpoint: collector.URL + "/otlp/v1/traces", Service: "s"})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("t").Start(context.Background(), "x")
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-paths:
		if p != "/otlp/v1/traces" {
			t.Fatalf("exported to %s, want /otlp/v1/traces", p)
		}
	default:
		t.Fatal("nothing was exported by the time shutdown returned")
	}
}
