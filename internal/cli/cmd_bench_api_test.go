package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// TestBenchAPIFlags checks that the API phase's flags fail at start-up,
// before any cluster is started, naming the flag.
func TestBenchAPIFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--api-only", "--api-records", "10"}, "-api-records"},
		{[]string{"--api-only", "--api-requests", "0"}, "-api-requests"},
		{[]string{"--api-only", "--api-span", "10m"}, "-api-span"},
		{[]string{"--api-records", "5000"}, "-api-records needs -api-only"},
		{[]string{"--api-sqlite"}, "-api-sqlite needs -api-only"},
	} {
		var stdout, stderr bytes.Buffer
		err := Run(context.Background(), append([]string{"bench"}, tc.args...), &stdout, &stderr)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("bench %v: err = %v, want a usage error naming %s", tc.args, err, tc.want)
		}
	}
}
