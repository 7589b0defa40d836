package postgres_test

import (
	"testing"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

func TestImportConformance(t *testing.T) {
	storetest.RunImport(t, func(t *testing.T) store.Store { return open(t) }, "")
}
