package cli

import (
	"context"
	"flag"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/shopstream/shopstream/internal/tracing"
)

// traceFlags turn on OpenTelemetry tracing.
type traceFlags struct{ endpoint string }

func (f *traceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.endpoint, "otlp-endpoint", "", "send traces (batches, API requests) with OTLP over HTTP to this collector URL, e.g. http://127.0.0.1:4318 (default: the standard OTEL_EXPORTER_OTLP_ENDPOINT, else off)")
}

// provider starts the tracer provider of service (shopstream-process,
// ...) and returns it with the function that flushes it on exit, bounded
// to 5 s.
func (f *traceFlags) provider(ctx context.Context, service string) (trace.TracerProvider, func(), error) {
	tp, shutdown, err := tracing.Setup(ctx, tracing.Config{Endpoint: f.endpoint, Service: service, Version: Build().Version})
	if err != nil {
		return nil, nil, usageError{err}
	}
	return tp, func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = shutdown(ctx)
	}, nil
}
