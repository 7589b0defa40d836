package web

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestOpenAPIMatchesRouteTable fails when a line of the route table under
// /api/ is not an operation of the OpenAPI document, or an operation is not
// a line: the table says who may call a route, the document what it
// answers, and neither may name a route the other lacks.
func TestOpenAPIMatchesRouteTable(t *testing.T) {
	b, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	for pattern := range routes {
		if _, path, ok := strings.Cut(pattern, " "); ok && strings.HasPrefix(path, "/api/") && !documented[pattern] {
			t.Errorf("the route table's %s is not in openapi.yaml", pattern)
		}
	}
	for op := range documented {
		if _, ok := routes[op]; !ok {
			t.Errorf("openapi.yaml documents %s, which the route table lacks", op)
		}
	}
}

// TestEveryHandleCallHasARouteLine reads the module's Go source for the
// routes registered anywhere (Server.Handle, here or in a component's
// Register function, whichever server a command builds): each pattern
// must be a literal with its line in the route table, which
// TestOpenAPIMatchesRouteTable holds to the OpenAPI document. It catches a
// route that no test server registers.
func TestEveryHandleCallHasARouteLine(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	found := map[string]string{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == "testdata" || n == ".git" || strings.HasPrefix(n, ".") && path != root || path == filepath.Join(root, "test", "kafka") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 2 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Handle" {
				return true
			}
			where := fset.Position(call.Pos()).String()
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				switch id, _ := call.Args[0].(*ast.Ident); {
				case id != nil && id.Name == "staticPattern":
					found[staticPattern] = where
				case id != nil && id.Name == "pattern" && filepath.Base(path) == "web.go":
					// Server.Handle itself hands its pattern to the mux.
				default:
					t.Errorf("%s: a route registered with a pattern that is not a literal", where)
				}
				return true
			}
			p, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			found[p] = where
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, where := range found {
		if _, ok := routes[p]; !ok {
			t.Errorf("%s registers %q, which has no line in the route table (web.go) and so none in openapi.yaml", where, p)
		}
	}
	for p := range routes {
		if _, ok := found[p]; !ok {
			t.Errorf("the route table's %q is registered nowhere", p)
		}
	}
	if len(found) < 40 {
		t.Fatalf("found only %d registered routes: %v", len(found), found)
	}
}

// FuzzWindowsQuery fuzzes the query of GET /api/v1/windows: an error is a
// bad request naming the parameter, and a range taken is not empty.
func FuzzWindowsQuery(f *testing.F) {
	for _, s := range []string{"", "granularity=hour", "granularity=day", "since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z",
		"since=1767225600&until=1767225660", "since=5&until=4", "until=x", "since=-1", "since=99999999999999",
		"step=3h&by=currency", "granularity=hour&step=auto", "step=90s", "step=7", "by=x"} {
		f.Add(s)
	}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		wr, err := windowsQuery(v, now)
		if err != nil {
			msg := err.Error()
			if !isBadRequest(err) || !strings.Contains(msg, "granularity") && !strings.Contains(msg, "since") && !strings.Contains(msg, "until") &&
				!strings.Contains(msg, "step") && !strings.Contains(msg, "by") {
				t.Fatalf("%q: %v is not a bad request naming its parameter", q, err)
			}
			return
		}
		unit := time.Minute
		if wr.Granularity == "hour" {
			unit = time.Hour
		}
		if wr.Granularity != "minute" && wr.Granularity != "hour" || wr.Until != nil && !wr.Until.After(wr.Since) ||
			wr.Step < unit || wr.Step%unit != 0 || wr.By != "all" && wr.By != "currency" {
			t.Fatalf("%q gave %+v", q, wr)
		}
	})
}
