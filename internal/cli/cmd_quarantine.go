package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/replay"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/web"
)

const quarantineUsage = `usage: shopstream quarantine <list|show|replay|purge> [flags]

  list    list quarantined records, newest first (filters, --cursor pages)
  show    show one record with its raw bytes: shopstream quarantine show ID [flags]
  replay  replay the open records selected through the pipeline (stream records
          to Kafka, needs --brokers; imported ones through the import's checks)
  purge   delete the records quarantined more than --older-than ago

Run 'shopstream quarantine <subcommand> -h' for its flags.`

func runQuarantine(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, quarantineUsage)
		if len(args) == 0 {
			return usageError{errors.New("quarantine: no subcommand given (list, show, replay or purge)")}
		}
		return nil
	}
	switch args[0] {
	case "list":
		return quarantineList(ctx, args[1:], stdout, stderr)
	case "show":
		return quarantineShow(ctx, args[1:], stdout, stderr)
	case "replay":
		return quarantineReplay(ctx, args[1:], stdout, stderr)
	case "purge":
		return quarantinePurge(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintln(stderr, quarantineUsage)
	return usageError{fmt.Errorf("quarantine: unknown subcommand %q (want list, show, replay or purge)", args[0])}
}

// quarantineFilterFlags are the filters list and replay share.
type quarantineFilterFlags struct {
	reason, since, until, partition, source string
}

func (f *quarantineFilterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.reason, "reason", "", "only records quarantined with this reason, e.g. out_of_range")
	fs.StringVar(&f.since, "since", "", "only records quarantined at or after this time: RFC 3339 (2026-03-01T12:00:00Z) or a duration ago (24h)")
	fs.StringVar(&f.until, "until", "", "only records quarantined before this time: RFC 3339 or a duration ago")
	fs.StringVar(&f.partition, "partition", "", "only records of this Kafka partition (-1: imported records)")
	fs.StringVar(&f.source, "source", "", "only records of this source: stream or import")
}

// filter turns the flags into a store filter, as of now.
func (f *quarantineFilterFlags) filter(now time.Time) (store.QuarantineFilter, error) {
	out := store.QuarantineFilter{Reason: f.reason, Source: f.source}
	var err error
	if out.Since, err = timeFlag("since", f.since, now); err != nil {
		return out, err
	}
	if out.Until, err = timeFlag("until", f.until, now); err != nil {
		return out, err
	}
	if !out.Since.IsZero() && !out.Until.IsZero() && !out.Since.Before(out.Until) {
		return out, usageError{fmt.Errorf("flag -since %s is not before flag -until %s", f.since, f.until)}
	}
	if f.partition != "" {
		p, err := strconv.ParseInt(f.partition, 10, 32)
		if err != nil || p < -1 {
			return out, usageError{fmt.Errorf("invalid value %q for flag -partition: want a partition number, or -1 for imported records", f.partition)}
		}
		p32 := int32(p)
		out.Partition = &p32
	}
	if f.source != "" && f.source != store.SourceStream && f.source != store.SourceImport {
		return out, usageError{fmt.Errorf("invalid value %q for flag -source: want stream or import", f.source)}
	}
	return out, nil
}

// timeFlag reads an RFC 3339 time or a duration before now.
func timeFlag(name, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usageError{fmt.Errorf("invalid value %q for flag -%s: want an RFC 3339 time (2026-03-01T12:00:00Z) or a duration ago (24h)", v, name)}
}

func quarantineList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("quarantine list", stderr)
	var sf storeFlags
	sf.register(fs)
	var ff quarantineFilterFlags
	ff.register(fs)
	state := fs.String("state", "", "only records in this replay state: "+strings.Join(store.QuarantineStates, ", ")+" (open: may still be replayed)")
	limit := fs.Int("limit", 50, "records per page, 1..1000")
	cursor := fs.Int64("cursor", 0, "the next page: the cursor the previous page printed")
	asJSON := fs.Bool("json", false, "print the page as JSON, as GET /api/v1/quarantine answers")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	f, err := ff.filter(time.Now())
	if err != nil {
		return err
	}
	switch {
	case *limit < 1 || *limit > 1000:
		return usageError{fmt.Errorf("invalid value %d for flag -limit: want 1..1000", *limit)}
	case *cursor < 0:
		return usageError{fmt.Errorf("invalid value %d for flag -cursor: want the cursor a page printed", *cursor)}
	case *state != "" && !slices.Contains(store.QuarantineStates, *state):
		return usageError{fmt.Errorf("invalid value %q for flag -state: want one of %s", *state, strings.Join(store.QuarantineStates, ", "))}
	}
	f.State, f.Limit, f.Before = *state, *limit, *cursor
	st, err := sf.openToRead(ctx, stderr) // reads only: beside a serve or run too
	if err != nil {
		return err
	}
	defer st.Close()
	rows, err := st.ListQuarantine(ctx, f)
	if err != nil {
		return err
	}
	page := web.QuarantinePage{Records: make([]web.QuarantineJSON, len(rows))}
	for i := range rows {
		page.Records[i] = web.QuarantineRow(&rows[i])
	}
	if len(rows) == f.Limit {
		page.NextCursor = strconv.FormatInt(rows[len(rows)-1].ID, 10)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(page)
	}
	if len(rows) == 0 {
		fmt.Fprintln(stdout, "no quarantined records match")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tQUARANTINED AT\tSOURCE\tPARTITION\tOFFSET\tREASON\tREPLAY\tDETAIL")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", r.ID, r.QuarantinedAt.Format(time.RFC3339), r.Source, r.Partition, r.Offset,
			r.Reason, replayState(&r), clip(web.EscapeRaw([]byte(r.Detail)), 80))
	}
	tw.Flush()
	if page.NextCursor != "" {
		fmt.Fprintf(stdout, "more: --cursor %s\n", page.NextCursor)
	}
	return nil
}

// replayState is a row's replay in a word: "-" before any, else the
// outcome, with the attempts when more than one.
func replayState(r *store.QuarantineRow) string {
	if r.ReplayOutcome == "" {
		return "-"
	}
	s := r.ReplayOutcome
	if r.ReplayOutcome == store.ReplayQuarantined && r.ReplayReason != "" {
		s += " (" + r.ReplayReason + ")"
	}
	if r.ReplayAttempts > 1 {
		s += fmt.Sprintf(" ×%d", r.ReplayAttempts)
	}
	return s
}

// clip shortens s to at most n runes.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func quarantineShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("quarantine show", stderr)
	var sf storeFlags
	sf.register(fs)
	asJSON := fs.Bool("json", false, "print the record as JSON, as GET /api/v1/quarantine/{id} answers")
	pos, err := parseFlagsArgs(fs, args)
	if err != nil {
		return err
	}
	var id string
	if len(pos) == 1 {
		id = pos[0]
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n < 1 || len(pos) != 1 {
		return usageError{fmt.Errorf("quarantine show: give the record's id (shopstream quarantine show ID [flags]), not %q", pos)}
	}
	st, err := sf.openToRead(ctx, stderr) // reads only: beside a serve or run too
	if err != nil {
		return err
	}
	defer st.Close()
	row, err := st.QuarantineRecord(ctx, n)
	if err != nil {
		return err
	}
	j := web.QuarantineRow(&row)
	if *asJSON {
		return json.NewEncoder(stdout).Encode(j)
	}
	fmt.Fprintf(stdout, "id              %d\n", row.ID)
	fmt.Fprintf(stdout, "quarantined at  %s\n", row.QuarantinedAt.Format(time.RFC3339Nano))
	fmt.Fprintf(stdout, "source          %s (topic %q, partition %d, offset %d)\n", row.Source, row.Topic, row.Partition, row.Offset)
	fmt.Fprintf(stdout, "reason          %s\n", row.Reason)
	fmt.Fprintf(stdout, "detail          %s\n", web.EscapeRaw([]byte(row.Detail)))
	if row.Expected != "" {
		fmt.Fprintf(stdout, "expected        %s (the generator's label)\n", row.Expected)
	}
	if j.Replay == nil {
		fmt.Fprintln(stdout, "replay          never replayed")
	} else {
		fmt.Fprintf(stdout, "replay          %s at %s, %d attempt(s)\n", j.Replay.Outcome, j.Replay.At.Format(time.RFC3339), j.Replay.Attempts)
		if j.Replay.Reason != "" {
			fmt.Fprintf(stdout, "  last failure  %s: %s\n", j.Replay.Reason, web.EscapeRaw([]byte(j.Replay.Detail)))
		}
	}
	fmt.Fprintf(stdout, "raw (%d bytes; control bytes and bytes that are not UTF-8 escaped, card numbers masked)\n%s\n", len(row.Raw), j.Raw)
	return nil
}

func quarantineReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("quarantine replay", stderr)
	var sf storeFlags
	sf.register(fs)
	var ff quarantineFilterFlags
	ff.register(fs)
	brokers := fs.String("brokers", "", "Kafka seed brokers, comma-separated host:port (needed when stream records are selected)")
	topic := fs.String("topic", bus.TopicTransactions, "topic the stream records are produced to")
	var ksf kafkaSecurityFlags
	ksf.register(fs)
	var ids multiFlag
	fs.Var(&ids, "id", "replay only these records (repeatable, or comma-separated ids)")
	all := fs.Bool("all", false, "replay every open record (without a filter or --id, replay refuses)")
	dry := fs.Bool("dry-run", false, "count what would be replayed; replay nothing")
	asJSON := fs.Bool("json", false, "print the counts as JSON")
	var lf logFlags
	lf.register(fs, "warn")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	f, err := ff.filter(time.Now())
	if err != nil {
		return err
	}
	for _, v := range ids {
		for _, s := range strings.Split(v, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil || n < 1 {
				return usageError{fmt.Errorf("invalid value %q for flag -id: want record ids", s)}
			}
			f.IDs = append(f.IDs, n)
		}
	}
	selects := len(f.IDs) > 0 || f.Reason != "" || !f.Since.IsZero() || !f.Until.IsZero() || f.Partition != nil || f.Source != ""
	if !selects && !*all {
		return usageError{errors.New("quarantine replay: name the records (--reason, --since, --until, --partition, --source, --id) or give --all")}
	}
	if len(f.IDs) > 1000 {
		return usageError{fmt.Errorf("flag -id: %d ids, at most 1000", len(f.IDs))}
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	conn, err := ksf.opts()
	if err != nil {
		return err
	}
	st, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := replay.Replay(ctx, replay.Config{Store: st, Brokers: bus.SplitBrokers(*brokers), ConnOpts: conn, Topic: *topic, Logger: logger}, f, *dry)
	// Recorded as the API's replay is, dry runs included; one that stopped
	// on an error only when it replayed something.
	if out := (replayOutcome{Replayed: res.Stream + res.Import.Replayed, Failed: res.Import.Quarantined, ReplayCounts: replayCounts(res)}); err == nil || out.Replayed > 0 {
		out.Incomplete = err != nil
		auditCLIChange(ctx, st, stderr, "quarantine.replay", "quarantine", replayAsked(f, *all, *dry), out)
	}
	if errors.Is(err, replay.ErrNoBrokers) {
		return usageError{fmt.Errorf("quarantine replay: %w; or replay only imported records with --source import", err)}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(replayCounts(res))
	}
	verb := "replayed"
	if *dry {
		verb = "would replay (dry run)"
	}
	fmt.Fprintf(stdout, "%s %d stream and %d imported records\n", verb, res.Stream, res.Import.Replayed)
	if res.Stream > 0 {
		if *dry {
			printReasonCounts(stdout, "stream", res.StreamByReason)
		} else {
			fmt.Fprintf(stdout, "  stream    %12s  produced to %s; the processor marks each record as it stores or quarantines it again\n", withThousands(res.Stream), *topic)
			fmt.Fprintln(stdout, "            (see shopstream quarantine list --state replayed)")
		}
	}
	if res.Import.Replayed > 0 {
		if *dry {
			printReasonCounts(stdout, "imported", res.ImportByReason)
		} else {
			fmt.Fprintf(stdout, "  imported  %12s  %s stored, %s duplicates, %s quarantined again\n", withThousands(res.Import.Replayed),
				withThousands(res.Import.Stored), withThousands(res.Import.Duplicate), withThousands(res.Import.Quarantined))
			if len(res.Import.QuarantinedBy) > 0 {
				printReasonCounts(stdout, "still failing", res.Import.QuarantinedBy)
			}
		}
	}
	return nil
}

// replayOutcome is what the audit trail records after quarantine replay
// (action quarantine.replay, what was asked as before), as the API's
// replay records it: the counts, and in sum the records replayed (produced
// to Kafka, and imported ones replayed) and failed (imported ones
// quarantined again; a stream record's outcome is known once the
// processor has read it again).
type replayOutcome struct {
	Replayed   int64 `json:"replayed"`
	Failed     int64 `json:"failed"`
	Incomplete bool  `json:"incomplete,omitempty"`
	web.ReplayCounts
}

// replayAsked is the selection of a replay as the audit trail records it:
// the filter's fields that were given (the times resolved), all and
// dry_run when set.
func replayAsked(f store.QuarantineFilter, all, dry bool) map[string]any {
	m := map[string]any{}
	if all {
		m["all"] = true
	}
	if dry {
		m["dry_run"] = true
	}
	if len(f.IDs) > 0 {
		m["ids"] = f.IDs
	}
	if f.Reason != "" {
		m["reason"] = f.Reason
	}
	if !f.Since.IsZero() {
		m["since"] = f.Since.UTC()
	}
	if !f.Until.IsZero() {
		m["until"] = f.Until.UTC()
	}
	if f.Partition != nil {
		m["partition"] = *f.Partition
	}
	if f.Source != "" {
		m["source"] = f.Source
	}
	return m
}

// replayCounts is the answer of the API (and replay --json).
func replayCounts(r replay.Result) web.ReplayCounts {
	by := r.ImportByReason
	if !r.DryRun {
		by = r.Import.QuarantinedBy
	}
	return web.ReplayCounts{DryRun: r.DryRun, Stream: r.Stream, StreamByReason: r.StreamByReason, ImportReplayed: r.Import.Replayed,
		ImportStored: r.Import.Stored, ImportDuplicate: r.Import.Duplicate, ImportQuarantined: r.Import.Quarantined, ImportByReason: by}
}

// quarantineReplayer is the API's replay: st's records, stream ones
// produced to brokers (none: the API refuses to replay those).
func quarantineReplayer(st store.Store, brokers []string, conn []kgo.Opt, topic string, logger *slog.Logger) web.ReplayFunc {
	return func(ctx context.Context, f store.QuarantineFilter, dry bool) (web.ReplayCounts, error) {
		res, err := replay.Replay(ctx, replay.Config{Store: st, Brokers: brokers, ConnOpts: conn, Topic: topic, Logger: logger}, f, dry)
		if errors.Is(err, replay.ErrNoBrokers) {
			err = fmt.Errorf("%w: %w (start serve with --brokers)", web.ErrReplayUnavailable, err)
		}
		return replayCounts(res), err
	}
}

func quarantinePurge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("quarantine purge", stderr)
	var sf storeFlags
	sf.register(fs)
	older := fs.Duration("older-than", 0, "delete the records quarantined more than this long ago, e.g. 720h (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *older <= 0 {
		return usageError{fmt.Errorf("flag -older-than is required and must be positive, e.g. --older-than 720h (or set %s)", EnvName("older-than"))}
	}
	st, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	cutoff := time.Now().Add(-*older)
	n, err := st.PurgeQuarantine(ctx, cutoff, 0)
	if err == nil || n > 0 {
		after := map[string]any{"purged": n}
		if err != nil {
			after["incomplete"] = true
		}
		auditCLIChange(ctx, st, stderr, "quarantine.purge", "quarantine",
			map[string]any{"older_than": older.String(), "before": cutoff.UTC()}, after)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "purged %s quarantined records from before %s\n", withThousands(n), cutoff.UTC().Format(time.RFC3339))
	return nil
}
