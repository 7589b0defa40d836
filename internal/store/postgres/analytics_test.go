package postgres_test

import (
	"testing"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

func TestAnalyticsConformance(t *testing.T) {
	storetest.RunAnalytics(t, func(t *testing.T) store.Store { return open(t) })
}
