package cli

import (
	"context"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestParseMemoryLimit(t *testing.T) {
	for s, want := range map[string]int64{"0": 0, "900MiB": 900 << 20, "2GiB": 2 << 30, "512KiB": 512 << 10, "1TiB": 1 << 40, "1000B": 1000, "1234": 1234} {
		if got, err := parseMemoryLimit(s); err != nil || got != want {
			t.Errorf("parseMemoryLimit(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "MiB", "-1MiB", "+5MiB", "900MB", "1.5GiB", "900 MiB", "9999999TiB", "lots"} {
		if got, err := parseMemoryLimit(s); err == nil {
			t.Errorf("parseMemoryLimit(%q) = %d, want an error", s, got)
		}
	}
}

// The flag wins when given (0: no limit), GOMEMLIMIT over the default,
// and the default applies otherwise.
func TestMemoryLimitPrecedence(t *testing.T) {
	for _, c := range []struct {
		flag    string // "" not given
		env     string
		want    int64
		setsAny bool
	}{
		{"", "", defaultMemoryLimit, true},
		{"", "2GiB", 0, false},
		{"1GiB", "2GiB", 1 << 30, true},
		{"0", "", math.MaxInt64, true},
	} {
		m := memoryLimit{bytes: defaultMemoryLimit}
		if c.flag != "" {
			if err := m.Set(c.flag); err != nil {
				t.Fatal(err)
			}
		}
		got, ok := m.limit(c.env)
		if ok != c.setsAny || (ok && got != c.want) {
			t.Errorf("flag %q, GOMEMLIMIT %q: limit %d, %v; want %d, %v", c.flag, c.env, got, ok, c.want, c.setsAny)
		}
	}
}

// apply sets the runtime's limit, and leaves it alone when GOMEMLIMIT
// is set and the flag is not.
func TestMemoryLimitApply(t *testing.T) {
	was := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(was) })
	m := memoryLimit{bytes: defaultMemoryLimit}
	m.apply("")
	if got := debug.SetMemoryLimit(-1); got != defaultMemoryLimit {
		t.Fatalf("after apply with the default: runtime limit %d, want %d", got, defaultMemoryLimit)
	}
	debug.SetMemoryLimit(was)
	m.apply("2GiB")
	if got := debug.SetMemoryLimit(-1); got != was {
		t.Fatalf("after apply under GOMEMLIMIT: runtime limit %d, want it left at %d", got, was)
	}
	if err := m.Set("1GiB"); err != nil {
		t.Fatal(err)
	}
	m.apply("2GiB")
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Fatalf("after apply with the flag under GOMEMLIMIT: runtime limit %d, want %d", got, 1<<30)
	}
}

// A size that parses prints back as itself, in the largest exact unit.
func FuzzParseMemoryLimit(f *testing.F) {
	for _, s := range []string{"0", "900MiB", "2GiB", "1000B", "1536KiB", "-1", "9223372036854775807", "8TiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseMemoryLimit(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("parseMemoryLimit(%q) = %d, negative", s, n)
		}
		m := memoryLimit{bytes: n}
		back, err := parseMemoryLimit(m.String())
		if err != nil || back != n {
			t.Fatalf("%q = %d bytes prints as %q, which parses as %d, %v", s, n, m.String(), back, err)
		}
	})
}

// startHeapProfiles (process and run --memprofile) writes a heap profile
// when stopped, and refuses a path it cannot create.
func TestStartHeapProfiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "heap.prof")
	stop, err := startHeapProfiles(context.Background(), path, 0, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("%s: %d bytes, not a gzipped pprof profile", path, len(b))
	}
	if _, err := startHeapProfiles(context.Background(), filepath.Join(dir, "no", "such", "dir"), 0, io.Discard); err == nil {
		t.Fatal("a profile path in a missing directory: no error")
	}
}
