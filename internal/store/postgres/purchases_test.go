package postgres_test

import (
	"testing"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

func TestPurchasesConformance(t *testing.T) {
	storetest.RunPurchases(t, func(t *testing.T) store.Store { return open(t) })
}
