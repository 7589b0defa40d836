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
