package cli

import (
	"context"
	"fmt"

	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/privacy"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/web"
)

// registerErasure adds DELETE /api/v1/customers/{id} when the store can
// erase.
func registerErasure(srv *web.Server, st store.Store) {
	if p, ok := st.(store.Privacy); ok {
		web.RegisterErasure(srv, p)
	}
}

// newPrivacyFilter builds the processor's privacy step: the erasure list
// read from the store (before the first batch), and the IP hash key of
// --ip-hash-key-file with the detector's lookups (geoflags.go) for the
// address's country.
func newPrivacyFilter(ctx context.Context, d pipelineDeps, f *processFlags) (*privacy.Filter, error) {
	if err := f.geo.setup(d.logger); err != nil {
		return nil, err
	}
	geo := f.geo.lookups(fraud.StateConfig{})
	cfg := privacy.Config{CountryOfIP: geo.CountryOfIP, IsHostingIP: geo.IsHostingIP, Logger: d.logger}
	if ps, ok := d.store.(store.Privacy); ok {
		cfg.Erasures = ps
	}
	if f.ipHashKey != nil {
		cfg.IPKey = f.ipHashKey
		d.logger.Info("IP addresses are stored as their keyed hash", "key_file", f.ipHashKeyFile)
	}
	pf, err := privacy.New(cfg)
	if err != nil {
		return nil, usageError{fmt.Errorf("flag -ip-hash-key-file: %w", err)}
	}
	if err := pf.Sync(ctx); err != nil {
		return nil, err
	}
	return pf, nil
}
