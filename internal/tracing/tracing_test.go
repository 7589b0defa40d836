package tracing

import (
	"context"
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
