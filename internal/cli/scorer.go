package cli

import "github.com/shopstream/shopstream/internal/pipeline"

// newScorer returns the factory of per-partition fraud scorers.
func newScorer(pipelineDeps) func(int32) pipeline.Scorer { return nil }
