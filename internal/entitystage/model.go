package entitystage

import (
	"context"
	"errors"
	"time"

	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/store"
)

// EntityForest is a stored version of the entity forest, decoded.
type EntityForest struct {
	Version int
	Model   *fraud.EntityModel
}

// Model returns the entity forest in force, nil for none.
func (s *Stage) Model() *EntityForest { return s.model.Load() }

// SetModel puts m in force (nil: none) until the next read of the store
// finds another version.
func (s *Stage) SetModel(m *EntityForest) {
	s.model.Store(m)
	v := 0
	if m != nil {
		v = m.Version
	}
	s.modelVersion.Set(float64(v))
}

// SyncModel reads the newest stored entity forest and puts it in force
// when its version differs from the one in force. A version that does
// not decode (trained by a build with other features) is logged once and
// the one in force is kept.
func (s *Stage) SyncModel(ctx context.Context) error {
	an, ok := s.cfg.Store.(store.Analytics)
	if !ok {
		return nil
	}
	s.modelMu.Lock()
	defer s.modelMu.Unlock()
	m, err := an.LatestModelVersion(ctx, store.ModelEntityForest)
	if errors.Is(err, store.ErrNoModel) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur := s.model.Load(); cur != nil && cur.Version == m.Version || s.modelBroken[m.Version] {
		return nil
	}
	var em fraud.EntityModel
	if err := em.UnmarshalBinary(m.Params); err != nil {
		s.modelBroken[m.Version] = true
		s.log.Error("entity forest version does not decode; keeping the one in force", "version", m.Version, "err", err)
		return nil
	}
	s.SetModel(&EntityForest{Version: m.Version, Model: &em})
	s.log.Info("entity forest in use", "version", m.Version, "kinds", em.Kinds())
	return nil
}

// watchModel calls SyncModel every ModelPoll until ctx ends.
func (s *Stage) watchModel(ctx context.Context) {
	t := time.NewTicker(s.cfg.ModelPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.SyncModel(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("reading the entity forest failed; keeping the one in force", "err", err)
		}
	}
}
