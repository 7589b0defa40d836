package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// TestBenchRecommendFlags checks that the recommendation flags of bench
// fail at start-up, before any cluster is started, naming the flag.
func TestBenchRecommendFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--with-recommend", "--recommend-fold-interval", "0s"}, "-recommend-fold-interval"},
		{[]string{"--with-recommend", "--recommend-rebuild-interval", "-1s"}, "-recommend-rebuild-interval"},
		{[]string{"--recommend-fold-interval", "2s"}, "-recommend-fold-interval needs -with-recommend"},
		{[]string{"--recommend-rebuild-interval", "1m"}, "-recommend-rebuild-interval needs -with-recommend"},
		{[]string{"--with-recommend", "--recovery-only"}, "-with-recommend and -recovery-only"},
	} {
		var stdout, stderr bytes.Buffer
		err := Run(context.Background(), append([]string{"bench"}, tc.args...), &stdout, &stderr)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("bench %v: err = %v, want a usage error naming %s", tc.args, err, tc.want)
		}
	}
}

// The bench reports the commit of the binary it measures, as its build
// recorded it, in git's short form: an older build run from a newer
// checkout is not reported as the checkout.
func TestBenchCommitIsTheBinarys(t *testing.T) {
	for build, want := range map[string]string{
		"aa1f98ace70c72faf35062b05e2728162dfe1a85":       "aa1f98ace70c",
		"aa1f98ace70c72faf35062b05e2728162dfe1a85-dirty": "aa1f98ace70c-dirty",
		"aa1f98a": "aa1f98a",
		"unknown": "",
		"":        "",
	} {
		if got := benchCommit(build); got != want {
			t.Errorf("benchCommit(%q) = %q, want %q", build, got, want)
		}
	}
}
