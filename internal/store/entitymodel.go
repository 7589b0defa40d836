package store

import (
	"context"
	"time"
)

// ModelEntityForest is the kind of the entity forest in the models table:
// an isolation forest per kind of entity over the entity stage's global
// counts (fraud.EntityModel), trained by the entity stage's leader job
// and stored, like the analytics models, with SaveModelVersion: the
// newest version is the one in force.
const ModelEntityForest = "entity-iforest"

// EntityTraining is implemented by stores that keep the entity stage's
// events (Entities): the training sample of the entity forest.
type EntityTraining interface {
	// EntityTrainingSample returns up to n of the newest entity events
	// (by event time) of a partition of the repartition topic whose
	// transaction is stored approved: the first step approved it and the
	// second did not raise it, the ordinary traffic the entity forest is
	// trained on, never labels. Events whose transaction was pruned or
	// erased are left out.
	EntityTrainingSample(ctx context.Context, partition int32, n int) ([]EntityEvent, error)
	// EntityEventSpan returns the earliest and latest event time stored
	// for a partition of the repartition topic (zero when none): how
	// much of the window its stored counts have seen.
	EntityEventSpan(ctx context.Context, partition int32) (first, last time.Time, err error)
}
