package cli

import (
	"regexp"
	"testing"
)

// TestRunRetentionDefaults: run deletes by default what piles up by
// processing time and keeps the raw transactions; process and serve keep
// everything but the delivered outbox.
func TestRunRetentionDefaults(t *testing.T) {
	defaults := func(cmd string) map[string]string {
		_, help, _ := runCLI(t, cmd, "-h")
		out := map[string]string{}
		def := regexp.MustCompile(`\(default ([^)]+)\)$`)
		for _, m := range regexp.MustCompile(`(?m)^  -(retain-[a-z-]+) value\n\s*\t([^\n]*)$`).FindAllStringSubmatch(help, -1) {
			out[m[1]] = ""
			if d := def.FindStringSubmatch(m[2]); d != nil {
				out[m[1]] = d[1]
			}
		}
		if len(out) != 5 {
			t.Fatalf("%s -h: retention flags %v, want 5:\n%s", cmd, out, help)
		}
		return out
	}
	want := map[string]map[string]string{
		"run": {"retain-transactions": "", "retain-minute-windows": "48h0m0s", "retain-alerts": "2160h0m0s",
			"retain-quarantine": "720h0m0s", "retain-outbox": "1h0m0s"},
		"serve": {"retain-transactions": "", "retain-minute-windows": "", "retain-alerts": "", "retain-quarantine": "",
			"retain-outbox": "24h0m0s"},
	}
	for cmd, w := range want {
		got := defaults(cmd)
		for k, v := range w {
			if got[k] != v {
				t.Errorf("%s --%s defaults to %q, want %q", cmd, k, got[k], v)
			}
		}
	}
}
