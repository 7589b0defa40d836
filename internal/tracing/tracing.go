// Package tracing sets up OpenTelemetry tracing: spans exported with OTLP
// over HTTP when an endpoint is configured, and a no-op tracer (no cost
// beyond a call that does nothing) when none is.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config configures tracing.
type Config struct {
	// Endpoint is the OTLP/HTTP collector, a URL such as
	// http://127.0.0.1:4318 (spans go to its /v1/traces; a URL with a path
	// is used as it is). Defaults to the
	// standard environment, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
	// OTEL_EXPORTER_OTLP_ENDPOINT; when neither is set either, tracing is
	// off.
	Endpoint string
	// Flag names Endpoint in errors. Defaults to "-otlp-endpoint".
	Flag string
	// Service is the service.name of the spans, e.g. shopstream-process.
	// Required when tracing is on.
	Service string
	// Version is the service.version. Defaults to none.
	Version string
}

// Off is the tracer provider when tracing is off.
var Off trace.TracerProvider = noop.NewTracerProvider()

// Setup returns the tracer provider cfg asks for and the function that
// flushes and stops it (bounded by its context). With no endpoint it
// returns Off and a shutdown that does nothing.
func Setup(ctx context.Context, cfg Config) (trace.TracerProvider, func(context.Context) error, error) {
	if cfg.Flag == "" {
		cfg.Flag = "-otlp-endpoint"
	}
	var opts []otlptracehttp.Option
	switch {
	case cfg.Endpoint != "":
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, nil, fmt.Errorf("flag %s: %q is not an http:// or https:// URL of an OTLP collector", cfg.Flag, cfg.Endpoint)
		}
		// A collector's base URL takes the standard path of traces, as
		// OTEL_EXPORTER_OTLP_ENDPOINT does; a URL with a path is used as
		// it is, as OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is.
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces"
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
	case os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "":
		// The exporter reads the standard variables itself.
	default:
		return Off, func(context.Context) error { return nil }, nil
	}
	if cfg.Service == "" {
		return nil, nil, errors.New("tracing: Service is required")
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the OTLP exporter: %w", err)
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", cfg.Service)}
	if cfg.Version != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.Version))
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(5*time.Second)),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)))
	return tp, tp.Shutdown, nil
}
