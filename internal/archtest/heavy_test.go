package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestHeavyChecksRunOnce checks that every test which skips itself under
// the race detector (testrace.SkipUnderRace) is one that make test runs in
// its second pass without -race, and that this pass runs nothing else: the
// Makefile's HEAVY_TESTS names exactly those tests and HEAVY_PKGS exactly
// their packages.
func TestHeavyChecksRunOnce(t *testing.T) {
	root := filepath.Join("..", "..")
	var tests, pkgs []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil || !callsSkipUnderRace(fn.Body) {
				continue
			}
			if fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "Test") {
				t.Errorf("%s: %s calls testrace.SkipUnderRace but is not a top-level test, which HEAVY_TESTS could name", fset.Position(fn.Pos()), fn.Name.Name)
				continue
			}
			rel, _ := filepath.Rel(root, filepath.Dir(p))
			tests = append(tests, fn.Name.Name)
			pkgs = append(pkgs, "./"+filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(tests) == 0 {
		t.Fatal("no test calls testrace.SkipUnderRace: the walk found nothing")
	}
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	vars := makeVars(string(mk))
	wantTests := strings.Split(vars["HEAVY_TESTS"], "|")
	wantPkgs := strings.Fields(vars["HEAVY_PKGS"])
	if d := setDiff(tests, wantTests); d != "" {
		t.Errorf("the tests that call testrace.SkipUnderRace and the Makefile's HEAVY_TESTS differ: %s", d)
	}
	if d := setDiff(pkgs, wantPkgs); d != "" {
		t.Errorf("their packages and the Makefile's HEAVY_PKGS differ: %s", d)
	}
	recipe := regexp.MustCompile(`(?m)^\t\$\(GO\) test\b.*-run '\^\(\$\(HEAVY_TESTS\)\)\$\$' \$\(HEAVY_PKGS\)`)
	if !recipe.Match(mk) {
		t.Error("no recipe line in the Makefile runs $(GO) test -run '^($(HEAVY_TESTS))$$' $(HEAVY_PKGS)")
	}
}

// callsSkipUnderRace reports whether body calls testrace.SkipUnderRace.
func callsSkipUnderRace(body *ast.BlockStmt) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok {
			if s, ok := c.Fun.(*ast.SelectorExpr); ok && s.Sel.Name == "SkipUnderRace" {
				if x, ok := s.X.(*ast.Ident); ok && x.Name == "testrace" {
					found = true
				}
			}
		}
		return !found
	})
	return found
}

// makeVars reads the simple `NAME = value` assignments of a Makefile,
// joining continued lines.
func makeVars(mk string) map[string]string {
	mk = strings.ReplaceAll(mk, "\\\n", " ")
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^([A-Z_]+)\s*[:?]?=\s*(.*)$`).FindAllStringSubmatch(mk, -1) {
		vars[m[1]] = strings.Join(strings.Fields(m[2]), " ")
	}
	vars["HEAVY_TESTS"] = strings.ReplaceAll(vars["HEAVY_TESTS"], " ", "")
	return vars
}

// setDiff describes how the sets of a and b differ, or returns "".
func setDiff(a, b []string) string {
	a, b = slices.Compact(slices.Sorted(slices.Values(a))), slices.Compact(slices.Sorted(slices.Values(b)))
	var only []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			only = append(only, "only in the code: "+x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			only = append(only, "only in the Makefile: "+x)
		}
	}
	return strings.Join(only, "; ")
}
