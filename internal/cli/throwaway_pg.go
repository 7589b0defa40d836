package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/shopstream/shopstream/internal/pgcluster"
)

// throwawayPostgres starts a private PostgreSQL cluster (fsync on, the
// server's defaults otherwise) for the benchmark and returns its URL and
// the function that removes it.
func throwawayPostgres(ctx context.Context, logger *slog.Logger) (string, func(), error) {
	logger.Info("no --postgres given: starting a throwaway PostgreSQL cluster (fsync on)")
	c, err := pgcluster.Start(ctx, pgcluster.Options{
		Settings:  map[string]string{"max_connections": "100", "shared_buffers": "512MB", "max_wal_size": "4GB"},
		DirPrefix: "shopstream-bench-pg-",
		Logf:      func(format string, args ...any) { logger.Debug(fmt.Sprintf(format, args...)) },
	})
	if err != nil {
		return "", nil, fmt.Errorf("starting PostgreSQL for the benchmark (or give --postgres): %w", err)
	}
	return c.URL("postgres"), func() { c.Destroy() }, nil //nolint:errcheck // best effort at exit
}
