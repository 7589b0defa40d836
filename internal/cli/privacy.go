package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"

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
	if f.ipHash.key != nil {
		cfg.IPKey = f.ipHash.key
		d.logger.Info("IP addresses are stored as their keyed hash", "key_file", f.ipHash.file)
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

// ipHashFlags are --ip-hash-key-file, on process, run and serve: the key
// IP addresses are hashed with (privacy.Filter). serve stores nothing
// from the stream, but its POST /api/v1/score must hash a posted address
// with the processor's key to score it against the stored history.
type ipHashFlags struct {
	// file holds the key; "" for none (addresses as they come).
	file string
	// key is the file's key, read by validate.
	key []byte
}

func (f *ipHashFlags) register(fs *flag.FlagSet, usage string) {
	fs.StringVar(&f.file, "ip-hash-key-file", "", usage)
}

func (f *ipHashFlags) validate() error {
	if f.file == "" {
		return nil
	}
	key, err := privacy.ReadKeyFile(f.file)
	if err != nil {
		return usageError{fmt.Errorf("flag -ip-hash-key-file: %w", err)}
	}
	f.key = key
	return nil
}

// scoreHasher returns the IP hashing of the score API in serve: the key,
// and the lookups of the detector for the address's country (geo, set
// up), as newPrivacyFilter gives them to the processor.
func (f *ipHashFlags) scoreHasher(geo fraud.StateConfig, logger *slog.Logger) (*privacy.Filter, error) {
	pf, err := privacy.New(privacy.Config{IPKey: f.key, CountryOfIP: geo.CountryOfIP, IsHostingIP: geo.IsHostingIP, Logger: logger})
	if err != nil {
		return nil, usageError{fmt.Errorf("flag -ip-hash-key-file: %w", err)}
	}
	if f.key != nil {
		logger.Info("POST /api/v1/score hashes IP addresses as the processor does", "key_file", f.file)
	}
	return pf, nil
}
