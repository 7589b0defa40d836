package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/shopstream/shopstream"

// domain lists the domain packages (each with its sub-packages): pure Go
// that takes values and returns values. importer, which reads an
// io.Reader handed to it, is pure in the same way. recommend and experiment are
// listed before they exist so they start under the rule.
var domain = []string{
	"internal/event",
	"internal/quality",
	"internal/fraud",
	"internal/analytics",
	"internal/importer",
	"internal/recommend",
	"internal/experiment",
	"internal/alertroute",
}

// pureLibraries are the modules outside the standard library a domain
// package may import: computation only, no I/O.
var pureLibraries = []string{
	"github.com/goccy/go-json", // the event codec
	"gonum.org/v1/gonum",       // the analytics models' maths
	"sigs.k8s.io/yaml",         // the data-quality contract, parsed from bytes
	"golang.org/x/text",        // the country check's CLDR country names, tables in the binary
}

// ioStd are the standard library packages that talk to the world; the
// domain leaves them to the plumbing.
var ioStd = []string{"net", "database/sql", "os/exec", "syscall", "log", "log/slog"}

// upward lists, for packages above the domain, what they must not reach
// even indirectly: the arrows issue 9 turned around stay turned.
var upward = map[string][]string{
	"internal/detector":      {"internal/pipeline", "internal/bus", "internal/generate", "internal/web", "internal/jobs"},
	"internal/web":           {"internal/jobs", "internal/pipeline", "internal/bus", "internal/generate", "internal/cli"},
	"internal/fraudmetrics":  {"internal/web", "internal/cli", "internal/pipeline", "internal/bus", "internal/generate"},
	"internal/analyticsview": {"internal/web", "internal/cli", "internal/jobs", "internal/pipeline", "internal/bus"},
	"internal/jobs":          {"internal/web", "internal/cli", "internal/pipeline", "internal/bus", "internal/generate"},
	"internal/importer":      {"internal/store", "internal/pipeline", "internal/bus", "internal/web", "internal/cli"},
	"internal/store":         {"internal/pipeline", "internal/bus", "internal/web", "internal/cli", "internal/jobs", "internal/detector"},
	"internal/privacy":       {"internal/web", "internal/cli", "internal/generate", "internal/jobs"},
}

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Standard   bool
}

// listModule returns every package of the module as go list sees it.
func listModule(t *testing.T) []pkg {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the packages: %v", err)
	}
	cmd := exec.Command(gobin, "list", "-json=ImportPath,Imports,Deps,Standard", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s/...: %v\n%s", module, err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages in %s; expected the whole module", len(pkgs), module)
	}
	return pkgs
}

// under reports whether p is root or one of its sub-packages.
func under(p, root string) bool { return p == root || strings.HasPrefix(p, root+"/") }

func isDomain(importPath string) bool {
	rel, ok := strings.CutPrefix(importPath, module+"/")
	return ok && slices.ContainsFunc(domain, func(d string) bool { return under(rel, d) })
}

// violation says why a domain package may not import imp, or "" if it may.
func violation(imp string, std bool) string {
	switch {
	case strings.HasPrefix(imp, module+"/"):
		if !isDomain(imp) {
			return "plumbing, generator or web of this module"
		}
	case std || !strings.Contains(strings.Split(imp, "/")[0], "."):
		if slices.ContainsFunc(ioStd, func(s string) bool { return under(imp, s) }) {
			return "standard library I/O"
		}
	default:
		if !slices.ContainsFunc(pureLibraries, func(m string) bool { return under(imp, m) }) {
			return "a library not in pureLibraries"
		}
	}
	return ""
}

// TestDomainImportsNoPlumbing fails when a domain package imports anything
// but other domain packages, the pure standard library and pureLibraries.
// Checking every domain package's direct imports covers the transitive
// ones inside the module too.
func TestDomainImportsNoPlumbing(t *testing.T) {
	t.Parallel()
	pkgs := listModule(t)
	std := map[string]bool{}
	found := map[string]bool{}
	for _, p := range pkgs {
		std[p.ImportPath] = p.Standard
	}
	for _, p := range pkgs {
		if !isDomain(p.ImportPath) {
			continue
		}
		for _, d := range domain {
			if under(strings.TrimPrefix(p.ImportPath, module+"/"), d) {
				found[d] = true
			}
		}
		for _, imp := range p.Imports {
			if why := violation(imp, std[imp]); why != "" {
				t.Errorf("domain package %s imports %s (%s)", p.ImportPath, imp, why)
			}
		}
	}
	// A renamed domain package must not slip out from under the rule.
	for _, d := range []string{"internal/event", "internal/quality", "internal/fraud", "internal/analytics"} {
		if !found[d] {
			t.Errorf("domain package %s not found; update the domain list", path.Join(module, d))
		}
	}
}

// TestArrowsPointInwards fails when a package in upward depends, directly
// or not, on one it must not.
func TestArrowsPointInwards(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, p := range listModule(t) {
		rel, ok := strings.CutPrefix(p.ImportPath, module+"/")
		if !ok {
			continue
		}
		for from, banned := range upward {
			if !under(rel, from) {
				continue
			}
			seen[from] = true
			for _, d := range p.Deps {
				drel, ok := strings.CutPrefix(d, module+"/")
				if !ok {
					continue
				}
				for _, b := range banned {
					if under(drel, b) {
						t.Errorf("%s depends on %s; it must not (see upward)", p.ImportPath, d)
					}
				}
			}
		}
	}
	for from := range upward {
		if !seen[from] {
			t.Errorf("package %s not found; update upward", path.Join(module, from))
		}
	}
}

func TestViolation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		imp  string
		std  bool
		want bool
	}{
		{module + "/internal/event", false, false},
		{module + "/internal/fraud/iforest", false, false},
		{module + "/internal/generate", false, true},
		{module + "/internal/store", false, true},
		{module + "/internal/pipeline", false, true},
		{module + "/internal/web", false, true},
		{module + "/internal/eventual", false, true}, // a prefix, not a sub-package
		{"math", true, false},
		{"net/http", true, true},
		{"database/sql", true, true},
		{"gonum.org/v1/gonum/stat", false, false},
		{"github.com/twmb/franz-go/pkg/kgo", false, true},
		{"github.com/jackc/pgx/v5", false, true},
	} {
		if got := violation(tc.imp, tc.std) != ""; got != tc.want {
			t.Errorf("violation(%q) = %v, want %v", tc.imp, got, tc.want)
		}
	}
}
