package store

import (
	"errors"
	"reflect"
	"testing"
)

func TestFence(t *testing.T) {
	parts := []Part{{Partition: 0, From: 10, To: 20}, {Partition: 1, From: 5, To: 6}}
	at := func(n0, n1 int64, owner string, gen int32) map[int32]StoredOffset {
		return map[int32]StoredOffset{0: {n0, owner, gen}, 1: {n1, owner, gen}}
	}
	fenced := func(ps ...int32) error { return &FencedError{Partitions: ps} }
	tests := []struct {
		name   string
		owner  string
		gen    int32
		stored map[int32]StoredOffset
		want   error
	}{
		{"in place", "a", 3, at(10, 5, "a", 3), nil},
		{"newer generation takes over", "b", 4, at(10, 5, "a", 3), nil},
		{"zombie", "a", 2, at(10, 5, "b", 3), fenced(0, 1)},
		{"zombie on one partition", "a", 2, map[int32]StoredOffset{0: {10, "a", 2}, 1: {5, "b", 3}}, fenced(1)},
		{"own lost reply", "a", 3, at(20, 6, "a", 3), ErrAlreadyCommitted},
		{"another owner's commit", "b", 3, at(20, 6, "a", 3), fenced(0, 1)},
		{"moved", "a", 3, at(12, 5, "a", 3), fenced(0)},
		{"outside any group, done", "", -1, at(20, 6, "a", 7), ErrAlreadyCommitted},
		{"outside any group, in place", "", -1, at(10, 5, "a", 7), nil},
		{"outside any group, moved", "", -1, at(10, 4, "a", 7), fenced(1)},
	}
	for _, tc := range tests {
		err := Fence(&Batch{Owner: tc.owner, Generation: tc.gen, Parts: parts}, tc.stored)
		if !reflect.DeepEqual(err, tc.want) && !(errors.Is(err, ErrAlreadyCommitted) && errors.Is(tc.want, ErrAlreadyCommitted)) {
			t.Errorf("%s: Fence = %v, want %v", tc.name, err, tc.want)
		}
	}
}
