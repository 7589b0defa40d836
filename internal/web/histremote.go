package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// A server can show the history of a process it is not: the coarse
// samples every sampling process saves in the store (histpersist.go),
// under its instance id. That is how `shopstream serve`, whose registry
// has no pipeline, charts the processors' throughput, batches and
// latency: GET /api/v1/metrics/series and /histograms take instance=, and
// GET /api/v1/metrics/instances lists the instances that saved samples.
// Only the saved tiers can be shown: one sample per 15 s for two hours
// (savedFine: as taken, not corrected for resets), per 5 minutes for two
// days, per hour for 32 days.

const (
	// remoteRefresh is how often an instance's samples held here read
	// the rows saved since (a process saves one every 15 s): an answer
	// is at most that much older than the newest row (three indexed
	// reads of a row or none, so it can be short).
	remoteRefresh = 2 * time.Second
	// remoteMax bounds the instances whose samples are held at once
	// (about 10 MB each with a `run`'s metrics and full tiers); the least
	// recently asked for goes.
	remoteMax = 4
	// maxInstanceLen bounds an instance= parameter.
	maxInstanceLen = 256
)

// Where the samples of an answer come from (SeriesRange.Source).
const (
	sourceMemory = "memory" // this server's own samples
	sourceStore  = "store"  // another instance's, saved in the store
)

// remoteRings holds other instances' saved samples, read from the store.
type remoteRings struct {
	st    store.SystemSamples
	now   func() time.Time
	mu    sync.Mutex
	rings map[string]*remoteRing
}

type remoteRing struct {
	h      *histRing
	used   time.Time // last asked for
	mu     sync.Mutex
	loaded time.Time // last read from the store
}

func newRemoteRings(st store.SystemSamples) *remoteRings {
	return &remoteRings{st: st, now: time.Now, rings: map[string]*remoteRing{}}
}

// newStoredRing is a ring that samples nothing itself: its fine samples
// and coarse tiers are another instance's saved ones.
func newStoredRing(now func() time.Time) *histRing {
	h := newHistRing(nil, savedFine.every)
	h.keep, h.now = savedFine.keep, now
	return h
}

// ring returns instance's samples, read from the store at most every
// remoteRefresh; ok is false when it saved none that the tiers keep. An
// instance is held (evicting the least recently asked for beyond
// remoteMax) only once it has samples, so names that have none evict
// nothing.
func (r *remoteRings) ring(ctx context.Context, instance string) (h *histRing, ok bool, err error) {
	now := r.now()
	r.mu.Lock()
	e := r.rings[instance]
	if e != nil {
		e.used = now
	}
	r.mu.Unlock()
	held := e != nil
	if !held {
		e = &remoteRing{h: newStoredRing(r.now), used: now}
	}

	e.mu.Lock()
	if e.loaded.IsZero() || now.Sub(e.loaded) >= remoteRefresh {
		if err := e.h.pull(ctx, r.st, instance, true); err != nil {
			e.mu.Unlock()
			return nil, false, err
		}
		e.loaded = now
	}
	e.mu.Unlock()
	e.h.mu.Lock()
	n := 0
	for _, t := range e.h.tiers {
		n += len(t.samples)
	}
	e.h.mu.Unlock()

	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case n == 0:
		if held && r.rings[instance] == e {
			delete(r.rings, instance)
		}
		return nil, false, nil
	case !held && r.rings[instance] == nil:
		for len(r.rings) >= remoteMax {
			var oldest string
			for k, v := range r.rings {
				if oldest == "" || v.used.Before(r.rings[oldest].used) {
					oldest = k
				}
			}
			delete(r.rings, oldest)
		}
		r.rings[instance] = e
	}
	return e.h, true, nil
}

// histSource is the samples an answer is read from.
type histSource struct {
	h        *histRing
	source   string  // sourceMemory or sourceStore
	instance *string // nil: this server's own, which has no id
}

// histFor returns the samples of instance= (this server's own when empty
// or its own id).
func (s *Server) histFor(ctx context.Context, instance string) (histSource, error) {
	if instance == "" || instance == s.cfg.SampleInstance {
		src := histSource{h: s.hist, source: sourceMemory}
		if s.cfg.SampleInstance != "" {
			id := s.cfg.SampleInstance
			src.instance = &id
		}
		return src, nil
	}
	if len(instance) > maxInstanceLen {
		return histSource{}, fmt.Errorf("%w: instance of %d bytes, at most %d", ErrBadRequest, len(instance), maxInstanceLen)
	}
	if s.remote == nil {
		return histSource{}, fmt.Errorf("%w: this store keeps no instance's samples", ErrNotFound)
	}
	h, ok, err := s.remote.ring(ctx, instance)
	if err != nil {
		return histSource{}, err
	}
	if !ok {
		return histSource{}, fmt.Errorf("%w: no instance %q saved samples in the last 32 days (GET /api/v1/metrics/instances lists those that did)",
			ErrNotFound, instance)
	}
	return histSource{h: h, source: sourceStore, instance: &instance}, nil
}

// SampleInstances is the body of GET /api/v1/metrics/instances.
type SampleInstances struct {
	// Server is this server's own samples.
	Server SampleServer `json:"server"`
	// Instances are those whose samples are in the store (this server's
	// own among them when it saves), by instance.
	Instances []SampleInstance `json:"instances"`
}

// SampleServer says what this server samples itself.
type SampleServer struct {
	// Instance is its id, under which it saves its samples; null when it
	// saves none (shopstream serve).
	Instance *string `json:"instance"`
	// Pipeline is whether its own samples have the pipeline's metrics
	// (run, process); false under serve, whose processors are others.
	Pipeline bool `json:"pipeline"`
	// SampleSeconds is how often it samples; 0 when it does not.
	SampleSeconds float64 `json:"sample_seconds"`
}

// SampleInstance is one instance's samples in the store.
type SampleInstance struct {
	Instance string `json:"instance"`
	// Oldest is its oldest saved sample; LastSeen its newest (a process
	// saves one every 15 s, so it lags by up to that).
	Oldest   time.Time `json:"oldest"`
	LastSeen time.Time `json:"last_seen"`
	// Samples is how many rows it has, of both tiers.
	Samples int `json:"samples"`
	// Self is whether it is this server's own (answered from memory,
	// 15 s samples included).
	Self bool `json:"self"`
}

// pipelineMetric is a metric only a process running the pipeline has.
const pipelineMetric = "shopstream_records_total"

func (s *Server) sampleInstances(w http.ResponseWriter, r *http.Request) {
	out := SampleInstances{Instances: []SampleInstance{}}
	if s.cfg.SampleInstance != "" {
		id := s.cfg.SampleInstance
		out.Server.Instance = &id
	}
	if s.sampled {
		out.Server.SampleSeconds = s.hist.every.Seconds()
	}
	for _, m := range s.hist.metaNow() {
		if m.name == pipelineMetric {
			out.Server.Pipeline = true
			break
		}
	}
	if ss, ok := s.cfg.Store.(store.SystemSamples); ok {
		insts, err := ss.SystemSampleInstances(r.Context())
		if err != nil {
			WriteError(w, err)
			return
		}
		for _, in := range insts {
			out.Instances = append(out.Instances, SampleInstance{Instance: in.Instance, Oldest: in.Oldest, LastSeen: in.Newest,
				Samples: in.Samples, Self: in.Instance == s.cfg.SampleInstance})
		}
		sort.Slice(out.Instances, func(i, j int) bool { return out.Instances[i].Instance < out.Instances[j].Instance })
	}
	WriteJSON(w, http.StatusOK, out)
}

// allInstances, as instance=, asks GET /api/v1/metrics/histograms for the
// histograms of every instance whose samples are in the store, merged:
// the Overview's latency under serve, whose processors are several.
const allInstances = "*"

// mergedHistograms answers GET /api/v1/metrics/histograms?instance=*: per
// histogram, what every instance observed over the range (each between
// its own two samples, as with instance=, their buckets added). An
// instance last seen before since, or first seen after until, is not
// read. From is the earliest instance's first sample, To the newest's
// last; Capped is true when none reaches back to since; the resolution is
// the coarsest of theirs.
func (s *Server) mergedHistograms(ctx context.Context, since, until time.Time, after bool, name string, quant float64) (HistogramRange, error) {
	all := allInstances
	if since.IsZero() {
		since = time.Now().Add(-time.Hour)
	}
	out := HistogramRange{Since: since, SampleSeconds: savedFine.every.Seconds(), Quantile: quant, Histograms: []HistogramQuantile{},
		Instance: &all, Source: sourceStore, Instances: []string{}}
	if !until.IsZero() {
		out.Until = &until
	}
	ss, ok := s.cfg.Store.(store.SystemSamples)
	if !ok || s.remote == nil {
		return out, fmt.Errorf("%w: this store keeps no instance's samples", ErrNotFound)
	}
	insts, err := ss.SystemSampleInstances(ctx)
	if err != nil {
		return out, err
	}
	var m histMerge
	capped := true
	for _, in := range insts {
		if in.Newest.Before(since) || (!until.IsZero() && !in.Oldest.Before(until)) {
			continue
		}
		src, err := s.histFor(ctx, in.Instance)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return out, err
		}
		v, a, b, c, ok := src.h.pick(since, until, after)
		if !ok {
			continue
		}
		out.Instances = append(out.Instances, in.Instance)
		m.add(a, b, name)
		if out.From == nil || a.at.Before(*out.From) {
			out.From = &a.at
		}
		if out.To == nil || b.at.After(*out.To) {
			out.To = &b.at
		}
		capped = capped && c
		if v.every.Seconds() > out.ResolutionSeconds {
			out.ResolutionSeconds, out.HeldSeconds = v.every.Seconds(), v.keep.Seconds()
		}
		if len(v.samples) > 0 && (out.HeldSince == nil || v.samples[0].at.Before(*out.HeldSince)) {
			held := v.samples[0].at
			out.HeldSince = &held
		}
	}
	out.Capped = capped && len(out.Instances) > 0
	out.Histograms = m.quantiles(quant)
	return out, nil
}
