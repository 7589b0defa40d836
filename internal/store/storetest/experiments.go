package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// RunExperiments runs the conformance suite of store.Experiments; open
// returns a fresh, empty store for one test, which must implement it.
func RunExperiments(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store, e store.Experiments)
	}{
		{"Definitions", testExperimentDefinitions},
		{"ExposureOnce", testExposureOnce},
		{"ExposedPurchases", testExposedPurchases},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			e, ok := s.(store.Experiments)
			if !ok {
				t.Fatalf("%T does not implement store.Experiments", s)
			}
			tc.fn(t, s, e)
		})
	}
}

var expT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func createExperiment(t *testing.T, e store.Experiments, name string) {
	t.Helper()
	if err := e.CreateExperiment(context.Background(), &store.ExperimentRow{Name: name, Definition: []byte(`{"name":"` + name + `"}`), CreatedAt: expT0}); err != nil {
		t.Fatalf("CreateExperiment %s: %v", name, err)
	}
}

func testExperimentDefinitions(t *testing.T, _ store.Store, e store.Experiments) {
	ctx := context.Background()
	createExperiment(t, e, "b")
	createExperiment(t, e, "a")
	err := e.CreateExperiment(ctx, &store.ExperimentRow{Name: "a", Definition: []byte(`{"other":1}`), CreatedAt: expT0})
	if !errors.Is(err, store.ErrExperimentExists) {
		t.Fatalf("second experiment a: got %v, want ErrExperimentExists", err)
	}
	rows, err := e.ExperimentRows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.ExperimentRow{{Name: "a", Definition: []byte(`{"name":"a"}`), CreatedAt: expT0}, {Name: "b", Definition: []byte(`{"name":"b"}`), CreatedAt: expT0}}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("ExperimentRows = %+v, want %+v", rows, want)
	}
}

func exposures(t *testing.T, e store.Experiments, name string) []string {
	t.Helper()
	var got []string
	err := e.Exposures(context.Background(), name, func(x *store.Exposure) error {
		got = append(got, fmt.Sprintf("%s %s v%d %s %s %v", x.Experiment, x.CustomerID, x.Variant,
			x.ExposedAt.Format(time.RFC3339), x.WindowEnd.Format(time.RFC3339), x.Items))
		return nil
	})
	if err != nil {
		t.Fatalf("Exposures: %v", err)
	}
	return got
}

func testExposureOnce(t *testing.T, _ store.Store, e store.Experiments) {
	ctx := context.Background()
	createExperiment(t, e, "ab")
	createExperiment(t, e, "aa")
	first := store.Exposure{Experiment: "ab", CustomerID: "c1", Variant: 1, ExposedAt: expT0, WindowEnd: expT0.Add(time.Hour), Items: []string{"p1", "p2"}}
	for i, x := range []store.Exposure{
		first,
		first, // a retried write
		{Experiment: "ab", CustomerID: "c1", Variant: 0, ExposedAt: expT0.Add(time.Minute), WindowEnd: expT0.Add(2 * time.Hour), Items: []string{"p9"}},
	} {
		ok, err := e.RecordExposure(ctx, &x)
		if err != nil {
			t.Fatalf("RecordExposure %d: %v", i, err)
		}
		if ok != (i == 0) {
			t.Fatalf("RecordExposure %d reported recorded=%v", i, ok)
		}
	}
	if ok, err := e.RecordExposure(ctx, &store.Exposure{Experiment: "aa", CustomerID: "c1", ExposedAt: expT0, WindowEnd: expT0.Add(time.Hour), Items: []string{}}); err != nil || !ok {
		t.Fatalf("exposure to another experiment: recorded=%v, %v", ok, err)
	}
	got := exposures(t, e, "ab")
	want := []string{"ab c1 v1 2026-03-01T12:00:00Z 2026-03-01T13:00:00Z [p1 p2]"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("exposures of ab = %q, want %q", got, want)
	}
}

func testExposedPurchases(t *testing.T, s store.Store, e store.Experiments) {
	ctx := context.Background()
	createExperiment(t, e, "ab")
	for _, x := range []store.Exposure{
		{Experiment: "ab", CustomerID: "c1", ExposedAt: expT0, WindowEnd: expT0.Add(time.Hour), Items: []string{"p1"}},
		{Experiment: "ab", CustomerID: "c2", Variant: 1, ExposedAt: expT0, WindowEnd: expT0.Add(time.Hour), Items: []string{"p2"}},
	} {
		if _, err := e.RecordExposure(ctx, &x); err != nil {
			t.Fatal(err)
		}
	}
	write(t, s, part(0, 0,
		buy("before", "c1", expT0.Add(-time.Second), 0, 0, "p1"),
		buy("at", "c1", expT0, 0, 1, "p1", "p3"),
		buy("inside", "c2", expT0.Add(59*time.Minute), 0, 2, "p5"),
		buy("end", "c2", expT0.Add(time.Hour), 0, 3, "p2"),
		buy("other", "c3", expT0.Add(time.Minute), 0, 4, "p1"),
	))
	var got []string
	err := e.ExposedPurchases(ctx, "ab", func(p *store.ExposedPurchase) error {
		got = append(got, fmt.Sprintf("%s %s %d %s %v", p.CustomerID, p.TransactionID, p.TotalCents, p.EventTime.Format(time.RFC3339), p.Products))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"c1 at 200 2026-03-01T12:00:00Z [p1 p3]", "c2 inside 100 2026-03-01T12:59:00Z [p5]"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ExposedPurchases = %q, want %q", got, want)
	}
}
