package abtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/shopstream/shopstream/internal/recsvc"
)

// Metrics an experiment is decided on.
const (
	// MetricConversion is the share of exposed customers who bought a
	// product they were shown within the window.
	MetricConversion = "conversion"
	// MetricRevenue is the revenue per exposed customer within the window.
	MetricRevenue = "revenue"
)

// Definition is an experiment as configured, stored and shown.
type Definition struct {
	// Name identifies the experiment: 1 to 100 characters.
	Name string `json:"name"`
	// Seed is hashed with the customer id. Defaults to Name.
	Seed string `json:"seed,omitempty"`
	// HashVersion is GrowthBook's hash version, 1 or 2. Defaults to 2.
	HashVersion int `json:"hash_version,omitempty"`
	// Coverage is the share of customers taking part. Defaults to 1.
	Coverage float64 `json:"coverage,omitempty"`
	// Variants are two or more; the first is the control.
	Variants []Variant `json:"variants"`
	// Metric is what the experiment is decided on: MetricConversion or
	// MetricRevenue. Defaults to conversion. Results show both.
	Metric string `json:"metric,omitempty"`
	// Window is how long after the first exposure purchases count.
	// Defaults to 1 hour.
	Window Duration `json:"window,omitempty"`
	// Start and Stop bound when customers are assigned; a zero Stop
	// never stops. Start defaults to when the experiment is created.
	Start time.Time `json:"start"`
	Stop  time.Time `json:"stop,omitzero"`
}

// Variant is one arm of an experiment.
type Variant struct {
	Name string `json:"name"`
	// Weight is the variant's share of the covered customers; the weights
	// of an experiment sum to 1.
	Weight float64 `json:"weight"`
	// Recommender answers for the variant: "item-item" or "popularity".
	Recommender string `json:"recommender"`
}

// Duration is a time.Duration written as a string ("1h30m") in JSON.
type Duration time.Duration

// MarshalJSON writes d as "1h0m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string such as "30m".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string like \"1h\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ErrInvalid wraps every reason a definition is refused.
var ErrInvalid = errors.New("invalid experiment")

// WithDefaults returns d with its unset fields set; now is the default
// start.
func (d Definition) WithDefaults(now time.Time) Definition {
	if d.Seed == "" {
		d.Seed = d.Name
	}
	if d.HashVersion == 0 {
		d.HashVersion = 2
	}
	if d.Coverage == 0 {
		d.Coverage = 1
	}
	if d.Metric == "" {
		d.Metric = MetricConversion
	}
	if d.Window == 0 {
		d.Window = Duration(time.Hour)
	}
	if d.Start.IsZero() {
		d.Start = now
	}
	d.Start = d.Start.UTC()
	if !d.Stop.IsZero() {
		d.Stop = d.Stop.UTC()
	}
	return d
}

// Validate reports the first thing wrong with d (after WithDefaults).
func (d Definition) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrInvalid, d.Name, fmt.Sprintf(format, args...))
	}
	switch {
	case d.Name == "" || len(d.Name) > 100:
		return fmt.Errorf("%w: the name must be 1 to 100 characters, got %d", ErrInvalid, len(d.Name))
	case d.HashVersion != 1 && d.HashVersion != 2:
		return bad("hash_version %d, want 1 or 2", d.HashVersion)
	case !(d.Coverage > 0 && d.Coverage <= 1):
		return bad("coverage %v, want (0, 1]", d.Coverage)
	case len(d.Variants) < 2 || len(d.Variants) > 10:
		return bad("%d variants, want 2 to 10", len(d.Variants))
	case d.Metric != MetricConversion && d.Metric != MetricRevenue:
		return bad("metric %q, want %q or %q", d.Metric, MetricConversion, MetricRevenue)
	case d.Window <= 0:
		return bad("window %v, want a positive duration", time.Duration(d.Window))
	case !d.Stop.IsZero() && !d.Stop.After(d.Start):
		return bad("stop %v is not after start %v", d.Stop, d.Start)
	}
	sum := 0.0
	names := map[string]bool{}
	for i, v := range d.Variants {
		switch {
		case v.Name == "" || names[v.Name]:
			return bad("variant %d needs a name of its own", i)
		case !(v.Weight > 0) || math.IsInf(v.Weight, 0):
			return bad("variant %s: weight %v, want above 0", v.Name, v.Weight)
		case v.Recommender != recsvc.MethodItemItem && v.Recommender != recsvc.MethodPopularity:
			return bad("variant %s: recommender %q, want %q or %q", v.Name, v.Recommender, recsvc.MethodItemItem, recsvc.MethodPopularity)
		}
		names[v.Name] = true
		sum += v.Weight
	}
	if math.Abs(sum-1) > 0.001 {
		return bad("the variants' weights sum to %v, want 1", sum)
	}
	return nil
}

// Weights returns the variants' weights.
func (d *Definition) Weights() []float64 {
	w := make([]float64, len(d.Variants))
	for i, v := range d.Variants {
		w[i] = v.Weight
	}
	return w
}

// Status is "scheduled" before Start, "running" until Stop, "stopped"
// after.
func (d *Definition) Status(now time.Time) string {
	switch {
	case now.Before(d.Start):
		return "scheduled"
	case !d.Stop.IsZero() && !now.Before(d.Stop):
		return "stopped"
	}
	return "running"
}

// File is the experiments config file (--experiments): JSON of the form
// {"experiments": [definition, ...]}, or the same in YAML.
type File struct {
	Experiments []Definition `json:"experiments"`
}

// ParseFile reads the experiments of a config file; unknown fields are
// errors, so a misspelt setting is not silently ignored.
func ParseFile(b []byte) ([]Definition, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parsing the experiments file: %w", err)
	}
	return f.Experiments, nil
}

// ReadFile reads and parses the experiments file at path: YAML when its
// name ends in .yaml or .yml, JSON otherwise.
func ReadFile(path string) ([]Definition, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if ext := strings.ToLower(filepath.Ext(path)); ext == ".yaml" || ext == ".yml" {
		if b, err = yaml.YAMLToJSON(b); err != nil {
			return nil, fmt.Errorf("%s: parsing YAML: %w", path, err)
		}
	}
	defs, err := ParseFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return defs, nil
}
