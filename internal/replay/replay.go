// Package replay hands quarantined records back to the path they failed on,
// once their cause is fixed (a new contract, a new schema version): records
// the stream processor quarantined are produced again to the transactions
// topic with the pipeline.HeaderReplayOf header naming their quarantine
// row, so they go through the whole pipeline (checks, dedup, fraud score)
// and the processor marks the row in the batch's transaction; records of
// an import, which never went through Kafka, are checked and stored again
// by importjob.Replay. Both the command line (shopstream quarantine replay)
// and the API (POST /api/v1/quarantine/replay) use it.
//
// Only rows a replay may still change are replayed (store.StateOpen): a
// row stored or found a duplicate by an earlier replay is final, so
// replaying twice changes nothing the second time. See store.Quarantine
// for the outcomes and docs/quarantine.md for the rules.
package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/importjob"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/store"
)

// Config configures Replay.
type Config struct {
	// Store holds the quarantine. Required.
	Store store.Store
	// Brokers are the Kafka seed brokers stream records are produced to.
	// Required when the filter selects any: defaults to none.
	Brokers []string
	// ConnOpts are how the producer reaches the brokers: TLS and SASL
	// (bus.Security.Opts). Defaults to none: plaintext.
	ConnOpts []kgo.Opt
	// Topic receives the stream records. Defaults to "transactions".
	Topic string
	// Quality is the data-quality contract imported records are checked
	// against again. Defaults to the default contract.
	Quality *quality.Contract
	// Batch is how many rows are read (and, for imports, stored) at once.
	// Defaults to 500.
	Batch int
	// Now is the clock of the imported records' checks. Defaults to
	// time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// ErrNoBrokers is Replay's error when stream records are selected but no
// brokers were given; nothing is replayed then.
var ErrNoBrokers = errors.New("stream records are selected but no Kafka brokers were given (--brokers)")

// Result counts what a replay did (or, in a dry run, would do).
type Result struct {
	DryRun bool `json:"dry_run"`
	// Stream is how many stream records were produced to the topic (in a
	// dry run: selected), by the reason they were quarantined with. The
	// processor marks their rows as it processes them.
	Stream         int64            `json:"stream"`
	StreamByReason map[string]int64 `json:"stream_by_reason"`
	// Import is what replaying the imported records stored, found
	// duplicate or quarantined again; in a dry run, Import.Replayed is how
	// many are selected, by reason in ImportByReason.
	Import         importjob.ReplayResult `json:"import"`
	ImportByReason map[string]int64       `json:"import_by_reason"`
}

// Replay replays the open rows f selects (f.State, f.Before and f.Limit
// are overridden; f.Source and f.IDs narrow it). With dryRun nothing is
// produced or stored: the rows that would be are counted.
func Replay(ctx context.Context, cfg Config, f store.QuarantineFilter, dryRun bool) (Result, error) {
	if cfg.Store == nil {
		return Result{}, errors.New("replay: no store given")
	}
	if cfg.Topic == "" {
		cfg.Topic = bus.TopicTransactions
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	f.State, f.Before, f.Limit = store.StateOpen, 0, 0
	res := Result{DryRun: dryRun, StreamByReason: map[string]int64{}, ImportByReason: map[string]int64{},
		Import: importjob.ReplayResult{QuarantinedBy: map[string]int64{}}}
	stream, imports := f, f
	stream.Source, imports.Source = store.SourceStream, store.SourceImport
	wantStream := f.Source == "" || f.Source == store.SourceStream
	wantImport := f.Source == "" || f.Source == store.SourceImport
	if !wantStream && !wantImport {
		return res, fmt.Errorf("unknown source %q (want %s or %s)", f.Source, store.SourceStream, store.SourceImport)
	}
	if dryRun {
		var err error
		if wantStream {
			if res.Stream, err = countByReason(ctx, cfg.Store, stream, res.StreamByReason); err != nil {
				return res, err
			}
		}
		if wantImport {
			res.Import.Replayed, err = countByReason(ctx, cfg.Store, imports, res.ImportByReason)
		}
		return res, err
	}
	if wantStream {
		ids, err := openIDs(ctx, cfg.Store, stream, cfg.Batch)
		if err != nil {
			return res, err
		}
		if len(ids) > 0 {
			if len(cfg.Brokers) == 0 {
				return res, fmt.Errorf("%d %w", len(ids), ErrNoBrokers)
			}
			if err := produce(ctx, cfg, ids, &res); err != nil {
				return res, err
			}
		}
	}
	if wantImport {
		r, err := importjob.Replay(ctx, cfg.Store, cfg.Quality, cfg.Now(), imports, cfg.Batch)
		res.Import = r
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// countByReason counts the rows f selects into by and returns the total.
func countByReason(ctx context.Context, st store.Store, f store.QuarantineFilter, by map[string]int64) (int64, error) {
	counts, err := st.QuarantineCounts(ctx, f)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, c := range counts {
		by[c.Reason] += c.Count
		n += c.Count
	}
	return n, nil
}

// openIDs lists the IDs of the rows f selects, oldest first.
func openIDs(ctx context.Context, st store.Store, f store.QuarantineFilter, batch int) ([]int64, error) {
	var ids []int64
	f.Limit = batch
	for {
		rows, err := st.ListQuarantine(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		if len(rows) < batch {
			slices.Reverse(ids)
			return ids, nil
		}
		f.Before = rows[len(rows)-1].ID
	}
}

// produce produces the stream rows ids, oldest first (so a customer's
// records keep their order), a batch at a time, each keyed by its customer
// (the partition that owns the customer's state sees it) and carrying the
// replay header.
func produce(ctx context.Context, cfg Config, ids []int64, res *Result) error {
	cl, err := kgo.NewClient(append(append(bus.ClientOpts(cfg.Brokers, cfg.Logger), cfg.ConnOpts...), kgo.ProducerLinger(5*time.Millisecond))...)
	if err != nil {
		return fmt.Errorf("creating Kafka producer: %w", err)
	}
	defer cl.Close()
	for lo := 0; lo < len(ids); lo += cfg.Batch {
		chunk := ids[lo:min(lo+cfg.Batch, len(ids))]
		rows, err := cfg.Store.ListQuarantine(ctx, store.QuarantineFilter{IDs: chunk, Source: store.SourceStream, State: store.StateOpen, Limit: len(chunk)})
		if err != nil {
			return err
		}
		slices.Reverse(rows) // oldest first
		recs := make([]*kgo.Record, len(rows))
		for i := range rows {
			recs[i] = Record(cfg.Topic, &rows[i])
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("producing %d replayed records to %s (after %d): %w", len(recs), cfg.Topic, res.Stream, err)
		}
		res.Stream += int64(len(rows))
		for _, r := range rows {
			res.StreamByReason[r.Reason]++
		}
	}
	cfg.Logger.Info("quarantined records produced again", "topic", cfg.Topic, "records", res.Stream)
	return nil
}

// Record is the Kafka record that replays row: its raw bytes, keyed by the
// customer they name (none when they name none), with the replay header.
func Record(topic string, row *store.QuarantineRow) *kgo.Record {
	return &kgo.Record{Topic: topic, Key: customerKey(row.Raw), Value: row.Raw,
		Headers: []kgo.RecordHeader{{Key: pipeline.HeaderReplayOf, Value: strconv.AppendInt(nil, row.ID, 10)}}}
}

// customerKey returns the customer_id of a record as its key, as the
// generator keys records, or nil when the record names none (it is not
// JSON, say): such a record is quarantined again on whatever partition.
func customerKey(raw []byte) []byte {
	var v struct {
		CustomerID json.RawMessage `json:"customer_id"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	var id string
	if json.Unmarshal(v.CustomerID, &id) != nil || id == "" {
		return nil
	}
	return []byte(id)
}
