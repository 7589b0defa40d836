package store

import "testing"

func TestPurchaseCursorHas(t *testing.T) {
	t.Parallel()
	c := PurchaseCursor{0: {Offset: 10, TransactionID: "m"}, -1: {Offset: 3, TransactionID: "b"}}
	for _, tc := range []struct {
		part int32
		off  int64
		id   string
		want bool
	}{
		{0, 9, "z", true},
		{0, 10, "a", true},
		{0, 10, "m", true},
		{0, 10, "n", false},
		{0, 11, "a", false},
		{-1, 3, "b", true},
		{-1, 3, "ba", false}, // byte order: "ba" > "b"
		{1, 0, "a", false},   // a partition the cursor has not read
	} {
		if got := c.Has(tc.part, tc.off, tc.id); got != tc.want {
			t.Errorf("Has(%d, %d, %q) = %v, want %v", tc.part, tc.off, tc.id, got, tc.want)
		}
	}
}
