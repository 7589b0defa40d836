package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/shopgeo"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

// syncBuffer is a log the server's goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// unreadableState is the SQLite store whose reads of the states the audit
// trail records (an alert, the models in use) fail as a database's would,
// while the changes themselves go through.
type unreadableState struct{ *sqlite.Store }

var errStateRead = errors.New(`pq: permission denied for table "alerts_secret_internal" (SQLSTATE 42501)`)

func (unreadableState) Alert(context.Context, string) (*store.AlertRecord, error) {
	return nil, errStateRead
}

func (unreadableState) FraudModelsInUse(context.Context) (*store.FraudModel, *store.FraudModel, error) {
	return nil, nil, errStateRead
}

// A state the audit trail cannot read is recorded as a marker naming the
// request, never as the database's error text, which goes to the log.
func TestAuditNeverHoldsDatabaseErrors(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fraudFixture(t, st)
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	srv, err := web.New(web.Config{Store: st, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	det, err := detector.New(detector.Config{State: shopgeo.Lookups(fraud.StateConfig{}), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterFraud(srv, web.FraudDeps{Store: unreadableState{st}, Detector: det})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	for path, body := range map[string]string{"/api/v1/alerts/f7/label": `{"label":"fraud"}`, "/api/v1/fraud/models/2/promote": ""} {
		resp, err := http.Post(ts.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 && path != "/api/v1/fraud/models/2/promote" {
			t.Fatalf("POST %s: %d", path, resp.StatusCode)
		}
	}
	es, err := st.AuditEntries(ctx, store.AuditFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range es {
		seen[e.Action] = true
		for _, state := range []json.RawMessage{e.Before, e.After} {
			if bytes.Contains(state, []byte("secret")) || bytes.Contains(state, []byte("pq:")) || bytes.Contains(state, []byte("SQLSTATE")) {
				t.Errorf("%s: the audit trail holds the database's error: %s", e.Action, state)
			}
		}
		var marker struct {
			Unreadable string `json:"unreadable"`
			RequestID  string `json:"request_id"`
		}
		if err := json.Unmarshal(e.Before, &marker); err != nil || marker.Unreadable == "" || marker.RequestID == "" {
			t.Errorf("%s: before %s, want the unreadable marker with the request ID", e.Action, e.Before)
			continue
		}
		// The log has the error under that request ID.
		found := false
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, "request_id="+marker.RequestID) && strings.Contains(line, "alerts_secret_internal") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no log line with request_id=%s and the error:\n%s", e.Action, marker.RequestID, logs.String())
		}
	}
	if !seen["alert.label"] || !seen["fraud_model.promote"] {
		t.Fatalf("audit entries %+v, want alert.label and fraud_model.promote", es)
	}
}
