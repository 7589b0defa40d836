package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

func quarantineCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := runQuarantine(context.Background(), args, &stdout, &stderr)
	return stdout.String(), err
}

// The import's two quarantined records and a stream record with control
// bytes, through list, show, replay and purge.
func TestQuarantineCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	importJSON(t, "--csv", importCSV, "--data-dir", dir)
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	err = st.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{{Partition: 3, From: 0, To: 1,
		Quarantined: []store.Quarantined{{Reason: "invalid_text", Detail: "bad\nbytes", Raw: []byte("\x1b]0;owned\x07\xfe"), Partition: 3, Offset: 0}}}}})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}

	out, err := quarantineCmd(t, "list", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "out_of_range") || !strings.Contains(out, "unknown_country") || !strings.Contains(out, `bad\nbytes`) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = quarantineCmd(t, "list", "--data-dir", dir, "--json", "--limit", "2")
	var page web.QuarantinePage
	if err != nil || json.Unmarshal([]byte(out), &page) != nil || len(page.Records) != 2 || page.NextCursor == "" {
		t.Fatalf("list --json --limit 2: %v\n%s", err, out)
	}
	stream := page.Records[0]
	if stream.Source != "stream" || stream.Raw != `\x1b]0;owned\a\xfe` {
		t.Fatalf("the stream record: %+v", stream)
	}
	out, _ = quarantineCmd(t, "list", "--data-dir", dir, "--json", "--limit", "2", "--cursor", page.NextCursor)
	if json.Unmarshal([]byte(out), &page) != nil || len(page.Records) != 1 {
		t.Fatalf("second page: %s", out)
	}
	out, _ = quarantineCmd(t, "list", "--data-dir", dir, "--json", "--reason", "out_of_range", "--partition", "-1", "--since", "1h", "--state", "open")
	if json.Unmarshal([]byte(out), &page) != nil || len(page.Records) != 1 || page.Records[0].Reason != "out_of_range" {
		t.Fatalf("filtered: %s", out)
	}
	imported := page.Records[0].ID

	out, err = quarantineCmd(t, "show", "--data-dir", dir, strconv.FormatInt(stream.ID, 10))
	if err != nil || !strings.Contains(out, `\x1b]0;owned\a\xfe`) || strings.Contains(out, "\x1b") || !strings.Contains(out, "never replayed") {
		t.Fatalf("show: %v\n%q", err, out)
	}

	// Stream records need --brokers; imported ones are replayed here. The
	// checks are the same, so they fail again, and say why.
	if _, err := quarantineCmd(t, "replay", "--data-dir", dir, "--all"); err == nil || !IsUsage(err) || !strings.Contains(err.Error(), "--brokers") {
		t.Fatalf("replay --all without brokers: %v", err)
	}
	out, err = quarantineCmd(t, "replay", "--data-dir", dir, "--source", "import", "--dry-run", "--json")
	var counts web.ReplayCounts
	if err != nil || json.Unmarshal([]byte(out), &counts) != nil || !counts.DryRun || counts.ImportReplayed != 2 || counts.Stream != 0 {
		t.Fatalf("replay --dry-run: %v\n%s", err, out)
	}
	out, err = quarantineCmd(t, "replay", "--data-dir", dir, "--id", strconv.FormatInt(imported, 10))
	if err != nil || !strings.Contains(out, "replayed 0 stream and 1 imported records") || !strings.Contains(out, "0 stored, 0 duplicates, 1 quarantined again") {
		t.Fatalf("replay --id: %v\n%s", err, out)
	}
	out, _ = quarantineCmd(t, "show", "--data-dir", dir, "--json", strconv.FormatInt(imported, 10))
	var rec web.QuarantineJSON
	if json.Unmarshal([]byte(out), &rec) != nil || rec.Replay == nil || rec.Replay.Outcome != "quarantined" || rec.Replay.Attempts != 1 || rec.Replay.Reason != "out_of_range" {
		t.Fatalf("show --json after the replay: %s", out)
	}

	for _, bad := range [][]string{
		{"replay", "--data-dir", dir},
		{"list", "--data-dir", dir, "--since", "yesterday"},
		{"list", "--data-dir", dir, "--state", "odd"},
		{"list", "--data-dir", dir, "--partition", "x"},
		{"show", "--data-dir", dir},
		{"purge", "--data-dir", dir},
		{"purge", "--data-dir", dir, "--older-than", "-1h"},
		{"frobnicate"},
	} {
		if _, err := quarantineCmd(t, bad...); !IsUsage(err) {
			t.Errorf("quarantine %v: %v, want a usage error", bad, err)
		}
	}
	if _, err := quarantineCmd(t, "show", "--data-dir", dir, "99999"); err == nil {
		t.Error("show of an unknown id succeeded")
	}
	out, err = quarantineCmd(t, "purge", "--data-dir", dir, "--older-than", "720h")
	if err != nil || !strings.HasPrefix(out, "purged 0 ") {
		t.Fatalf("purge --older-than 720h: %v\n%s", err, out)
	}
	out, err = quarantineCmd(t, "purge", "--data-dir", dir, "--older-than", "1ns")
	if err != nil || !strings.HasPrefix(out, "purged 3 ") {
		t.Fatalf("purge --older-than 1ns: %v\n%s", err, out)
	}

	// The dry run, the replay and both purges are in the audit trail, by
	// the CLI, with what was asked and the counts.
	st, err = sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	es, err := st.AuditEntries(context.Background(), store.AuditFilter{Target: "quarantine"})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 4 || es[3].Action != "quarantine.replay" || es[2].Action != "quarantine.replay" || es[1].Action != "quarantine.purge" ||
		es[0].Action != "quarantine.purge" {
		t.Fatalf("audit trail %+v; want the dry run, the replay and two purges", es)
	}
	if !strings.Contains(string(es[3].Before), `"dry_run":true`) || !strings.Contains(string(es[3].Before), `"source":"import"`) ||
		!strings.Contains(string(es[3].After), `"import_replayed":2`) {
		t.Errorf("dry run recorded before %s, after %s", es[3].Before, es[3].After)
	}
	for _, e := range es {
		if !strings.HasPrefix(e.Actor, "cli") {
			t.Errorf("%s recorded by %q, want the cli", e.Action, e.Actor)
		}
	}
	var asked struct {
		IDs []int64 `json:"ids"`
	}
	var done struct {
		Replayed, Failed int64
		Import           int64 `json:"import_replayed"`
	}
	if json.Unmarshal(es[2].Before, &asked) != nil || len(asked.IDs) != 1 || asked.IDs[0] != imported ||
		json.Unmarshal(es[2].After, &done) != nil || done.Replayed != 1 || done.Failed != 1 || done.Import != 1 {
		t.Errorf("replay recorded before %s, after %s; want the id asked and 1 imported record replayed and failed", es[2].Before, es[2].After)
	}
	var purged struct {
		OlderThan string `json:"older_than"`
		Purged    *int64 `json:"purged"`
	}
	if json.Unmarshal(es[0].Before, &purged) != nil || purged.OlderThan != "1ns" || json.Unmarshal(es[0].After, &purged) != nil ||
		purged.Purged == nil || *purged.Purged != 3 {
		t.Errorf("purge recorded before %s, after %s; want older_than 1ns and 3 purged", es[0].Before, es[0].After)
	}
}
