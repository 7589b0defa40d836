package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shopstream/shopstream/internal/store"
)

// ReplayFunc replays the open quarantined records f selects (or counts
// them, with dryRun); the command line wires internal/replay behind it,
// which web may not import (it produces to Kafka).
type ReplayFunc func(ctx context.Context, f store.QuarantineFilter, dryRun bool) (ReplayCounts, error)

// ErrReplayUnavailable is a ReplayFunc's error when it cannot replay what
// is selected (stream records, and no Kafka brokers configured): 409.
var ErrReplayUnavailable = fmt.Errorf("%w: replay unavailable", ErrConflict)

// RegisterQuarantine adds the quarantine API (docs/quarantine.md):
//
//	GET  /api/v1/quarantine          quarantined records, newest first, filtered, a page at a time
//	GET  /api/v1/quarantine/{id}     one record
//	POST /api/v1/quarantine/replay   replay the open records a JSON body selects
//
// There is no authentication yet: serve the API only where everyone who
// reaches it may replay. replay may be nil: the POST answers 409 then.
func RegisterQuarantine(s *Server, st store.Quarantine, replay ReplayFunc) {
	h := &quarantineAPI{st: st, replay: replay}
	s.Handle("GET /api/v1/quarantine", http.HandlerFunc(h.list))
	s.Handle("GET /api/v1/quarantine/{id}", http.HandlerFunc(h.get))
	s.Handle("POST /api/v1/quarantine/replay", http.HandlerFunc(h.replayRecords))
}

type quarantineAPI struct {
	st     store.Quarantine
	replay ReplayFunc
}

// QuarantineJSON is a quarantined record in the API (and shopstream
// quarantine --json).
type QuarantineJSON struct {
	ID     int64  `json:"id"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
	// Raw is the record's bytes as safe text (EscapeRaw); RawBase64 is
	// them exactly.
	Raw           string    `json:"raw"`
	RawBase64     string    `json:"raw_base64"`
	Source        string    `json:"source"`
	Topic         string    `json:"topic"`
	Partition     int32     `json:"partition"`
	Offset        int64     `json:"offset"`
	Expected      string    `json:"expected,omitempty"`
	QuarantinedAt time.Time `json:"quarantined_at"`
	// Replay is absent until the record was replayed.
	Replay *ReplayJSON `json:"replay,omitempty"`
}

// ReplayJSON is the outcome of a record's last replay.
type ReplayJSON struct {
	// Outcome is stored, quarantined (failed again: Reason, Detail) or
	// duplicate.
	Outcome  string    `json:"outcome"`
	At       time.Time `json:"at"`
	Attempts int       `json:"attempts"`
	Reason   string    `json:"reason,omitempty"`
	Detail   string    `json:"detail,omitempty"`
}

// QuarantineRow converts a stored row to its JSON form.
func QuarantineRow(r *store.QuarantineRow) QuarantineJSON {
	out := QuarantineJSON{ID: r.ID, Reason: r.Reason, Detail: r.Detail, Raw: EscapeRaw(r.Raw), RawBase64: base64.StdEncoding.EncodeToString(r.Raw),
		Source: r.Source, Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Expected: r.Expected, QuarantinedAt: r.QuarantinedAt}
	if r.ReplayOutcome != "" && r.ReplayedAt != nil {
		out.Replay = &ReplayJSON{Outcome: r.ReplayOutcome, At: *r.ReplayedAt, Attempts: r.ReplayAttempts, Reason: r.ReplayReason, Detail: r.ReplayDetail}
	}
	return out
}

// QuarantinePage is the body of GET /api/v1/quarantine.
type QuarantinePage struct {
	Records []QuarantineJSON `json:"records"`
	// NextCursor, when present, is the cursor of the next page
	// (?cursor=...); absent on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// EscapeRaw shows bytes of unknown content safely as text: printable
// characters as they are, a backslash doubled, control and format
// characters (a terminal's escape sequences, bidirectional overrides) as Go
// escapes (\n, \x1b, \u202e), and bytes that are not UTF-8 as \xNN. It is
// written here rather than taken from strconv.Quote, which would also
// escape every quotation mark of the JSON most records are.
func EscapeRaw(b []byte) string {
	var out strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&out, `\x%02x`, b[0])
		case r == '\\':
			out.WriteString(`\\`)
		case unicode.IsPrint(r):
			out.WriteRune(r)
		default:
			q := strconv.QuoteRuneToASCII(r) // '\n', '\x1b', '\u202e'
			out.WriteString(q[1 : len(q)-1])
		}
		b = b[n:]
	}
	return out.String()
}

// quarantineFilter reads the list's filters from the query string.
func quarantineFilter(q url.Values) (store.QuarantineFilter, error) {
	get := q.Get
	f := store.QuarantineFilter{Reason: get("reason"), Source: get("source"), State: get("state"), Limit: 50}
	var err error
	if f.Since, err = queryTime(q, "since"); err != nil {
		return f, err
	}
	if f.Until, err = queryTime(q, "until"); err != nil {
		return f, err
	}
	if v := get("partition"); v != "" {
		p, err := strconv.ParseInt(v, 10, 32)
		if err != nil || p < -1 {
			return f, fmt.Errorf("%w: partition %q is not a partition number (-1 for imports)", ErrBadRequest, v)
		}
		p32 := int32(p)
		f.Partition = &p32
	}
	if f.Limit, f.Before, err = pageQuery(q, 50); err != nil {
		return f, err
	}
	return f, checkSelectors(f.Source, f.State)
}

func checkSelectors(source, state string) error {
	if source != "" && source != store.SourceStream && source != store.SourceImport {
		return fmt.Errorf("%w: source %q, want %s or %s", ErrBadRequest, source, store.SourceStream, store.SourceImport)
	}
	if state != "" && !slices.Contains(store.QuarantineStates, state) {
		return fmt.Errorf("%w: state %q, want one of %s", ErrBadRequest, state, strings.Join(store.QuarantineStates, ", "))
	}
	return nil
}

func (h *quarantineAPI) list(w http.ResponseWriter, r *http.Request) {
	f, err := quarantineFilter(r.URL.Query())
	if err != nil {
		WriteError(w, err)
		return
	}
	rows, err := h.st.ListQuarantine(r.Context(), f)
	if err != nil {
		WriteError(w, err)
		return
	}
	page := QuarantinePage{Records: make([]QuarantineJSON, len(rows))}
	for i := range rows {
		page.Records[i] = QuarantineRow(&rows[i])
	}
	if len(rows) == f.Limit {
		page.NextCursor = strconv.FormatInt(rows[len(rows)-1].ID, 10)
	}
	WriteJSON(w, http.StatusOK, page)
}

func (h *quarantineAPI) get(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		WriteError(w, fmt.Errorf("%w: %q is not a quarantined record's id", ErrBadRequest, r.PathValue("id")))
		return
	}
	row, err := h.st.QuarantineRecord(r.Context(), id)
	if errors.Is(err, store.ErrQuarantineNotFound) {
		err = fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if err != nil {
		WriteError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, QuarantineRow(&row))
}

// ReplayRequest is the body of POST /api/v1/quarantine/replay: the records
// to replay, by id or by filter (both narrow), or every open one with
// "all": true. Only open records are replayed (never replayed, or
// quarantined again by their last replay).
type ReplayRequest struct {
	IDs       []int64    `json:"ids,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	Since     *time.Time `json:"since,omitempty"`
	Until     *time.Time `json:"until,omitempty"`
	Partition *int32     `json:"partition,omitempty"`
	Source    string     `json:"source,omitempty"`
	All       bool       `json:"all,omitempty"`
	// DryRun counts what would be replayed, and replays nothing.
	DryRun bool `json:"dry_run,omitempty"`
}

// ReplayCounts is the answer to a replay: what was produced to Kafka (the
// processor marks those rows as it processes them) and what replaying the
// imported records stored, found duplicate or quarantined again. In a dry
// run, the records that would be.
type ReplayCounts struct {
	DryRun         bool             `json:"dry_run"`
	Stream         int64            `json:"stream_produced"`
	StreamByReason map[string]int64 `json:"stream_by_reason"`
	// Import* are the imported records: replayed (selected, in a dry run),
	// and of those stored, duplicate and quarantined again.
	ImportReplayed    int64            `json:"import_replayed"`
	ImportStored      int64            `json:"import_stored"`
	ImportDuplicate   int64            `json:"import_duplicate"`
	ImportQuarantined int64            `json:"import_quarantined"`
	ImportByReason    map[string]int64 `json:"import_by_reason"`
}

// Most ids one replay request may name.
const maxReplayIDs = 1000

// DecodeReplayRequest reads a replay request body: one JSON object, no
// unknown fields, nothing after it, at least one selector (ids, a filter,
// or "all"), and the filter's values valid.
func DecodeReplayRequest(body []byte) (store.QuarantineFilter, bool, error) {
	var req ReplayRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return store.QuarantineFilter{}, false, fmt.Errorf("%w: the body must be a replay request: %v", ErrBadRequest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return store.QuarantineFilter{}, false, fmt.Errorf("%w: the body must hold one JSON object and nothing after it", ErrBadRequest)
	}
	f := store.QuarantineFilter{IDs: req.IDs, Reason: req.Reason, Partition: req.Partition, Source: req.Source}
	if req.Since != nil {
		f.Since = *req.Since
	}
	if req.Until != nil {
		f.Until = *req.Until
	}
	selects := len(f.IDs) > 0 || f.Reason != "" || req.Since != nil || req.Until != nil || f.Partition != nil || f.Source != ""
	switch {
	case !selects && !req.All:
		return f, false, fmt.Errorf(`%w: name the records to replay ("ids", "reason", "since", "until", "partition", "source"), or send "all": true`, ErrBadRequest)
	case len(f.IDs) > maxReplayIDs:
		return f, false, fmt.Errorf("%w: ids: %d given, at most %d", ErrBadRequest, len(f.IDs), maxReplayIDs)
	case slices.ContainsFunc(f.IDs, func(id int64) bool { return id < 1 }):
		return f, false, fmt.Errorf("%w: ids: every id is a positive number", ErrBadRequest)
	case f.Partition != nil && *f.Partition < -1:
		return f, false, fmt.Errorf("%w: partition %d is not a partition (-1 for imports)", ErrBadRequest, *f.Partition)
	case !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until):
		return f, false, fmt.Errorf("%w: since %s is not before until %s", ErrBadRequest, f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339))
	}
	return f, req.DryRun, checkSelectors(f.Source, "")
}

func (h *quarantineAPI) replayRecords(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		WriteError(w, fmt.Errorf("%w: reading the body: %v", ErrBadRequest, err))
		return
	}
	f, dry, err := DecodeReplayRequest(body)
	if err != nil {
		WriteError(w, err)
		return
	}
	if h.replay == nil {
		WriteError(w, fmt.Errorf("%w: this server was started without a way to replay", ErrReplayUnavailable))
		return
	}
	res, err := h.replay(r.Context(), f, dry)
	if out := (ReplayOutcome{Replayed: res.Stream + res.ImportReplayed, Failed: res.ImportQuarantined, ReplayCounts: res}); err == nil || out.Replayed > 0 {
		// What was asked, as decoded (valid: DecodeReplayRequest took it).
		var asked ReplayRequest
		json.Unmarshal(body, &asked) //nolint:errcheck // decoded above
		out.Incomplete = err != nil
		Audit(r, "quarantine.replay", "quarantine", asked, out)
	}
	if err != nil {
		WriteError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, res)
}

// ReplayOutcome is what the audit trail records after a replay (action
// quarantine.replay, the request as before): the counts, and in sum the
// records replayed (produced to Kafka, and imported ones replayed) and
// failed (imported ones quarantined again; a stream record's outcome is
// known once the processor has read it again). A replay that stopped on
// an error is recorded when it replayed something, Incomplete, its error
// logged and answered but not recorded.
type ReplayOutcome struct {
	Replayed   int64 `json:"replayed"`
	Failed     int64 `json:"failed"`
	Incomplete bool  `json:"incomplete,omitempty"`
	ReplayCounts
}
