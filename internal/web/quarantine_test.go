package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/importjob"
	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/replay"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

// source is an import's transactions, one at a time.
type source []event.Transaction

func (s *source) Next() (event.Transaction, error) {
	if len(*s) == 0 {
		return event.Transaction{}, io.EOF
	}
	t := (*s)[0]
	*s = (*s)[1:]
	return t, nil
}

func importOrder(id string, quantity int, at time.Time) event.Transaction {
	t := event.Transaction{SchemaVersion: event.SchemaVersion, TransactionID: id, CustomerID: "c-" + id, EventTime: at,
		Currency: "EUR", PaymentMethod: "card", Channel: "web", BillingCountry: "DE", ShippingCountry: "DE",
		Items: []event.Item{{ProductID: "p1", Category: "books", Quantity: quantity, UnitPriceCents: 250}}}
	t.TotalCents = t.ItemsCents()
	return t
}

// TestQuarantineAPI lists, reads and replays quarantined records through
// the API, over a real store: stream records written as the processor
// writes them, and an import's, replayed by internal/replay with relaxed
// checks.
func TestQuarantineAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	raw := []byte("{\"x\":\"\x1b[31mred\u202e\"}\xff\x00\\")
	err = st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{{Partition: 1, From: 0, To: 3,
		Quarantined: []store.Quarantined{
			{Reason: "malformed_json", Detail: "bad", Raw: raw, Partition: 1, Offset: 0},
			{Reason: "malformed_json", Detail: "bad", Raw: []byte("{"), Partition: 1, Offset: 1},
			{Reason: "out_of_range", Detail: "big", Raw: []byte("{}"), Partition: 1, Offset: 2},
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	job, err := importjob.New(importjob.Config{Store: st, Source: "orders.csv", Quality: contractOf(t, quality.Config{MaxQuantity: 2})})
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Run(ctx, &source{importOrder("o1", 5, at), importOrder("o2", 1, at)}); err != nil {
		t.Fatal(err)
	}

	srv, err := web.New(web.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	relaxed := replay.Config{Store: st, Quality: contractOf(t, quality.Config{MaxQuantity: 10})}
	web.RegisterQuarantine(srv, st, func(ctx context.Context, f store.QuarantineFilter, dry bool) (web.ReplayCounts, error) {
		r, err := replay.Replay(ctx, relaxed, f, dry)
		if errors.Is(err, replay.ErrNoBrokers) {
			err = fmt.Errorf("%w: %w", web.ErrReplayUnavailable, err)
		}
		return web.ReplayCounts{DryRun: r.DryRun, Stream: r.Stream, StreamByReason: r.StreamByReason, ImportReplayed: r.Import.Replayed,
			ImportStored: r.Import.Stored, ImportDuplicate: r.Import.Duplicate, ImportQuarantined: r.Import.Quarantined,
			ImportByReason: r.ImportByReason}, err
	})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)

	get := func(path string, want int, into any) {
		t.Helper()
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
		if into != nil {
			// A fresh value: fields the answer leaves out must read as absent.
			reflect.ValueOf(into).Elem().SetZero()
			if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
				t.Fatal(err)
			}
		}
	}
	var page web.QuarantinePage
	get("/api/v1/quarantine", http.StatusOK, &page)
	if len(page.Records) != 4 || page.NextCursor != "" || page.Records[0].Source != "import" || page.Records[0].Topic != "import:orders.csv" {
		t.Fatalf("list: %+v", page)
	}
	first := page.Records[3]
	if want := `{"x":"\x1b[31mred\u202e"}\xff\x00\\`; first.Raw != want {
		t.Fatalf("raw shown as %q, want %q", first.Raw, want)
	}
	if b, _ := base64.StdEncoding.DecodeString(first.RawBase64); !bytes.Equal(b, raw) {
		t.Fatalf("raw_base64 decodes to %q, want %q", b, raw)
	}

	// Pages of two by the cursor, and the filters.
	get("/api/v1/quarantine?limit=2", http.StatusOK, &page)
	ids := []int64{page.Records[0].ID, page.Records[1].ID}
	get("/api/v1/quarantine?limit=2&cursor="+page.NextCursor, http.StatusOK, &page)
	ids = append(ids, page.Records[0].ID, page.Records[1].ID)
	if ids[3] != first.ID || page.NextCursor == "" {
		t.Fatalf("paged ids %v (next %q), want the oldest %d last", ids, page.NextCursor, first.ID)
	}
	get("/api/v1/quarantine?cursor="+page.NextCursor, http.StatusOK, &page)
	if len(page.Records) != 0 || page.NextCursor != "" {
		t.Fatalf("after the last page: %+v", page)
	}
	get("/api/v1/quarantine?reason=malformed_json&partition=1&source=stream&since="+at.Format(time.RFC3339), http.StatusOK, &page)
	if len(page.Records) != 2 {
		t.Fatalf("filtered: %+v, want the 2 malformed", page)
	}
	for _, bad := range []string{"limit=0", "limit=x", "cursor=-1", "partition=-2", "since=yesterday", "state=odd", "source=ftp"} {
		get("/api/v1/quarantine?"+bad, http.StatusBadRequest, nil)
	}
	var one web.QuarantineJSON
	get(fmt.Sprintf("/api/v1/quarantine/%d", first.ID), http.StatusOK, &one)
	if !reflect.DeepEqual(one, first) {
		t.Fatalf("GET one: %+v, want %+v", one, first)
	}
	get("/api/v1/quarantine/99999", http.StatusNotFound, nil)
	get("/api/v1/quarantine/abc", http.StatusBadRequest, nil)

	post := func(contentType, body string, want int, into any) {
		t.Helper()
		resp, err := http.Post(ts.URL+"/api/v1/quarantine/replay", contentType, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("POST %s (%s): %d, want %d", body, contentType, resp.StatusCode, want)
		}
		if into != nil {
			if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
				t.Fatal(err)
			}
		}
	}
	post("text/plain", `{"all":true}`, http.StatusUnsupportedMediaType, nil)
	post("application/json", `{}`, http.StatusBadRequest, nil)
	post("application/json", `{"all":true,"colour":"red"}`, http.StatusBadRequest, nil)
	post("application/json", `{"all":true} {}`, http.StatusBadRequest, nil)
	// Stream records need Kafka, which this server has not.
	post("application/json", `{"all":true}`, http.StatusConflict, nil)

	var counts web.ReplayCounts
	post("application/json; charset=utf-8", `{"source":"import","dry_run":true}`, http.StatusOK, &counts)
	if !counts.DryRun || counts.ImportReplayed != 1 || counts.ImportStored != 0 || counts.ImportByReason["out_of_range"] != 1 {
		t.Fatalf("dry run: %+v", counts)
	}
	post("application/json", `{"source":"import"}`, http.StatusOK, &counts)
	if counts.ImportReplayed != 1 || counts.ImportStored != 1 {
		t.Fatalf("replay: %+v, want the imported record stored", counts)
	}
	post("application/json", `{"source":"import"}`, http.StatusOK, &counts)
	if counts.ImportReplayed != 0 || counts.ImportStored != 0 {
		t.Fatalf("second replay: %+v, want nothing", counts)
	}
	get(fmt.Sprintf("/api/v1/quarantine/%d", ids[0]), http.StatusOK, &one)
	if one.Replay == nil || one.Replay.Outcome != "stored" || one.Replay.Attempts != 1 {
		t.Fatalf("the replayed record: %+v", one)
	}
	sum, _ := st.Summary(ctx)
	if sum.TransactionsTotal != 2 {
		t.Fatalf("%d transactions stored, want 2", sum.TransactionsTotal)
	}
	// The audit trail says what each replay was asked for and what it
	// did; the refused one (409) is not there.
	var audit web.AuditResponse
	get("/api/v1/audit?action=quarantine.replay", http.StatusOK, &audit)
	var got []string
	for _, e := range audit.Entries {
		got = append(got, e.Target+" by "+e.Actor+": "+string(e.Before)+" -> "+string(e.After))
	}
	want := []string{
		`quarantine by local: {"source":"import"} -> {"replayed":0,"failed":0,"dry_run":false,"stream_produced":0,"stream_by_reason":{},"import_replayed":0,"import_stored":0,"import_duplicate":0,"import_quarantined":0,"import_by_reason":{}}`,
		`quarantine by local: {"source":"import"} -> {"replayed":1,"failed":0,"dry_run":false,"stream_produced":0,"stream_by_reason":{},"import_replayed":1,"import_stored":1,"import_duplicate":0,"import_quarantined":0,"import_by_reason":{}}`,
		`quarantine by local: {"source":"import","dry_run":true} -> {"replayed":1,"failed":0,"dry_run":true,"stream_produced":0,"stream_by_reason":{},"import_replayed":1,"import_stored":0,"import_duplicate":0,"import_quarantined":0,"import_by_reason":{"out_of_range":1}}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit trail of the replays:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A replay that stops on an error after replaying some records is
// audited as incomplete, with its counts and without the error's text; one
// that replayed nothing is not audited. Failures are the imported records
// quarantined again.
func TestReplayAudited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv, err := web.New(web.Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	answers := []struct {
		c   web.ReplayCounts
		err error
	}{
		{web.ReplayCounts{Stream: 3, ImportReplayed: 2, ImportQuarantined: 1}, nil},
		{web.ReplayCounts{Stream: 5}, errors.New("producing: pq: password authentication failed for user secret")},
		{web.ReplayCounts{}, errors.New("reading: pq: relation secret does not exist")},
	}
	web.RegisterQuarantine(srv, st, func(ctx context.Context, f store.QuarantineFilter, dry bool) (web.ReplayCounts, error) {
		a := answers[0]
		answers = answers[1:]
		return a.c, a.err
	})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	for i, want := range []int{http.StatusOK, http.StatusInternalServerError, http.StatusInternalServerError} {
		resp, err := http.Post(ts.URL+"/api/v1/quarantine/replay", "application/json", strings.NewReader(`{"reason":"malformed_json","partition":2}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("replay %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
	es, err := st.AuditEntries(ctx, store.AuditFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Action+": "+string(e.Before)+" -> "+string(e.After))
	}
	want := []string{
		`quarantine.replay: {"reason":"malformed_json","partition":2} -> {"replayed":5,"failed":0,"incomplete":true,"dry_run":false,"stream_produced":5,"stream_by_reason":null,"import_replayed":0,"import_stored":0,"import_duplicate":0,"import_quarantined":0,"import_by_reason":null}`,
		`quarantine.replay: {"reason":"malformed_json","partition":2} -> {"replayed":5,"failed":1,"dry_run":false,"stream_produced":3,"stream_by_reason":null,"import_replayed":2,"import_stored":0,"import_duplicate":0,"import_quarantined":1,"import_by_reason":null}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit trail:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// FuzzDecodeReplayRequest feeds the replay body decoder anything: it must
// not panic, and what it accepts selects something valid.
func FuzzDecodeReplayRequest(f *testing.F) {
	f.Add([]byte(`{"all":true}`))
	f.Add([]byte(`{"ids":[1,2,3],"dry_run":true}`))
	f.Add([]byte(`{"reason":"out_of_range","since":"2026-01-01T00:00:00Z","until":"2026-02-01T00:00:00Z","partition":-1,"source":"import"}`))
	f.Add([]byte(`{"ids":[0]}`))
	f.Add([]byte(`{"all":true}{"all":true}`))
	f.Add([]byte(`{"partition":2147483648}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		flt, _, err := web.DecodeReplayRequest(body)
		if err != nil {
			if !errors.Is(err, web.ErrBadRequest) {
				t.Fatalf("an error that is not a bad request: %v", err)
			}
			return
		}
		if len(flt.IDs) > 1000 || (flt.Partition != nil && *flt.Partition < -1) ||
			(flt.Source != "" && flt.Source != store.SourceStream && flt.Source != store.SourceImport) {
			t.Fatalf("accepted %q as %+v", body, flt)
		}
		for _, id := range flt.IDs {
			if id < 1 {
				t.Fatalf("accepted id %d in %q", id, body)
			}
		}
		if !flt.Since.IsZero() && !flt.Until.IsZero() && !flt.Since.Before(flt.Until) {
			t.Fatalf("accepted since %v not before until %v", flt.Since, flt.Until)
		}
	})
}

// contractOf is the default contract with c's thresholds.
func contractOf(t testing.TB, c quality.Config) *quality.Contract {
	t.Helper()
	q, err := c.Contract()
	if err != nil {
		t.Fatal(err)
	}
	return q
}
