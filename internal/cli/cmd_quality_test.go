package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/quality"
)

func TestQualityCheck(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := runQuality(context.Background(), []string{"check", "--print-default"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	c, err := quality.Parse(out.Bytes())
	if err != nil {
		t.Fatalf("the printed default does not parse: %v\n%s", err, out.String())
	}
	if !reflect.DeepEqual(c.Spec(), quality.DefaultSpec()) {
		t.Fatal("the printed default is not the default contract")
	}

	out.Reset()
	if err := runQuality(context.Background(), []string{"check", "--config", "../../docs/quality-contract.example.yaml"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "is a valid data-quality contract") || !strings.Contains(out.String(), "max: 1000000") {
		t.Fatalf("check of the example printed:\n%s", out.String())
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("checks:\n  channel: {alowed: [web]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"check", "--config", bad}, false, `checks.channel: unknown key "alowed"`},
		{[]string{"check", "--config", filepath.Join(t.TempDir(), "none.yaml")}, false, "none.yaml"},
		{[]string{"check"}, true, "-config is required"},
		{[]string{"check", "--config", bad, "--print-default"}, true, "not both"},
		{[]string{"lint"}, true, `unknown subcommand "lint"`},
		{nil, true, "no subcommand"},
	} {
		err := runQuality(context.Background(), tc.args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || IsUsage(err) != tc.usage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("quality %v: %v (usage %v), want usage=%v mentioning %q", tc.args, err, IsUsage(err), tc.usage, tc.want)
		}
	}
}
