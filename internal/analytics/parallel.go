package analytics

import (
	"runtime"
	"sync/atomic"
)

// parallelism bounds the goroutines the BG/NBD fit, PredictAll and
// FitSegments use; 0: GOMAXPROCS.
var parallelism atomic.Int32

// SetParallelism sets the most goroutines the BG/NBD fit, PredictAll and
// FitSegments use at once, for the whole process; n below 1: GOMAXPROCS
// (the default). A process whose cores also carry a stream (`shopstream
// process`) leaves it a core this way: fitting on every core delayed the
// stream's batches by the length of the fit. Results do not depend on it.
func SetParallelism(n int) { parallelism.Store(int32(max(0, n))) }

// goroutines is how many goroutines a parallel step uses.
func goroutines() int {
	g := runtime.GOMAXPROCS(0)
	if p := int(parallelism.Load()); p > 0 && p < g {
		return p
	}
	return g
}
