package bench

import (
	"fmt"

	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/generate"
)

// TrainModel trains an isolation forest on the features of 20,000
// transactions of a separately seeded shop that the rules approve, and
// makes it the detector's active model: full processing includes the
// isolation forest, so the benchmark scores with a model trained as the
// training job would.
func TrainModel(det *detector.Detector, seed int64) error {
	g, err := generate.New(generate.Config{Seed: seed + 1_000_003, Customers: 20_000})
	if err != nil {
		return err
	}
	st, err := fraud.NewState(det.StateConfig())
	if err != nil {
		return err
	}
	sc := det.Scorer()
	var vecs [][]float64
	var t event.Transaction
	var f fraud.Features
	for len(vecs) < 20_000 {
		r := g.Next()
		if r.Bad != "" || event.Decode(r.Value, &t) != nil {
			continue
		}
		st.FeaturesInto(&t, &f)
		if res := sc.Score(&f); res.Decision == fraud.Approve {
			vecs = append(vecs, f.Vector(nil))
		}
		st.Update(&t, &f)
	}
	m, err := fraud.TrainModel(vecs, seed)
	if err != nil {
		return fmt.Errorf("training the benchmark's model: %w", err)
	}
	return det.SetModels(&detector.Model{Version: 1, Model: m}, nil)
}
