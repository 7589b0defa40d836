package bus

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// retentionBroker starts a broker whose retention runs only when the test
// calls ApplyRetention, with 100 records of 1 KiB in partition 0 of
// "transactions" (the first 30 two days old) and a client for it.
func retentionBroker(t *testing.T, cfg EmbeddedConfig) (*Embedded, *kadm.Client, *logBuffer) {
	t.Helper()
	var logs logBuffer
	cfg.Partitions, cfg.RetentionInterval = 2, time.Hour
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	e, err := StartEmbedded(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	old := time.Now().Add(-48 * time.Hour)
	for i := range 100 {
		r := &kgo.Record{Topic: TopicTransactions, Partition: 0, Value: bytes.Repeat([]byte{'x'}, 1024)}
		if i < 30 {
			r.Timestamp = old
		}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	return e, kadm.NewClient(cl), &logs
}

func commit(t *testing.T, adm *kadm.Client, group string, offset int64) {
	t.Helper()
	var o kadm.Offsets
	o.AddOffset(TopicTransactions, 0, offset, -1)
	o.AddOffset(TopicTransactions, 1, 0, -1)
	resp, err := adm.CommitOffsets(context.Background(), group, o)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("committing %s at %d: %v", group, offset, err)
	}
}

func logStart(t *testing.T, e *Embedded) int64 {
	t.Helper()
	return e.c.PartitionInfo(TopicTransactions, 0).LogStartOffset
}

func apply(t *testing.T, e *Embedded) []Deleted {
	t.Helper()
	d, err := e.ApplyRetention(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRetentionDefaultDeletesNothing: with no flags the standalone broker
// deletes nothing, read or not, however large or old.
func TestRetentionDefaultDeletesNothing(t *testing.T) {
	t.Parallel()
	e, adm, _ := retentionBroker(t, EmbeddedConfig{})
	commit(t, adm, "g", 100)
	if d := apply(t, e); len(d) != 0 || logStart(t, e) != 0 {
		t.Fatalf("deleted %v with no retention set", d)
	}
}

// TestRetentionKeepsUnread: a size cap deletes only what every group that
// committed on the topic has read, and nothing before any group committed.
func TestRetentionKeepsUnread(t *testing.T) {
	t.Parallel()
	e, adm, logs := retentionBroker(t, EmbeddedConfig{RetentionBytes: 20 << 10})
	if d := apply(t, e); len(d) != 0 {
		t.Fatalf("deleted %v while no group had read anything", d)
	}
	commit(t, adm, "fast", 90)
	commit(t, adm, "slow", 10)
	d := apply(t, e)
	if len(d) != 1 || d[0] != (Deleted{Topic: TopicTransactions, Partition: 0, From: 0, To: 10}) {
		t.Fatalf("deleted %v, want [0, 10) of partition 0: the slow group's position", d)
	}
	commit(t, adm, "slow", 60)
	d = apply(t, e)
	// The cap (20 KiB of about 100 KiB) alone would keep the last 20 or so.
	if len(d) != 1 || d[0].From != 10 || d[0].To != 60 || logStart(t, e) != 60 {
		t.Fatalf("deleted %v (log start %d), want [10, 60)", d, logStart(t, e))
	}
	if !strings.Contains(logs.String(), "msg=\"deleted records\" component=broker topic=transactions partition=0 from_offset=10 to_offset=60 records=50") {
		t.Fatalf("deletion not logged with topic, partition and offsets:\n%s", logs.String())
	}
}

// TestRetentionDeleteUnreadPerTopic: a topic whose own retention deletes
// unread records (alerts, dead letters: written by the pipeline, read by
// none of its groups) is trimmed although no group committed on it, while
// the other topics stay held at what their groups read.
func TestRetentionDeleteUnreadPerTopic(t *testing.T) {
	t.Parallel()
	e, _, _ := retentionBroker(t, EmbeddedConfig{RetentionBytes: 20 << 10,
		TopicRetention: map[string]Retention{TopicTransactions: {Time: 24 * time.Hour, DeleteUnread: true}}})
	if d := apply(t, e); len(d) != 1 || d[0] != (Deleted{Topic: TopicTransactions, Partition: 0, From: 0, To: 30}) {
		t.Fatalf("deleted %v with no group committed, want the 30 records older than a day", d)
	}
	// The same records on a topic with the broker-wide retention alone:
	// nothing goes until a group has read them.
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for range 50 {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: TopicLabels, Partition: 0, Value: bytes.Repeat([]byte{'y'}, 1024)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range apply(t, e) {
		if d.Topic == TopicLabels {
			t.Fatalf("deleted %v of a topic no group has read, without DeleteUnread", d)
		}
	}
}

// TestRetentionBySizeAndAge: a topic's own retention applies by size and
// by age, here with DeleteUnread so only the limits decide.
func TestRetentionBySizeAndAge(t *testing.T) {
	t.Parallel()
	e, _, _ := retentionBroker(t, EmbeddedConfig{DeleteUnread: true,
		TopicRetention: map[string]Retention{TopicTransactions: {Time: 24 * time.Hour}}})
	d := apply(t, e)
	if len(d) != 1 || d[0].From != 0 || d[0].To != 30 {
		t.Fatalf("deleted %v, want the 30 records older than a day", d)
	}
	e2, _, _ := retentionBroker(t, EmbeddedConfig{DeleteUnread: true, RetentionBytes: 50 << 10})
	apply(t, e2)
	info := e2.c.PartitionInfo(TopicTransactions, 0)
	if info.NumBytes > 50<<10 || info.LogStartOffset < 40 || info.LogStartOffset > 60 {
		t.Fatalf("after a 50 KiB cap: %d bytes from offset %d", info.NumBytes, info.LogStartOffset)
	}
}

func TestParseTopicRetention(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		name string
		want Retention
		bad  bool
	}{
		{in: "alerts=1048576:72h", name: "alerts", want: Retention{Bytes: 1 << 20, Time: 72 * time.Hour}},
		{in: "transactions.dlq=:168h", name: "transactions.dlq", want: Retention{Time: 168 * time.Hour}},
		{in: "transactions=0:0", name: "transactions"},
		{in: "transactions=1000:", name: "transactions", want: Retention{Bytes: 1000}},
		{in: "transactions", bad: true},
		{in: "=1:1h", bad: true},
		{in: "t=1h", bad: true},
		{in: "t=-1:", bad: true},
		{in: "t=1:soon", bad: true},
	} {
		name, r, err := ParseTopicRetention(tc.in)
		if (err != nil) != tc.bad || name != tc.name || r != tc.want {
			t.Errorf("ParseTopicRetention(%q) = %q, %+v, %v", tc.in, name, r, err)
		}
	}
}

// TestRetentionFreesDiskBySegment: with a data directory, retention frees
// disk only by removing whole segment files below the log start, so small
// segments let a size cap keep the directory near the cap; with kfake's
// default 100 MiB segment the 100 KiB log stays whole on disk.
func TestRetentionFreesDiskBySegment(t *testing.T) {
	t.Parallel()
	onDisk := func(segment int64) int64 {
		dir := t.TempDir()
		e, _, _ := retentionBroker(t, EmbeddedConfig{DataDir: dir, DeleteUnread: true, RetentionBytes: 20 << 10, SegmentBytes: segment})
		apply(t, e)
		files, err := filepath.Glob(filepath.Join(dir, "partitions", TopicTransactions+"-0", "*.dat"))
		if err != nil || len(files) == 0 {
			t.Fatalf("segment files: %v, %v", files, err)
		}
		var n int64
		for _, f := range files {
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			n += fi.Size()
		}
		return n
	}
	if n := onDisk(0); n < 100<<10 {
		t.Fatalf("default segments: %d bytes on disk, want the whole 100 KiB log (nothing removable)", n)
	}
	if n := onDisk(8 << 10); n > 40<<10 {
		t.Fatalf("8 KiB segments: %d bytes on disk after a 20 KiB cap, want at most 40 KiB", n)
	}
}
