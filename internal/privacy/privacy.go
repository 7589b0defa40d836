// Package privacy rewrites transactions on their way into the processor,
// before they reach a partition's state or the store: the records of
// erased customers get the pseudonym their erasure recorded and lose
// their device, IP address and card fields, so a replay (quarantine
// replay, a re-consumed topic, an import) cannot bring the data back; and,
// with a key, IP addresses are replaced by their HMAC-SHA256, their
// country and hosting flag kept beside them for the fraud features, so
// raw addresses never reach the store. docs/security.md says what is
// kept where.
package privacy

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store"
)

// Config configures a Filter.
type Config struct {
	// Erasures is where the erasures are read from. Defaults to nil: no
	// erasure list (the store still pseudonymises every batch it writes).
	Erasures store.Privacy
	// IPKey is the HMAC key IP addresses are hashed with. Defaults to
	// nil: addresses are stored as they come.
	IPKey []byte
	// CountryOfIP and IsHostingIP give a raw address's geography before
	// it is hashed (the fraud state's lookups). Default to none.
	CountryOfIP func(ip string) string
	IsHostingIP func(ip string) bool
	// Refresh is how often the erasure list is re-read. Defaults to 5 s.
	Refresh time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// MinKeyBytes is the shortest IP hash key accepted: 32 bytes, the
// output size of SHA-256.
const MinKeyBytes = 32

// ReadKeyFile reads an IP hash key from path: its bytes, less a trailing
// newline; at least MinKeyBytes. Errors name the file, never the key.
func ReadKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) < MinKeyBytes {
		return nil, fmt.Errorf("%s holds %d bytes; a hash key needs at least %d (e.g. head -c 32 /dev/urandom | base64 > %s)", path, len(b), MinKeyBytes, path)
	}
	return b, nil
}

// list is the erasure list as of erasure upTo: ErasureKey -> pseudonym.
type list struct {
	upTo int64
	m    map[string]string
}

// Filter is the processor's privacy step (pipeline.Privacy). Safe for
// concurrent use: each partition's goroutine uses the view of its batch.
type Filter struct {
	cfg  Config
	list atomic.Pointer[list]
	mu   sync.Mutex // one Sync at a time
	macs sync.Pool
}

// New returns a filter; call Sync before the first batch to start from
// the stored erasures.
func New(cfg Config) (*Filter, error) {
	if cfg.IPKey != nil && len(cfg.IPKey) < MinKeyBytes {
		return nil, fmt.Errorf("privacy: the IP hash key has %d bytes, want at least %d", len(cfg.IPKey), MinKeyBytes)
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	f := &Filter{cfg: cfg}
	f.list.Store(&list{m: map[string]string{}})
	key := cfg.IPKey
	f.macs.New = func() any { return hmac.New(sha256.New, key) }
	return f, nil
}

// HashIP returns ip's keyed hash (event.HashedIPPrefix and the first 16
// bytes of its HMAC-SHA256, hex), ip itself when there is no key or it is
// empty or hashed already.
func (f *Filter) HashIP(ip string) string {
	if f.cfg.IPKey == nil || ip == "" || event.IsHashedIP(ip) {
		return ip
	}
	m := f.macs.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(ip))
	var sum [sha256.Size]byte
	out := m.Sum(sum[:0])
	f.macs.Put(m)
	return event.HashedIPPrefix + hex.EncodeToString(out[:16])
}

// Sync reads the erasures recorded since the last Sync.
func (f *Filter) Sync(ctx context.Context) error {
	if f.cfg.Erasures == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cur := f.list.Load()
	var next *list
	for {
		after := cur.upTo
		if next != nil {
			after = next.upTo
		}
		es, err := f.cfg.Erasures.Erasures(ctx, after, 1000)
		if err != nil {
			return fmt.Errorf("reading the erasure list: %w", err)
		}
		if len(es) == 0 {
			break
		}
		if next == nil {
			next = &list{m: make(map[string]string, len(cur.m)+len(es))}
			for k, v := range cur.m {
				next.m[k] = v
			}
		}
		for _, e := range es {
			next.m[e.Key] = e.Pseudonym
		}
		next.upTo = es[len(es)-1].ID
	}
	if next != nil {
		f.list.Store(next)
		f.cfg.Logger.Info("erasure list updated", "component", "privacy", "erased_customers", len(next.m), "up_to", next.upTo)
	}
	return nil
}

// Run re-reads the erasure list every Refresh until ctx ends.
func (f *Filter) Run(ctx context.Context) error {
	if f.cfg.Erasures == nil {
		return nil
	}
	t := time.NewTicker(f.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := f.Sync(ctx); err != nil && !errors.Is(err, context.Canceled) {
				f.cfg.Logger.Warn("erasure list not refreshed; the store still pseudonymises what it writes", "component", "privacy", "err", err)
			}
		}
	}
}

// View implements pipeline.Privacy.
func (f *Filter) View() pipeline.PrivacyView { return view{f: f, l: f.list.Load()} }

type view struct {
	f *Filter
	l *list
}

func (v view) ErasedUpTo() int64 { return v.l.upTo }

// Transaction implements pipeline.PrivacyView.
func (v view) Transaction(t *event.Transaction, raw []byte) []byte {
	if len(v.l.m) > 0 {
		if ps, ok := v.l.m[store.ErasureKey(t.CustomerID)]; ok {
			raw, _ = store.ScrubJSON(raw, t.CustomerID, ps)
			t.CustomerID, t.DeviceID, t.IPAddress, t.Card, t.ShippingAddress = ps, "", "", event.Card{}, ""
			return raw
		}
	}
	if ip := t.IPAddress; v.f.HashTransactionIP(t) {
		raw = replaceString(raw, ip, t.IPAddress)
	}
	return raw
}

// HashTransactionIP replaces t's IP address by its keyed hash, as the
// processor's privacy step does, and sets t's IPCountry and IPHosting
// from the raw address first, so the fraud features of t are those the
// stream computes. It reports whether it changed t: not without a key,
// nor for an empty or already hashed address. POST /api/v1/score uses it
// (detector.Config.IPHasher) to score a posted transaction against the
// stored, hashed history.
func (f *Filter) HashTransactionIP(t *event.Transaction) bool {
	ip := t.IPAddress
	if f.cfg.IPKey == nil || ip == "" || event.IsHashedIP(ip) {
		return false
	}
	if f.cfg.CountryOfIP != nil {
		t.IPCountry = f.cfg.CountryOfIP(ip)
	}
	if f.cfg.IsHostingIP != nil {
		t.IPHosting = f.cfg.IsHostingIP(ip)
	}
	t.IPAddress = f.HashIP(ip)
	return true
}

// Quarantined implements pipeline.PrivacyView: t is the record as far
// as it was decoded.
func (v view) Quarantined(t *event.Transaction, raw []byte) []byte {
	if t.CustomerID != "" && len(v.l.m) > 0 {
		if ps, ok := v.l.m[store.ErasureKey(t.CustomerID)]; ok {
			raw, _ = store.ScrubJSON(raw, t.CustomerID, ps)
		}
	}
	if v.f.cfg.IPKey == nil {
		return raw
	}
	if ip := t.IPAddress; ip != "" && !event.IsHashedIP(ip) {
		raw = replaceString(raw, ip, v.f.HashIP(ip))
	}
	// A record too malformed to decode still names its address as a
	// field: that is hashed in place.
	return ipField.ReplaceAllFunc(raw, func(m []byte) []byte {
		sub := ipField.FindSubmatchIndex(m)
		ip := string(m[sub[2]:sub[3]])
		if ip == "" || event.IsHashedIP(ip) {
			return m
		}
		return append(append(slices.Clip(m[:sub[2]]), v.f.HashIP(ip)...), m[sub[3]:]...)
	})
}

// ipField finds the ip_address field of a record, decodable or not.
var ipField = regexp.MustCompile(`"ip_address"\s*:\s*"([^"\\]*)"`)

// replaceString replaces the JSON string s in raw by r.
func replaceString(raw []byte, s, r string) []byte {
	q := append(append([]byte{'"'}, s...), '"')
	if !bytes.Contains(raw, q) {
		return raw
	}
	return bytes.ReplaceAll(raw, q, append(append([]byte{'"'}, r...), '"'))
}
