package fraud

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/fraud/iforest"
)

// The entity forest: an isolation forest over the entity stage's global
// counts, the second step's counterpart of the first step's ForestModel.
// A transaction reaches the entity stage once per entity (device, card,
// network address, shipping address), on different partitions, so the
// unit it scores is the entity event: the counts of one entity as of one
// transaction. Each kind of entity has its own forest, for what is
// ordinary differs by kind (an IP address behind carrier NAT serves many
// accounts, a device one or two, a card always counts one card).

// EntityModelFeatures name the features of the entity forest, in the
// order EntityVector writes them.
var EntityModelFeatures = []string{"accounts", "transactions", "cards", "cards_per_account", "transactions_per_account"}

// NumEntityModelFeatures is len(EntityModelFeatures).
const NumEntityModelFeatures = 5

// EntityKinds are the kinds of entity, in the order an EntityModel
// encodes their forests.
var EntityKinds = []string{EntityDevice, EntityCard, EntityIP, EntityAddress}

// EntityVector writes f's features as the entity forest sees them, on
// the log scale of the main forest (x ↦ ln(1 + x)), into dst.
func EntityVector(f EntityFeatures, dst *[NumEntityModelFeatures]float64) {
	acc := float64(max(f.Customers, 1))
	dst[0] = squash(float64(f.Customers))
	dst[1] = squash(float64(f.Transactions))
	dst[2] = squash(float64(f.Cards))
	dst[3] = squash(float64(f.Cards) / acc)
	dst[4] = squash(float64(f.Transactions) / acc)
}

// EntitySample is one entity event of ordinary traffic: the counts of an
// entity of Kind as of a transaction the first step approved.
type EntitySample struct {
	Kind     string
	Features EntityFeatures
}

// EntityModel is an isolation forest per kind of entity over the global
// counts, calibrated, as ForestModel is, on the raw scores of its own
// training sample. Immutable and safe for concurrent use.
type EntityModel struct {
	kinds map[string]*entityForest
}

type entityForest struct {
	forest *iforest.Forest
	rows   int
	// lo and hi calibrate raw scores as ForestModel's do: evidence 0 up
	// to the training sample's 99th percentile, 1 from its maximum.
	lo, hi float64
}

// TrainEntityModel grows a forest per kind of entity on samples of
// ordinary traffic, at most ModelSampleLimit per kind (the first ones);
// a kind with fewer than 2 samples gets none, and is not scored. seed
// makes training repeatable. Train on events whose transaction the
// first step approved, never on labels.
func TrainEntityModel(samples []EntitySample, seed int64) (*EntityModel, error) {
	byKind := map[string][][]float64{}
	for _, s := range samples {
		if !slices.Contains(EntityKinds, s.Kind) {
			return nil, fmt.Errorf("training the entity model: unknown entity kind %q", s.Kind)
		}
		if s.Features.Customers < 0 || s.Features.Transactions < 0 || s.Features.Cards < 0 {
			return nil, fmt.Errorf("training the entity model: negative counts %+v", s.Features)
		}
		if len(byKind[s.Kind]) >= ModelSampleLimit {
			continue
		}
		var v [NumEntityModelFeatures]float64
		EntityVector(s.Features, &v)
		byKind[s.Kind] = append(byKind[s.Kind], v[:])
	}
	m := &EntityModel{kinds: map[string]*entityForest{}}
	for k, kind := range EntityKinds {
		X := byKind[kind]
		if len(X) < 2 {
			continue
		}
		forest, err := iforest.Train(X, iforest.Config{Seed: seed + int64(k)})
		if err != nil {
			return nil, fmt.Errorf("training the entity model of %s: %w", kind, err)
		}
		scores := make([]float64, len(X))
		forest.ScoreBatch(X, scores)
		sort.Float64s(scores)
		lo := scores[int(0.99*float64(len(scores)-1))]
		m.kinds[kind] = &entityForest{forest: forest, rows: len(X), lo: lo, hi: math.Max(scores[len(scores)-1], lo+0.05)}
	}
	if len(m.kinds) == 0 {
		return nil, fmt.Errorf("training the entity model: %d samples, no kind of entity with at least 2", len(samples))
	}
	return m, nil
}

// Kinds returns the kinds of entity the model scores, and the rows each
// forest was trained on.
func (m *EntityModel) Kinds() map[string]int {
	out := map[string]int{}
	for k, f := range m.kinds {
		out[k] = f.rows
	}
	return out
}

// RawScore is the forest's anomaly score of f on an entity of kind,
// 2^(−E[h]/c(ψ)); ok is false when the model has no forest for kind.
func (m *EntityModel) RawScore(kind string, f EntityFeatures) (s float64, ok bool) {
	ef := m.kinds[kind]
	if ef == nil {
		return 0, false
	}
	var v [NumEntityModelFeatures]float64
	EntityVector(f, &v)
	return ef.forest.Score(v[:]), true
}

// Score is the model's evidence in [0, 1] that f is unusual for an
// entity of kind: the raw score placed between the training sample's
// 99th percentile (0) and its maximum (1), as ForestModel.Score. It is 0
// for a kind the model has no forest for.
func (m *EntityModel) Score(kind string, f EntityFeatures) float64 {
	ef := m.kinds[kind]
	if ef == nil {
		return 0
	}
	var v [NumEntityModelFeatures]float64
	EntityVector(f, &v)
	s := ef.forest.Score(v[:])
	return math.Min(math.Max((s-ef.lo)/(ef.hi-ef.lo), 0), 1)
}

// EntityModelRule is the rule name of the entity forest's hits.
const EntityModelRule = "entity_forest"

// Hit returns the entity forest's hit on a transaction seen on entity,
// whose features as of it are f, within a window of window: an EntityHit
// of weight weight times the evidence, which RaiseRisk combines with the
// entity rules' hits by noisy OR, as the Scorer combines the first
// step's ModelWeight. ok is false when the evidence is 0 or weight is not
// positive. The reason names the entity and its counts:
//
//	device d-123: counts unusual for a device (forest score 0.71): 5 accounts, 6 transactions, 9 cards in 24 h
func (m *EntityModel) Hit(entity string, f EntityFeatures, window time.Duration, weight float64) (EntityHit, bool) {
	if m == nil || !(weight > 0) {
		return EntityHit{}, false
	}
	kind := EntityKind(entity)
	e := m.Score(kind, f)
	if e <= 0 {
		return EntityHit{}, false
	}
	label := kind
	if kind == EntityAddress {
		label = "shipping address"
	}
	article := "a"
	if kind == EntityIP {
		label, article = "IP address", "an"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: counts unusual for %s %s (forest score %.2f): %d accounts, %d transactions", label,
		strings.TrimPrefix(entity, kind+":"), article, label, e, f.Customers, f.Transactions)
	if kind != EntityCard {
		fmt.Fprintf(&b, ", %d cards", f.Cards)
	}
	fmt.Fprintf(&b, " in %s", formatWindow(window))
	return EntityHit{Rule: EntityModelRule, Reason: b.String(), Weight: math.Round(weight*e*1e4) / 1e4, Entity: entity}, true
}

// Encoding of an EntityModel, version 1:
//
//	"SSEM"                       magic
//	0x01                         version
//	uvarint n, then n × (uvarint len, name)   the feature names, in order
//	uvarint k, then k ×                       the forests, by kind
//	  uvarint len, kind
//	  uvarint rows
//	  float64 lo, float64 hi                  little-endian IEEE 754
//	  uvarint len, then len bytes             the iforest encoding
//	4 bytes CRC-32C of everything before
const (
	entityModelMagic   = "SSEM"
	entityModelVersion = 1
)

// MarshalBinary encodes the model.
func (m *EntityModel) MarshalBinary() ([]byte, error) {
	if m == nil || len(m.kinds) == 0 {
		return nil, errors.New("encoding an entity model: it has no forest (not from TrainEntityModel or UnmarshalBinary)")
	}
	b := append([]byte(entityModelMagic), entityModelVersion)
	b = binary.AppendUvarint(b, uint64(len(EntityModelFeatures)))
	for _, n := range EntityModelFeatures {
		b = binary.AppendUvarint(b, uint64(len(n)))
		b = append(b, n...)
	}
	b = binary.AppendUvarint(b, uint64(len(m.kinds)))
	for _, kind := range EntityKinds {
		ef := m.kinds[kind]
		if ef == nil {
			continue
		}
		fb, err := ef.forest.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("encoding the entity model of %s: %w", kind, err)
		}
		b = binary.AppendUvarint(b, uint64(len(kind)))
		b = append(b, kind...)
		b = binary.AppendUvarint(b, uint64(ef.rows))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(ef.lo))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(ef.hi))
		b = binary.AppendUvarint(b, uint64(len(fb)))
		b = append(b, fb...)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// UnmarshalBinary decodes a model written by MarshalBinary. Damaged bytes
// give an error wrapping ErrBadModel (or the forest's own errors); a model
// of other features gives ErrFeatureMismatch.
func (m *EntityModel) UnmarshalBinary(data []byte) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: entity model: %s", ErrBadModel, fmt.Sprintf(format, args...))
	}
	if len(data) < len(entityModelMagic)+1+4 || string(data[:len(entityModelMagic)]) != entityModelMagic {
		return bad("no %q header", entityModelMagic)
	}
	if v := data[len(entityModelMagic)]; v != entityModelVersion {
		return fmt.Errorf("decoding an entity model: unsupported version %d, this build reads %d", v, entityModelVersion)
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return bad("checksum mismatch")
	}
	d := body[len(entityModelMagic)+1:]
	uvarint := func(what string, max uint64) (uint64, error) {
		v, n := binary.Uvarint(d)
		if n <= 0 {
			return 0, bad("truncated %s", what)
		}
		if v > max {
			return 0, bad("%s %d is above %d", what, v, max)
		}
		d = d[n:]
		return v, nil
	}
	str := func(what string) (string, error) {
		l, err := uvarint(what+" length", 256)
		if err != nil {
			return "", err
		}
		if uint64(len(d)) < l {
			return "", bad("truncated %s", what)
		}
		s := string(d[:l])
		d = d[l:]
		return s, nil
	}
	float := func(what string) (float64, error) {
		if len(d) < 8 {
			return 0, bad("truncated %s", what)
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(d))
		d = d[8:]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, bad("%s is %v", what, v)
		}
		return v, nil
	}
	n, err := uvarint("feature count", 64)
	if err != nil {
		return err
	}
	names := make([]string, n)
	for i := range names {
		if names[i], err = str("feature name"); err != nil {
			return err
		}
	}
	if !slices.Equal(names, EntityModelFeatures) {
		return fmt.Errorf("%w: the entity model has features %v, this build %v; retrain it", ErrFeatureMismatch, names, EntityModelFeatures)
	}
	k, err := uvarint("kind count", uint64(len(EntityKinds)))
	if err != nil {
		return err
	}
	if k == 0 {
		return bad("no forest")
	}
	out := &EntityModel{kinds: map[string]*entityForest{}}
	for range k {
		kind, err := str("kind")
		if err != nil {
			return err
		}
		if !slices.Contains(EntityKinds, kind) {
			return bad("unknown kind %q", kind)
		}
		if out.kinds[kind] != nil {
			return bad("kind %q twice", kind)
		}
		rows, err := uvarint("rows", math.MaxInt32)
		if err != nil {
			return err
		}
		lo, err := float("calibration")
		if err != nil {
			return err
		}
		hi, err := float("calibration")
		if err != nil {
			return err
		}
		if !(hi > lo) {
			return bad("calibration range [%v, %v] of %s is empty", lo, hi, kind)
		}
		l, err := uvarint("forest length", uint64(len(d)))
		if err != nil {
			return err
		}
		var f iforest.Forest
		if err := f.UnmarshalBinary(d[:l]); err != nil {
			return fmt.Errorf("decoding the entity model of %s: %w", kind, err)
		}
		d = d[l:]
		if got := f.Metadata().Features; got != NumEntityModelFeatures {
			return bad("forest of %s has %d features, want %d", kind, got, NumEntityModelFeatures)
		}
		out.kinds[kind] = &entityForest{forest: &f, rows: int(rows), lo: lo, hi: hi}
	}
	if len(d) != 0 {
		return bad("%d bytes after the forests", len(d))
	}
	*m = *out
	return nil
}

// DefaultEntityModelWeight is the entity forest's weight in the second
// step: below ScorerConfig's ReviewAt (0.4), so that, as the first
// step's ModelWeight, the forest alone never raises an order to review
// (docs/fraud.md).
const DefaultEntityModelWeight = 0.1
