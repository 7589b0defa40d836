package postgres_test

import (
	"testing"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

func TestExperimentsConformance(t *testing.T) {
	storetest.RunExperiments(t, func(t *testing.T) store.Store { return open(t) })
}
