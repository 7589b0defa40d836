package postgres_test

import (
	"testing"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

func TestDeliveriesConformance(t *testing.T) {
	storetest.RunDeliveries(t, func(t *testing.T) store.Store { return open(t) })
}
