package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
	"go.yaml.in/yaml/v3"
)

// A configuration file (--config FILE, or SHOPSTREAM_CONFIG) sets flags by
// their names. Keys at the top level set the flags of the command that
// reads the file; a mapping (YAML) or table (TOML) named after a command
// sets that command's flags only and wins over the top level, so one file
// can serve several commands:
//
//	log-level: info
//	serve:
//	  addr: :8050
//	process:
//	  addr: :9090
//
// The file is strict: a top-level key that is neither a flag of the
// command nor a command's name is an error, and so is any key of the
// command's own section that is not one of its flags. Sections of other
// commands are checked when those commands read the file.

// configEntry is one key of a configuration file.
type configEntry struct {
	key    string
	values []string // one, or several for a list
	list   bool
	line   int // 1-based; 0 if unknown
}

// configFile is a parsed configuration file.
type configFile struct {
	path     string
	top      map[string]configEntry
	sections map[string]map[string]configEntry
	// sectionLine is where each section starts.
	sectionLine map[string]int
}

// where names the file and line of e, for messages and config print.
func (c *configFile) where(e configEntry) string {
	if e.line > 0 {
		return fmt.Sprintf("%s:%d", c.path, e.line)
	}
	return c.path
}

// configError is a problem of a configuration file: its path, the line
// and key where known.
func (c *configFile) errorf(line int, format string, args ...any) error {
	where := c.path
	if line > 0 {
		where = fmt.Sprintf("%s:%d", c.path, line)
	}
	return usageError{fmt.Errorf("config file %s: %s", where, fmt.Sprintf(format, args...))}
}

// maxConfigSize bounds what a configuration file may weigh: flags are
// short, and a runaway file should not be read whole.
const maxConfigSize = 1 << 20

// loadConfigFile reads and parses path, chosen by its extension: .yaml or
// .yml for YAML, .toml for TOML.
func loadConfigFile(path string) (*configFile, error) {
	ext := strings.ToLower(filepath.Ext(path))
	if ext != ".yaml" && ext != ".yml" && ext != ".toml" {
		return nil, usageError{fmt.Errorf("flag -config: %s: unknown format %q: want a .yaml, .yml or .toml file", path, ext)}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("flag -config: %w", err)}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	n := len(b)
	if err != nil {
		return nil, usageError{fmt.Errorf("flag -config: reading %s: %w", path, err)}
	}
	if n > maxConfigSize {
		return nil, usageError{fmt.Errorf("flag -config: %s is larger than %d bytes", path, maxConfigSize)}
	}
	if ext == ".toml" {
		return parseTOMLConfig(path, b[:n])
	}
	return parseYAMLConfig(path, b[:n])
}

func newConfigFile(path string) *configFile {
	return &configFile{path: path, top: map[string]configEntry{},
		sections: map[string]map[string]configEntry{}, sectionLine: map[string]int{}}
}

// parseYAMLConfig parses a YAML configuration: a mapping of flag names to
// scalars or lists of scalars, and of command names to such mappings.
func parseYAMLConfig(path string, b []byte) (*configFile, error) {
	c := newConfigFile(path)
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, usageError{fmt.Errorf("config file %s: %v", path, err)}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return c, nil // empty file: nothing set
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, c.errorf(root.Line, "want a mapping of flag names to values at the top, not %s", yamlKind(root))
	}
	return c, c.yamlMapping(root, c.top, "")
}

// yamlMapping reads the keys of m into into; at the top (section "") a
// mapping value is a command's section.
func (c *configFile) yamlMapping(m *yaml.Node, into map[string]configEntry, section string) error {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			return c.errorf(k.Line, "a key must be a flag's or a command's name, not %s", yamlKind(k))
		}
		_, dup := into[k.Value]
		if _, sec := c.sections[k.Value]; dup || (sec && section == "") {
			return c.errorf(k.Line, "key %s given twice%s", k.Value, inSection(section))
		}
		if v.Kind == yaml.MappingNode {
			if section != "" {
				return c.errorf(k.Line, "key %s%s: a mapping, but a flag takes a value or a list", k.Value, inSection(section))
			}
			c.sections[k.Value] = map[string]configEntry{}
			c.sectionLine[k.Value] = k.Line
			if err := c.yamlMapping(v, c.sections[k.Value], k.Value); err != nil {
				return err
			}
			continue
		}
		e, err := yamlEntry(c, k, v, section)
		if err != nil {
			return err
		}
		into[k.Value] = e
	}
	return nil
}

func yamlEntry(c *configFile, k, v *yaml.Node, section string) (configEntry, error) {
	e := configEntry{key: k.Value, line: k.Line}
	scalar := func(n *yaml.Node) (string, error) {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		if n.Kind != yaml.ScalarNode {
			return "", c.errorf(n.Line, "key %s%s: %s, but a flag takes a value or a list of values", k.Value, inSection(section), yamlKind(n))
		}
		if n.Tag == "!!null" {
			return "", c.errorf(n.Line, "key %s%s has no value (remove it to keep the default)", k.Value, inSection(section))
		}
		return n.Value, nil
	}
	if v.Kind == yaml.SequenceNode {
		e.list = true
		for _, item := range v.Content {
			s, err := scalar(item)
			if err != nil {
				return e, err
			}
			e.values = append(e.values, s)
		}
		return e, nil
	}
	s, err := scalar(v)
	if err != nil {
		return e, err
	}
	e.values = []string{s}
	return e, nil
}

func yamlKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	return "a value"
}

func inSection(s string) string {
	if s == "" {
		return ""
	}
	return " (in section " + s + ")"
}

// parseTOMLConfig parses a TOML configuration: keys at the top set flags,
// and tables named after commands hold their flags. go-toml decodes the
// values; its parser's positions give each key's line.
func parseTOMLConfig(path string, b []byte) (*configFile, error) {
	c := newConfigFile(path)
	var doc map[string]any
	if err := toml.Unmarshal(b, &doc); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, _ := de.Position()
			return nil, c.errorf(row, "%v", de)
		}
		return nil, usageError{fmt.Errorf("config file %s: %v", path, err)}
	}
	lines := tomlKeyLines(b)
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := doc[k]
		if t, ok := v.(map[string]any); ok {
			c.sectionLine[k] = lines[k]
			sec := map[string]configEntry{}
			c.sections[k] = sec
			for sk, sv := range t {
				e, err := tomlEntry(c, sk, sv, lines[k+"\x00"+sk], k)
				if err != nil {
					return nil, err
				}
				sec[sk] = e
			}
			continue
		}
		e, err := tomlEntry(c, k, v, lines[k], "")
		if err != nil {
			return nil, err
		}
		c.top[k] = e
	}
	return c, nil
}

func tomlEntry(c *configFile, k string, v any, line int, section string) (configEntry, error) {
	e := configEntry{key: k, line: line}
	if items, ok := v.([]any); ok {
		e.list = true
		for _, it := range items {
			s, err := tomlScalar(c, k, it, line, section)
			if err != nil {
				return e, err
			}
			e.values = append(e.values, s)
		}
		return e, nil
	}
	s, err := tomlScalar(c, k, v, line, section)
	e.values = []string{s}
	return e, err
}

func tomlScalar(c *configFile, k string, v any, line int, section string) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return "", c.errorf(line, "key %s%s: %v is not a usable number", k, inSection(section), x)
		}
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case time.Time:
		return x.Format(time.RFC3339Nano), nil
	case toml.LocalDate, toml.LocalDateTime, toml.LocalTime:
		return fmt.Sprint(x), nil
	case map[string]any:
		return "", c.errorf(line, "key %s%s: a table, but a flag takes a value or an array", k, inSection(section))
	case []any:
		return "", c.errorf(line, "key %s%s: an array inside an array, but a flag takes a value or an array of values", k, inSection(section))
	}
	return "", c.errorf(line, "key %s%s: unsupported value %T", k, inSection(section), v)
}

// tomlKeyLines maps each key ("key", or "table\x00key" inside a table) to
// the line it is written on. The document has been decoded already, so a
// parse error here cannot happen; lines are then just missing.
func tomlKeyLines(b []byte) map[string]int {
	lines := map[string]int{}
	var p unstable.Parser
	p.Reset(b)
	table := ""
	keyOf := func(it unstable.Iterator) (string, int) {
		var parts []string
		line := 0
		for it.Next() {
			n := it.Node()
			parts = append(parts, string(n.Data))
			if line == 0 && n.Raw.Length > 0 {
				line = p.Shape(n.Raw).Start.Line
			}
		}
		return strings.Join(parts, "."), line
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			k, line := keyOf(e.Children())
			table = k
			if _, ok := lines[k]; !ok {
				lines[k] = line
			}
		case unstable.KeyValue:
			k, line := keyOf(e.Key())
			if line == 0 {
				line = lineOf(b, e.Raw.Offset)
			}
			if table == "" {
				lines[k] = line
			} else {
				lines[table+"\x00"+k] = line
			}
		}
	}
	return lines
}

func lineOf(b []byte, off uint32) int {
	if int(off) > len(b) {
		return 0
	}
	return bytes.Count(b[:off], []byte("\n")) + 1
}
