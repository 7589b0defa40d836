package cli

import (
	"context"
	"fmt"
	"log/slog"
)

// throwawayPostgres starts a private PostgreSQL cluster for the benchmark.
func throwawayPostgres(ctx context.Context, logger *slog.Logger) (string, func(), error) {
	return "", nil, usageError{fmt.Errorf("flag -postgres is required for now")}
}
