package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestBrokerRetentionFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--topic-retention", "transactions"}, "-topic-retention"},
		{[]string{"--topic-retention", "alerts=lots:1h"}, "-topic-retention"},
		{[]string{"--retention-bytes", "-1"}, "-retention-bytes"},
		{[]string{"--retention-time", "-1h"}, "-retention-time"},
	} {
		var stdout, stderr bytes.Buffer
		err := Run(context.Background(), append([]string{"broker", "--addr", "127.0.0.1:0"}, tc.args...), &stdout, &stderr)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("broker %v: err = %v, want a usage error naming %s", tc.args, err, tc.want)
		}
	}
}
