package cli

import (
	"io"
	"strings"
	"testing"
)

func TestFraudBoundFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		bad  string // the flag the error names; "" when valid
	}{
		{nil, ""},
		{[]string{"--fraud-max-customers", "1000", "--fraud-max-entities", "0"}, ""},
		{[]string{"--fraud-max-customers", "-1"}, "-fraud-max-customers"},
		{[]string{"--fraud-max-entities", "-3"}, "-fraud-max-entities"},
	} {
		fs := newFlagSet("process", io.Discard)
		var f processFlags
		f.register(fs)
		if err := parseFlags(fs, tc.args); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		// Flags registered elsewhere (the entity stage's) may fail
		// validation here; the fraud bounds must not.
		err := f.validate()
		if tc.bad == "" && err != nil && strings.Contains(err.Error(), "-fraud-max") ||
			tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)) {
			t.Errorf("%v: validate() = %v, want an error naming %q", tc.args, err, tc.bad)
		}
	}
}
