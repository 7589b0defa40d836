package analytics

import (
	"reflect"
	"testing"
	"time"
)

func TestBuildCohorts(t *testing.T) {
	t.Parallel()
	at := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 12, 0, 0, 0, time.UTC) }
	// Hand-checked: a and b join in January 2024, c in February, d in
	// April; the data ends in April.
	purchases := []Purchase{
		{"c", at(2024, 2, 3), 30},
		{"a", at(2024, 1, 5), 10},
		{"a", at(2024, 1, 20), 5}, // same month: active once, revenue adds up
		{"b", at(2024, 1, 31), 20},
		{"a", at(2024, 2, 1), 7},
		{"b", at(2024, 3, 15), 8},
		{"a", at(2024, 3, 16), 1},
		{"c", at(2024, 4, 1), 2},
		{"d", at(2024, 4, 30), 50},
	}
	got := BuildCohorts(purchases)
	want := Cohorts{
		Months:  []time.Time{time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC)},
		Size:    []int{2, 1, 1},
		Active:  [][]int{{2, 1, 2, 0}, {1, 0, 1}, {1}},
		Revenue: [][]float64{{35, 7, 9, 0}, {30, 0, 2}, {50}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("BuildCohorts =\n%+v\nwant\n%+v", got, want)
	}
	wantRet := [][]float64{{1, 0.5, 1, 0}, {1, 0, 1}, {1}}
	if r := got.Retention(); !reflect.DeepEqual(r, wantRet) {
		t.Errorf("Retention = %v, want %v", r, wantRet)
	}
	if e := BuildCohorts(nil); len(e.Months) != 0 || len(e.Retention()) != 0 {
		t.Errorf("no purchases: %+v", e)
	}
}
