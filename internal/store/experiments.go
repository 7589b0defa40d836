package store

import (
	"context"
	"errors"
	"time"
)

// Experiments keeps A/B experiments and their exposures. Both the
// PostgreSQL and the SQLite store implement it; storetest.RunExperiments
// is its conformance suite. The definition is opaque here: package abtest
// owns its format.
type Experiments interface {
	// CreateExperiment stores a new experiment. It returns
	// ErrExperimentExists when one of that name is stored already.
	CreateExperiment(ctx context.Context, e *ExperimentRow) error
	// ExperimentRows returns every stored experiment, by name.
	ExperimentRows(ctx context.Context) ([]ExperimentRow, error)
	// RecordExposure stores x unless the customer was exposed in the
	// experiment already; it reports whether it stored it. A repeat (or a
	// retry of a write whose reply was lost) changes nothing: the first
	// exposure stays.
	RecordExposure(ctx context.Context, x *Exposure) (recorded bool, err error)
	// Exposures calls fn for every exposure of experiment, by customer.
	Exposures(ctx context.Context, experiment string, fn func(*Exposure) error) error
	// ExposedPurchases calls fn for every stored transaction of an exposed
	// customer with an event time in [ExposedAt, WindowEnd) of their
	// exposure in experiment, by customer.
	ExposedPurchases(ctx context.Context, experiment string, fn func(*ExposedPurchase) error) error
}

// ErrExperimentExists reports a second experiment of the same name.
var ErrExperimentExists = errors.New("experiment exists already")

// ExperimentRow is a stored experiment.
type ExperimentRow struct {
	Name string
	// Definition is the experiment as JSON.
	Definition []byte
	CreatedAt  time.Time
}

// Exposure is a customer's first exposure to an experiment.
type Exposure struct {
	Experiment string
	CustomerID string
	// Variant is the index of the variant the customer was assigned.
	Variant   int
	ExposedAt time.Time
	// WindowEnd ends the conversion window: purchases in [ExposedAt,
	// WindowEnd) count.
	WindowEnd time.Time
	// Items are the products shown, best first.
	Items []string
}

// ExposedPurchase is a transaction of an exposed customer within the
// conversion window.
type ExposedPurchase struct {
	CustomerID    string
	TransactionID string
	EventTime     time.Time
	TotalCents    int64
	Currency      string
	// Products are the products of its item lines.
	Products []string
}
