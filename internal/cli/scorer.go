package cli

import (
	"fmt"

	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
)

// newDetector builds the live fraud detector from the process flags.
func newDetector(d pipelineDeps, f *processFlags) (*detector.Detector, error) {
	det, err := detector.New(detector.Config{
		RulesFile:  f.rules,
		Scorer:     fraud.ScorerConfig{ReviewAt: f.reviewAt, DeclineAt: f.declineAt},
		Logger:     d.logger,
		Registerer: d.reg,
	})
	if err != nil {
		return nil, usageError{fmt.Errorf("fraud settings: %w", err)}
	}
	return det, nil
}
