package web

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// The coarse tiers (histtiers.go) are saved in the store as they fold, one
// row per coarse sample per instance (store.SystemSamples), and restored
// when a server starts, so the System page's history outlives a restart.
// A row is the sample's series, self-contained (names and labels, so any
// process can read it): deflated, of
//
//	version (1), then uvarint counts and per series:
//	values:     name, labels, kind (0 gauge, 1 counter), float64
//	histograms: name, labels, bounds (float64s), bucket counts (uvarint,
//	            not cumulative: small), sum (float64)
//
// strings as a uvarint length and bytes, labels as a uvarint count and
// sorted name, value pairs.

// maxUnsaved bounds the samples waiting to be saved while the store fails.
const maxUnsaved = 64

// histPersist is where a ring saves its coarse samples.
type histPersist struct {
	st       store.SystemSamples
	instance string
	logf     func(msg string, args ...any)
}

// unsaved is a sample not yet saved, of coarse tier tier (-1: a fine
// sample, of savedFine).
type unsaved struct {
	tier int
	s    histSample
}

// savedTier is the tier whose step and retention a sample of tier ti
// (-1: fine) is saved with.
func (h *histRing) savedTier(ti int) histTier {
	if ti < 0 {
		return savedFine
	}
	return h.tiers[ti].histTier
}

// queue adds u to the samples to save; beyond maxUnsaved (the store
// failing) the oldest fine sample goes, else the oldest coarse one. h.mu is held.
func (h *histRing) queue(u unsaved) {
	h.unsaved = append(h.unsaved, u)
	h.bound()
}

// bound drops the oldest fine samples waiting to be saved beyond
// maxUnsaved (but the newest), then the oldest coarse ones. h.mu is held.
func (h *histRing) bound() {
	for len(h.unsaved) > maxUnsaved {
		drop := 0
		for i, v := range h.unsaved[:len(h.unsaved)-1] {
			if v.tier < 0 {
				drop = i
				break
			}
		}
		h.unsaved = append(h.unsaved[:drop:drop], h.unsaved[drop+1:]...)
	}
}

// save writes the samples queued since the last save (coarse ones as they
// fold, a fine one every savedFine.every); those that fail wait for the
// next (maxUnsaved at most).
func (h *histRing) save() {
	h.mu.Lock()
	p, todo := h.persist, h.unsaved
	h.unsaved = nil
	h.mu.Unlock()
	if p == nil || len(todo) == 0 {
		return
	}
	meta := h.metaNow()
	for i, u := range todo {
		t := h.savedTier(u.tier)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := p.st.SaveSystemSample(ctx, store.SystemSample{Instance: p.instance, Step: int(t.every / time.Second), At: u.s.at,
			Data: encodeSample(u.s, meta)}, t.keep)
		cancel()
		if err != nil {
			if p.logf != nil {
				p.logf("saving the dashboard's system samples", "error", err, "unsaved", len(todo)-i)
			}
			h.mu.Lock()
			h.unsaved = append(todo[i:len(todo):len(todo)], h.unsaved...)
			h.bound()
			h.mu.Unlock()
			return
		}
	}
}

// restore loads the coarse tiers of instance from st, as far back as each
// keeps from now. A row that does not decode is skipped.
func (h *histRing) restore(ctx context.Context, st store.SystemSamples, instance string) error {
	return h.pull(ctx, st, instance, false)
}

// pull adds to each coarse tier the rows of instance saved after its
// newest sample (all of them, as far back as the tier keeps from now, when
// it has none), dropping what the tier no longer keeps: a restore at
// start, and the reading of another instance's samples (histremote.go)
// as they are saved, which (fine) reads its saved fine samples too, into
// the ring's own. A row that does not decode is skipped; when the store
// fails, nothing is added.
func (h *histRing) pull(ctx context.Context, st store.SystemSamples, instance string, fine bool) error {
	now := h.now()
	read := func(t histTier, last histSample) ([]histSample, error) {
		since := now.Add(-t.keep)
		if last.at.After(since) {
			since = last.at
		}
		rows, err := st.SystemSamples(ctx, instance, int(t.every/time.Second), since)
		if err != nil {
			return nil, err
		}
		var out []histSample
		known := decodeCache{vals: map[string]int{}, hists: map[string]*histSeries{}}
		for _, r := range rows {
			if !r.At.After(last.at) {
				continue
			}
			s, err := h.decodeSample(r.At, r.Data, known)
			if err != nil {
				continue
			}
			// Labels and bounds that do not change are shared, as the
			// ring's ticks share them.
			for k, hs := range s.series {
				if p := last.series[k]; p != nil && slices.Equal(p.bounds, hs.bounds) {
					hs.labels, hs.bounds, hs.key = p.labels, p.bounds, p.key
				}
			}
			out = append(out, s)
			last = s
		}
		return out, nil
	}
	// newest is the newest sample of tier ti (-1: the fine ring's).
	newest := func(ti int) histSample {
		h.mu.Lock()
		defer h.mu.Unlock()
		samples := h.samples
		if ti >= 0 {
			samples = h.tiers[ti].samples
		}
		if n := len(samples); n > 0 {
			return samples[n-1]
		}
		return histSample{}
	}
	tiers := make([][]histSample, len(h.tiers))
	for ti, t := range h.tiers {
		ss, err := read(t.histTier, newest(ti))
		if err != nil {
			return err
		}
		tiers[ti] = ss
	}
	var fines []histSample
	if fine {
		ss, err := read(savedFine, newest(-1))
		if err != nil {
			return err
		}
		fines = ss
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for ti, ss := range tiers {
		t := h.tiers[ti]
		if len(t.samples) == 0 {
			t.samples = ss
			continue
		}
		for _, s := range ss {
			t.samples = appendKept(t.samples, s, t.keep)
		}
	}
	for _, s := range fines {
		h.samples = appendKept(h.samples, s, h.keep)
	}
	return nil
}

type sampleWriter struct{ bytes.Buffer }

func (w *sampleWriter) uvarint(v uint64) { w.Write(binary.AppendUvarint(nil, v)) }
func (w *sampleWriter) float(v float64) {
	w.Write(binary.LittleEndian.AppendUint64(nil, math.Float64bits(v)))
}
func (w *sampleWriter) str(s string) {
	w.uvarint(uint64(len(s)))
	w.WriteString(s)
}
func (w *sampleWriter) labels(ls map[string]string) {
	ks := make([]string, 0, len(ls))
	for k := range ls {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	w.uvarint(uint64(len(ks)))
	for _, k := range ks {
		w.str(k)
		w.str(ls[k])
	}
}

// encodeSample is s as a row's data; meta names its values.
func encodeSample(s histSample, meta []*seriesMeta) []byte {
	var w sampleWriter
	w.WriteByte(1)
	n := 0
	for i, v := range s.vals {
		if i < len(meta) && !math.IsNaN(v) {
			n++
		}
	}
	w.uvarint(uint64(n))
	for i, v := range s.vals {
		if i >= len(meta) || math.IsNaN(v) {
			continue
		}
		m := meta[i]
		w.str(m.name)
		w.labels(m.labels)
		if m.counter {
			w.WriteByte(1)
		} else {
			w.WriteByte(0)
		}
		w.float(v)
	}
	keys := make([]string, 0, len(s.series))
	for k := range s.series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	w.uvarint(uint64(len(keys)))
	for _, k := range keys {
		hs := s.series[k]
		w.str(hs.name)
		w.labels(hs.labels)
		w.uvarint(uint64(len(hs.bounds)))
		for _, b := range hs.bounds {
			w.float(b)
		}
		prev := uint64(0)
		for _, c := range hs.cum {
			w.uvarint(c - min(prev, c))
			prev = c
		}
		w.float(hs.sum)
	}
	var out bytes.Buffer
	fw := deflaters.Get().(*flate.Writer)
	fw.Reset(&out)
	fw.Write(w.Bytes())
	fw.Close()
	deflaters.Put(fw)
	return out.Bytes()
}

// deflaters are the writers that deflate rows, reused: a new one
// allocates some 800 kB, more than the rest of a row's encoding, which a
// fine sample pays every 15 s. At BestSpeed: half the time of the default
// level for rows 5% larger (docs/dashboard.md).
var deflaters = sync.Pool{New: func() any {
	fw, _ := flate.NewWriter(nil, flate.BestSpeed)
	return fw
}}

var errSample = errors.New("malformed system sample")

type sampleReader struct{ *bytes.Reader }

func (r sampleReader) uvarint() (uint64, error) { return binary.ReadUvarint(r) }
func (r sampleReader) float() (float64, error) {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, err
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b[:])), nil
}
func (r sampleReader) count() (int, error) {
	n, err := r.uvarint()
	if err == nil && n > uint64(r.Len()) {
		err = errSample
	}
	return int(n), err
}
func (r sampleReader) str() (string, error) {
	n, err := r.count()
	if err != nil {
		return "", err
	}
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	return string(b), err
}

// skipSeries passes over a series' name and labels.
func (r sampleReader) skipSeries() error {
	skip := func() error {
		n, err := r.count()
		if err == nil {
			_, err = r.Seek(int64(n), io.SeekCurrent)
		}
		return err
	}
	if err := skip(); err != nil {
		return err
	}
	n, err := r.count()
	for ; err == nil && n > 0; n-- {
		if err = skip(); err == nil {
			err = skip()
		}
	}
	return err
}

func (r sampleReader) labels() (map[string]string, error) {
	n, err := r.count()
	if err != nil {
		return nil, err
	}
	ls := make(map[string]string, n)
	for range n {
		k, err := r.str()
		if err != nil {
			return nil, err
		}
		if ls[k], err = r.str(); err != nil {
			return nil, err
		}
	}
	return ls, nil
}

// decodeCache remembers, by their encoded name and labels, the series a
// restore has decoded: each row names them all again.
type decodeCache struct {
	vals  map[string]int         // meta index
	hists map[string]*histSeries // key, name, labels
}

// decodeSample reads a row's data as a sample at at, its values indexed
// by the ring's meta (a series new to the ring is added). known, when its
// maps are set, spares working out the same series' keys again.
func (h *histRing) decodeSample(at time.Time, data []byte, known decodeCache) (histSample, error) {
	raw, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(data)), 64<<20))
	if err != nil {
		return histSample{}, err
	}
	r := sampleReader{bytes.NewReader(raw)}
	if v, err := r.ReadByte(); err != nil || v != 1 {
		return histSample{}, fmt.Errorf("%w: version %d", errSample, v)
	}
	s := histSample{at: at, series: map[string]*histSeries{}}
	n, err := r.count()
	if err != nil {
		return s, err
	}
	pos := func() int { return len(raw) - r.Len() }
	for range n {
		// A series known by its bytes is not read again.
		from := pos()
		if err := r.skipSeries(); err != nil {
			return s, err
		}
		if _, err := r.ReadByte(); err != nil {
			return s, err
		}
		id := raw[from:pos()]
		i, ok := known.vals[string(id)]
		if !ok {
			r.Seek(int64(from), io.SeekStart)
			name, err := r.str()
			if err != nil {
				return s, err
			}
			ls, err := r.labels()
			if err != nil {
				return s, err
			}
			kind, err := r.ReadByte()
			if err != nil {
				return s, err
			}
			i = h.metaOf(name, ls, kind == 1)
			if known.vals != nil {
				known.vals[string(id)] = i
			}
		}
		v, err := r.float()
		if err != nil {
			return s, err
		}
		for len(s.vals) <= i {
			s.vals = append(s.vals, math.NaN())
		}
		s.vals[i] = v
	}
	if n, err = r.count(); err != nil {
		return s, err
	}
	for range n {
		hs := &histSeries{}
		from := pos()
		if err := r.skipSeries(); err != nil {
			return s, err
		}
		k := known.hists[string(raw[from:pos()])]
		if k != nil {
			hs.name, hs.labels = k.name, k.labels
		} else {
			r.Seek(int64(from), io.SeekStart)
			if hs.name, err = r.str(); err != nil {
				return s, err
			}
			if hs.labels, err = r.labels(); err != nil {
				return s, err
			}
		}
		id := string(raw[from:pos()])
		nb, err := r.count()
		if err != nil {
			return s, err
		}
		hs.bounds = make([]float64, nb)
		for i := range hs.bounds {
			if hs.bounds[i], err = r.float(); err != nil {
				return s, err
			}
		}
		hs.cum = make([]uint64, nb+1)
		prev := uint64(0)
		for i := range hs.cum {
			d, err := r.uvarint()
			if err != nil {
				return s, err
			}
			prev += d
			hs.cum[i] = prev
		}
		if hs.sum, err = r.float(); err != nil {
			return s, err
		}
		if k != nil {
			hs.key = k.key
		} else {
			hs.key = seriesKey(hs.name, hs.labels)
			if known.hists != nil {
				known.hists[id] = hs
			}
		}
		s.series[hs.key] = hs
	}
	return s, nil
}
