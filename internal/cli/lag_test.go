package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
	"github.com/shopstream/shopstream/internal/web"
)

// TestServeShowsTheProcessorsLag: serve runs no processor, but with
// --brokers its /readyz (which the System page reads) has the group's lag
// per partition: the topic's end offsets in Kafka against the offsets the
// group committed to the store, a partition with nothing stored lagging
// by all it holds; other groups' offsets do not count.
func TestServeShowsTheProcessorsLag(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, bus.TopicTransactions))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		p := int32(0)
		if i >= 7 {
			p = 1
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: bus.TopicTransactions, Partition: p, Value: []byte("{}")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	data := t.TempDir()
	st, err := sqlite.Open(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	// The group "procs" stored partition 0 up to offset 4; another group
	// stored both partitions to the end.
	write := func(group string, parts ...store.Part) {
		if err := st.WriteBatch(ctx, &store.Batch{Group: group, Topic: bus.TopicTransactions, Parts: parts}); err != nil {
			t.Fatal(err)
		}
	}
	tx := func(id string, off int64) store.Tx { return storetest.Tx(id, "c1", time.Now(), 100, 0, off) }
	write("procs", store.Part{Partition: 0, From: 0, To: 4, Txs: []store.Tx{tx("a", 0)}})
	write("other", store.Part{Partition: 0, From: 0, To: 7}, store.Part{Partition: 1, From: 0, To: 3})
	st.Close()

	urls := make(chan string, 1)
	stdout := &watchWriter{want: regexp.MustCompile(`dashboard on (http://127\.0\.0\.1:\d+)`)}
	stdout.found = func() { urls <- stdout.want.FindStringSubmatch(stdout.buf.String())[1] }
	stderr := &watchWriter{}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(rctx, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", data, "--brokers", strings.Join(c.ListenAddrs(), ","), "--group", "procs"}, stdout, stderr)
	}()
	var url string
	select {
	case url = <-urls:
	case err := <-done:
		t.Fatalf("serve ended: %v\n%s", err, stderr.String())
	}
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var rd struct {
		Ready  bool `json:"ready"`
		Detail struct {
			Lag        int64 `json:"lag"`
			Partitions []struct {
				Partition           int32
				Committed, End, Lag int64
			} `json:"partitions"`
			Error string `json:"error"`
		} `json:"detail"`
	}
	err = json.NewDecoder(resp.Body).Decode(&rd)
	resp.Body.Close()
	// The dashboard's System page: serve samples the store's size and
	// the lag, and has none of the pipeline's metrics.
	series, serr := http.Get(url + "/api/v1/metrics/series?name=shopstream_records_total&name=shopstream_store_size_bytes&name=dashboard:consumer_lag")
	var sr web.SeriesRange
	if serr == nil {
		serr = json.NewDecoder(series.Body).Decode(&sr)
		series.Body.Close()
	}
	cancel()
	if runErr := <-done; runErr != nil {
		t.Fatalf("serve: %v\n%s", runErr, stderr.String())
	}
	if err != nil || resp.StatusCode != http.StatusOK || !rd.Ready {
		t.Fatalf("/readyz: %d, %v, %+v", resp.StatusCode, err, rd)
	}
	if serr != nil || series.StatusCode != http.StatusOK || len(sr.Metrics) != 2 || sr.Metrics[0].Name != "shopstream_store_size_bytes" ||
		sr.Metrics[1].Name != "dashboard:consumer_lag" || len(sr.Unknown) != 1 || sr.Unknown[0] != "shopstream_records_total" {
		t.Errorf("serve's series: %v %+v, want the store's size and the lag, and the pipeline's records unknown", serr, sr)
	}
	d := rd.Detail
	if d.Error != "" || d.Lag != 3+3 || len(d.Partitions) != 2 ||
		d.Partitions[0].Partition != 0 || d.Partitions[0].Committed != 4 || d.Partitions[0].End != 7 || d.Partitions[0].Lag != 3 ||
		d.Partitions[1].Partition != 1 || d.Partitions[1].Committed != -1 || d.Partitions[1].End != 3 || d.Partitions[1].Lag != 3 {
		t.Fatalf("lag detail %+v; want partition 0 at 4 of 7 and partition 1 with nothing stored, 3 of 3: 6 in all", d)
	}
}
