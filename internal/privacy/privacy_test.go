package privacy_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/privacy"
	"github.com/shopstream/shopstream/internal/shopgeo"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var key = []byte("0123456789abcdef0123456789abcdef")

func newDetector(t *testing.T) *detector.Detector {
	t.Helper()
	d, err := detector.New(detector.Config{State: shopgeo.Lookups(fraud.StateConfig{}), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The same stream scored with IP addresses as they come and hashed with a
// key gets the same risk, decision, reasons and features, record by
// record; and a state rebuilt from the stored (hashed) rows scores the
// rest of the stream the same too.
func TestHashedIPsScoreTheSame(t *testing.T) {
	g, err := generate.New(generate.Config{Seed: 7, Customers: 2000, FraudRate: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	f, err := privacy.New(privacy.Config{IPKey: key, CountryOfIP: shopgeo.Lookups(fraud.StateConfig{}).CountryOfIP,
		IsHostingIP: shopgeo.Lookups(fraud.StateConfig{}).IsHostingIP, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	plain, hashed := newDetector(t).NewPartitionScorer(0), newDetector(t).NewPartitionScorer(0)
	rebuilt := newDetector(t).NewPartitionScorer(0)
	v := f.View()
	const n, half = 20000, 10000
	var flagged, hashedIPs, ipReasons int
	for i := 0; i < n; i++ {
		rec := g.Next()
		var a event.Transaction
		if rec.Bad != "" || event.Decode(rec.Value, &a) != nil {
			continue
		}
		b := a
		raw := v.Transaction(&b, slices.Clone(rec.Value))
		if !event.IsHashedIP(b.IPAddress) || bytes.Contains(raw, []byte(`"`+a.IPAddress+`"`)) {
			t.Fatalf("record %d: IP %q stored as %q, raw %s", i, a.IPAddress, b.IPAddress, raw)
		}
		hashedIPs++
		ra := pipeline.NewTx(&a, 0, int64(i), rec.EventTime, rec.Value)
		rb := pipeline.NewTx(&b, 0, int64(i), rec.EventTime, raw)
		plain.Score(&a, &ra)
		hashed.Score(&b, &rb)
		if ra.Risk != rb.Risk || ra.Decision != rb.Decision || !bytes.Equal(ra.ReasonsJSON, rb.ReasonsJSON) || !slices.Equal(ra.Features, rb.Features) {
			t.Fatalf("record %d scored %v %s %s with the address, %v %s %s with its hash", i, ra.Risk, ra.Decision, ra.ReasonsJSON,
				rb.Risk, rb.Decision, rb.ReasonsJSON)
		}
		if ra.Decision != "approve" {
			flagged++
		}
		if ra.Features != nil && (ra.Features[fraud.IPBINMismatch] > 0 || ra.Features[fraud.HostingIP] > 0) {
			ipReasons++ // the geography kept beside the hash was used
		}
		if i < half {
			rebuilt.Replay(&rb) // as a new owner rebuilds it from the store
		} else {
			rc := pipeline.NewTx(&b, 0, int64(i), rec.EventTime, raw)
			bc := b
			rebuilt.Score(&bc, &rc)
			if rc.Risk != ra.Risk || rc.Decision != ra.Decision {
				t.Fatalf("record %d: %v %s from the rebuilt state, %v %s from the live one", i, rc.Risk, rc.Decision, ra.Risk, ra.Decision)
			}
		}
	}
	// The comparison means something only if the IP features mattered.
	if hashedIPs < n/2 || flagged == 0 || ipReasons == 0 {
		t.Fatalf("%d hashed, %d flagged, %d with IP geography features: the stream does not exercise the IP features", hashedIPs, flagged, ipReasons)
	}
}

func TestHashIP(t *testing.T) {
	f, _ := privacy.New(privacy.Config{IPKey: key})
	h := f.HashIP("10.1.2.3")
	if !event.IsHashedIP(h) || len(h) != 2+32 || f.HashIP("10.1.2.3") != h || f.HashIP("10.1.2.4") == h || f.HashIP(h) != h {
		t.Fatalf("HashIP = %q", h)
	}
	other, _ := privacy.New(privacy.Config{IPKey: []byte("another key of thirty-two bytes!")})
	if other.HashIP("10.1.2.3") == h {
		t.Fatal("two keys gave the same hash")
	}
	none, _ := privacy.New(privacy.Config{})
	if none.HashIP("10.1.2.3") != "10.1.2.3" {
		t.Fatal("without a key the address changed")
	}
	if _, err := privacy.New(privacy.Config{IPKey: []byte("short")}); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
}

// Records of an erased customer are pseudonymised on the way in, once the
// filter has read the erasure, quarantined ones too.
func TestErasedCustomersArePseudonymised(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tx := storetest.Tx("a1", "alice", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 100, 0, 0)
	if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 0, From: 0, To: 1, Txs: []store.Tx{tx}}}}); err != nil {
		t.Fatal(err)
	}
	f, err := privacy.New(privacy.Config{Erasures: st, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	e, err := st.EraseCustomer(ctx, "alice", "test")
	if err != nil {
		t.Fatal(err)
	}
	ev := event.Transaction{CustomerID: "alice", DeviceID: "d1", IPAddress: "10.0.0.9", Card: event.Card{BIN: "411111", Last4: "1111"}}
	raw := []byte(`{"customer_id":"alice","device_id":"d1","ip_address":"10.0.0.9"}`)
	if v := f.View(); v.ErasedUpTo() != 0 || string(v.Transaction(&ev, raw)) != string(raw) {
		t.Fatal("the filter knew the erasure before reading it")
	}
	if err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	v := f.View()
	ev = event.Transaction{CustomerID: "alice", DeviceID: "d1", IPAddress: "10.0.0.9", Card: event.Card{BIN: "411111", Last4: "1111"},
		ShippingAddress: "14 Mill Lane"}
	out := v.Transaction(&ev, raw)
	if v.ErasedUpTo() != e.ID || ev.CustomerID != e.Pseudonym || ev.DeviceID != "" || ev.IPAddress != "" || ev.Card != (event.Card{}) ||
		ev.ShippingAddress != "" ||
		bytes.Contains(out, []byte("alice")) || bytes.Contains(out, []byte("10.0.0.9")) {
		t.Fatalf("after the erasure: %+v, raw %s", ev, out)
	}
	q := v.Quarantined(&event.Transaction{CustomerID: "alice"}, []byte(`{"customer_id":"alice","total_amount":"x"}`))
	if bytes.Contains(q, []byte("alice")) {
		t.Fatalf("quarantined record after the erasure: %s", q)
	}
	bob := event.Transaction{CustomerID: "bob", IPAddress: "10.0.0.8"}
	if v.Transaction(&bob, []byte(`{}`)); bob.CustomerID != "bob" || bob.IPAddress != "10.0.0.8" {
		t.Fatalf("another customer changed: %+v", bob)
	}
}

// A key file too short is refused naming the file, never showing the key.
func TestReadKeyFile(t *testing.T) {
	dir := t.TempDir()
	short := dir + "/short.key"
	if err := os.WriteFile(short, []byte("s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := privacy.ReadKeyFile(short); err == nil || !strings.Contains(err.Error(), short) || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("short key: %v", err)
	}
	good := dir + "/good.key"
	if err := os.WriteFile(good, append(slices.Clone(key), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	if k, err := privacy.ReadKeyFile(good); err != nil || !bytes.Equal(k, key) {
		t.Fatalf("good key: %q, %v", k, err)
	}
}

// With a key, a quarantined record's address is hashed in place even when
// the record could not be decoded.
func TestQuarantinedIPHashed(t *testing.T) {
	f, _ := privacy.New(privacy.Config{IPKey: key})
	v := f.View()
	raw := []byte(`{"total_amount":NaN,"ip_address" : "120.144.158.214","device_id":"d"}`)
	out := v.Quarantined(&event.Transaction{}, raw)
	want := `{"total_amount":NaN,"ip_address" : "` + f.HashIP("120.144.158.214") + `","device_id":"d"}`
	if string(out) != want {
		t.Fatalf("quarantined = %s, want %s", out, want)
	}
	if string(raw) != `{"total_amount":NaN,"ip_address" : "120.144.158.214","device_id":"d"}` {
		t.Fatal("the record consumed was changed in place")
	}
}

// Whatever a quarantined record holds, no ip_address field is left
// unhashed.
func FuzzQuarantined(f *testing.F) {
	f.Add([]byte(`{"ip_address":"10.0.0.1","customer_id":"alice"}`), "alice", "10.0.0.1")
	f.Add([]byte(`{"ip_address" :"1.2.3.4", "ip_address":"5.6.7.8"}`), "", "")
	f.Add([]byte(`"ip_address":"\"`), "x", "")
	p, _ := privacy.New(privacy.Config{IPKey: key})
	v := p.View()
	f.Fuzz(func(t *testing.T, raw []byte, customer, ip string) {
		out := v.Quarantined(&event.Transaction{CustomerID: customer, IPAddress: ip}, raw)
		for _, m := range regexp.MustCompile(`"ip_address"\s*:\s*"([^"\\]*)"`).FindAllSubmatch(out, -1) {
			if len(m[1]) > 0 && !event.IsHashedIP(string(m[1])) {
				t.Fatalf("Quarantined(%q) = %q keeps address %q", raw, out, m[1])
			}
		}
	})
}
