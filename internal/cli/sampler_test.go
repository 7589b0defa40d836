package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

// TestProcessWithoutAddrSavesSamples: a process started without --addr
// serves nothing, yet saves the samples of its metrics under its
// --instance-id (its first sample folds into both coarse tiers at once,
// and every sample is saved in the fine tier, one each 15 s); serve, on
// the same store afterwards, lists the instance and answers its series
// from them: the pipeline's metrics are known there, from the store, where
// serve's own samples have none, and the newest point of the last 15
// minutes is the process's newest sample, 15 s or more after its first,
// at the fine samples' resolution.
func TestProcessWithoutAddrSavesSamples(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, bus.TopicTransactions))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	data := t.TempDir()
	// The database made and migrated before process starts: the test's
	// own store, opened below while process runs, must not race process's
	// creation of the file (process then failed with SQLITE_BUSY
	// "creating schema_migrations").
	pre, err := sqlite.Open(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	pre.Close()
	stderr := &watchWriter{}
	pctx, stopProcess := context.WithCancel(ctx)
	defer stopProcess()
	done := make(chan error, 1)
	go func() {
		done <- Run(pctx, []string{"process", "--brokers", strings.Join(c.ListenAddrs(), ","), "--data-dir", data, "--instance-id", "proc-a",
			"--analytics-interval", "0", "--log-level", "warn"}, &watchWriter{}, stderr)
	}()
	var st *sqlite.Store
	deadline := time.Now().Add(time.Minute)
	for saved := false; !saved; {
		select {
		case err := <-done:
			t.Fatalf("process ended: %v\n%s", err, stderr.String())
		default:
		}
		if st == nil {
			st, _ = sqlite.Open(ctx, data, store.WithSchema(store.SchemaRequire)) // changing nothing process writes
		}
		if st != nil {
			rows, err := st.SystemSamples(ctx, "proc-a", 15, time.Time{})
			saved = err == nil && len(rows) >= 2
		}
		if !saved && time.Now().After(deadline) {
			t.Fatalf("process saved no samples in a minute\n%s", stderr.String())
		}
		if !saved {
			time.Sleep(50 * time.Millisecond) // polling another process's writes
		}
	}
	stopProcess()
	if err := <-done; err != nil {
		t.Fatalf("process: %v\n%s", err, stderr.String())
	}
	fine, err := st.SystemSamples(ctx, "proc-a", 15, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	newest := fine[len(fine)-1].At

	urls := make(chan string, 1)
	stdout := &watchWriter{want: regexp.MustCompile(`dashboard on (http://127\.0\.0\.1:\d+)`)}
	stdout.found = func() { urls <- stdout.want.FindStringSubmatch(stdout.buf.String())[1] }
	sctx, stopServe := context.WithCancel(ctx)
	defer stopServe()
	go func() {
		done <- Run(sctx, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", data, "--recommend-rebuild-interval", "0"}, stdout, stderr)
	}()
	var url string
	select {
	case url = <-urls:
	case err := <-done:
		t.Fatalf("serve ended: %v\n%s", err, stderr.String())
	}
	get := func(path string, v any) int {
		t.Helper()
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return resp.StatusCode
	}
	var insts web.SampleInstances
	code := get("/api/v1/metrics/instances", &insts)
	var own, theirs web.SeriesRange
	ownCode := get("/api/v1/metrics/series?name=shopstream_records_total&name=shopstream_store_size_bytes", &own)
	theirCode := get("/api/v1/metrics/series?name=shopstream_records_total&name=shopstream_batch_records&instance=proc-a", &theirs)
	var recent web.SeriesRange
	recentCode := get(fmt.Sprintf("/api/v1/metrics/series?name=shopstream_records_total&instance=proc-a&since=%d", time.Now().Add(-15*time.Minute).Unix()), &recent)
	stopServe()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, stderr.String())
	}
	if code != http.StatusOK || insts.Server.Instance != nil || insts.Server.Pipeline || len(insts.Instances) != 1 || insts.Instances[0].Instance != "proc-a" {
		t.Errorf("serve's instances: %d %+v, want proc-a, and serve itself without a pipeline or an id", code, insts)
	}
	if ownCode != http.StatusOK || len(own.Unknown) != 1 || own.Source != "memory" {
		t.Errorf("serve's own series: %d %+v, want the pipeline's records unknown", ownCode, own)
	}
	if theirCode != http.StatusOK || theirs.Source != "store" || theirs.Instance == nil || *theirs.Instance != "proc-a" || len(theirs.Unknown) != 0 ||
		len(theirs.Metrics) != 2 || theirs.Metrics[0].Kind != "counter" || theirs.Metrics[1].Kind != "histogram" {
		t.Errorf("proc-a's series through serve: %d %+v, want its records (a counter) and batch sizes (a histogram) from the store", theirCode, theirs)
	}
	if len(insts.Instances) == 1 && !insts.Instances[0].LastSeen.Equal(newest) {
		t.Errorf("proc-a last seen %v, want its newest sample %v", insts.Instances[0].LastSeen, newest)
	}
	if recentCode != http.StatusOK || recent.ResolutionSeconds != 15 || len(recent.Metrics) != 1 || len(recent.Metrics[0].Times) == 0 {
		t.Fatalf("proc-a's last 15 minutes through serve: %d %+v, want points of its 15 s samples", recentCode, recent)
	}
	last := time.UnixMilli(int64(recent.Metrics[0].Times[len(recent.Metrics[0].Times)-1] * 1000))
	if !last.Equal(newest.Truncate(time.Millisecond)) || !newest.After(fine[0].At) || time.Since(last) > 5*time.Minute {
		t.Errorf("proc-a's newest point through serve at %v, want its newest sample %v, after its first %v and younger than 5 minutes",
			last, newest, fine[0].At)
	}
}
