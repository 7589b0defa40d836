package cli

import (
	"fmt"

	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/pipeline"
)

// newDetector builds the live fraud detector from the process flags, with
// the lookups of the GeoIP and BIN files given (geoflags.go); ips hashes
// the IP address of a transaction posted to the score API as the
// processor's privacy step does; addrKey keys shipping addresses
// (addresskey.go).
func newDetector(d pipelineDeps, f *processFlags, ips detector.IPHasher, addrKey []byte) (*detector.Detector, error) {
	if err := f.geo.setup(d.logger); err != nil {
		return nil, err
	}
	unbounded := func(n int) int { // the flags' 0 is the config's -1
		if n == 0 {
			return -1
		}
		return n
	}
	det, err := detector.New(detector.Config{
		RulesFile: f.rules,
		Scorer:    fraud.ScorerConfig{ReviewAt: f.reviewAt, DeclineAt: f.declineAt},
		State: f.geo.lookups(fraud.StateConfig{MaxCustomers: unbounded(f.fraudMaxCustomers),
			MaxEntities: unbounded(f.fraudMaxEntities), AddressKey: addrKey}),
		Logger:     d.logger,
		Registerer: d.reg,
		IPHasher:   ips,
	})
	if err != nil {
		return nil, usageError{fmt.Errorf("fraud settings: %w", err)}
	}
	return det, nil
}

// partitionScorers hands the detector's per-partition scorers to the
// processor, which knows them by its own Scorer interface.
func partitionScorers(det *detector.Detector) func(int32) pipeline.Scorer {
	return func(p int32) pipeline.Scorer { return det.NewPartitionScorer(p) }
}
