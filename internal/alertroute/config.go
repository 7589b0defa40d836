package alertroute

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Config is the routes file as written (docs/alerts.md shows one). Parse
// decodes and checks it; the rest of the package works on the Routes it
// returns.
type Config struct {
	// Destinations are where alerts can go, each with a unique name.
	Destinations []DestinationConfig `json:"destinations"`
	// Rules are tried in order; every matching rule routes the alert to
	// its destinations (a destination already chosen by an earlier rule
	// keeps that rule's settings) until a matching rule says stop.
	Rules []RuleConfig `json:"rules"`
}

// DestinationConfig is one destination as written.
type DestinationConfig struct {
	Name string `json:"name"`
	// Type is dashboard, slack, webhook or kafka.
	Type string `json:"type"`
	// URL is where slack and webhook destinations are posted.
	URL string `json:"url,omitempty"`
	// SecretEnv or SecretFile (exactly one, webhook only) holds the
	// HMAC-SHA256 key that signs each body.
	SecretEnv  string `json:"secret_env,omitempty"`
	SecretFile string `json:"secret_file,omitempty"`
	// Topic is the Kafka topic of a kafka destination.
	Topic string `json:"topic,omitempty"`
	// RateLimit caps the messages sent to the destination; the overflow
	// goes into one digest per window. Defaults to no cap.
	RateLimit *RateLimitConfig `json:"rate_limit,omitempty"`
}

// RateLimitConfig is at most Count messages per Per (a Go duration such
// as "1m").
type RateLimitConfig struct {
	Count int    `json:"count"`
	Per   string `json:"per"`
}

// RuleConfig is one rule as written.
type RuleConfig struct {
	Name  string      `json:"name"`
	Match MatchConfig `json:"match"`
	// Destinations are destination names.
	Destinations []string `json:"destinations"`
	// DedupWindow (a Go duration): an alert whose dedup key was routed to
	// the same destination within it is recorded as deduplicated, not
	// sent. Defaults to none.
	DedupWindow string `json:"dedup_window,omitempty"`
	// DedupBy names labels whose values make the dedup key. Defaults to
	// the alert's own key.
	DedupBy []string `json:"dedup_by,omitempty"`
	// GroupWindow (a Go duration): the first alert opens a group that
	// collects the rule's alerts for this long and is then sent as one
	// message. Defaults to none: each alert alone.
	GroupWindow string `json:"group_window,omitempty"`
	// GroupBy names labels whose values split groups (one group per
	// combination). Defaults to one group per rule and destination.
	GroupBy []string `json:"group_by,omitempty"`
	// Stop ends the rule list for an alert this rule matched.
	Stop bool `json:"stop,omitempty"`
}

// MatchConfig selects alerts; every condition given must hold, and an
// empty match takes every alert.
type MatchConfig struct {
	// Kind lists the kinds taken (fraud, quality, records_lost, ...).
	Kind []string `json:"kind,omitempty"`
	// MinSeverity is info, warning, error or critical.
	MinSeverity string `json:"min_severity,omitempty"`
	// MinScore and MaxScore bound the alert's score (a fraud alert's
	// risk); an alert without a score never passes a bound.
	MinScore *float64 `json:"min_score,omitempty"`
	MaxScore *float64 `json:"max_score,omitempty"`
	// Labels maps a label to the values taken (any of them).
	Labels map[string][]string `json:"labels,omitempty"`
}

// Destination types.
const (
	TypeDashboard = "dashboard"
	TypeSlack     = "slack"
	TypeWebhook   = "webhook"
	TypeKafka     = "kafka"
)

// Destination is a checked destination.
type Destination struct {
	Name, Type, URL, Topic string
	SecretEnv, SecretFile  string
	// Limit messages per Per; 0 is no limit.
	Limit int
	Per   time.Duration
}

// Rule is a checked rule.
type Rule struct {
	Name         string
	Kinds        []string
	MinSeverity  Severity
	MinScore     float64 // NaN: none
	MaxScore     float64 // NaN: none
	Labels       map[string][]string
	Destinations []string
	DedupWindow  time.Duration
	DedupBy      []string
	GroupWindow  time.Duration
	GroupBy      []string
	Stop         bool
}

// Routes is a checked routes config.
type Routes struct {
	Destinations map[string]*Destination
	Rules        []Rule
	// names keeps the destinations' order as written.
	names []string
}

// DestinationNames lists the destinations in the order written.
func (r *Routes) DestinationNames() []string { return slices.Clone(r.names) }

// MaxConfigBytes bounds a routes file.
const MaxConfigBytes = 1 << 20

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Parse decodes a routes config from JSON, strictly: an unknown key, a
// second document or a value of the wrong type is an error naming the
// key, and so is every value Check refuses.
func Parse(data []byte) (*Routes, error) {
	if len(data) > MaxConfigBytes {
		return nil, fmt.Errorf("routes config is %d bytes, more than %d", len(data), MaxConfigBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("routes config: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("routes config: more than one document")
	}
	return c.Check()
}

// Check validates c and returns its Routes. Errors name the key, as in
// "rules[1].destinations[0]: unknown destination \"pager\"".
func (c *Config) Check() (*Routes, error) {
	r := &Routes{Destinations: map[string]*Destination{}}
	if len(c.Destinations) == 0 {
		return nil, errors.New("destinations: at least one is needed")
	}
	for i, dc := range c.Destinations {
		at := fmt.Sprintf("destinations[%d]", i)
		if !nameRE.MatchString(dc.Name) {
			return nil, fmt.Errorf("%s.name: %q: want 1 to 64 letters, digits, '_', '.' or '-'", at, dc.Name)
		}
		at = fmt.Sprintf("destinations[%d] (%s)", i, dc.Name)
		if _, dup := r.Destinations[dc.Name]; dup {
			return nil, fmt.Errorf("%s.name: %q is used twice", at, dc.Name)
		}
		d := &Destination{Name: dc.Name, Type: dc.Type, URL: dc.URL, Topic: dc.Topic, SecretEnv: dc.SecretEnv, SecretFile: dc.SecretFile}
		unused := func(key, val string) error {
			if val != "" {
				return fmt.Errorf("%s.%s: not used by type %s", at, key, dc.Type)
			}
			return nil
		}
		var err error
		switch dc.Type {
		case TypeDashboard:
			err = errors.Join(unused("url", dc.URL), unused("topic", dc.Topic), unused("secret_env", dc.SecretEnv), unused("secret_file", dc.SecretFile))
		case TypeSlack, TypeWebhook:
			// The deliverer builds the request from the URL and says
			// what is wrong with it; here only its form is checked, as
			// the domain leaves net (and net/url) to the plumbing.
			rest, ok := strings.CutPrefix(dc.URL, "https://")
			if !ok {
				rest, ok = strings.CutPrefix(dc.URL, "http://")
			}
			if host, _, _ := strings.Cut(rest, "/"); !ok || host == "" || strings.ContainsAny(dc.URL, " \t\r\n") {
				return nil, fmt.Errorf("%s.url: %q: want an http(s) URL", at, dc.URL)
			}
			err = unused("topic", dc.Topic)
			if dc.Type == TypeSlack {
				err = errors.Join(err, unused("secret_env", dc.SecretEnv), unused("secret_file", dc.SecretFile))
			} else if (dc.SecretEnv == "") == (dc.SecretFile == "") {
				err = fmt.Errorf("%s: give exactly one of secret_env and secret_file (the HMAC-SHA256 key)", at)
			}
		case TypeKafka:
			if dc.Topic == "" || len(dc.Topic) > 249 {
				return nil, fmt.Errorf("%s.topic: %q: want a Kafka topic name", at, dc.Topic)
			}
			err = errors.Join(unused("url", dc.URL), unused("secret_env", dc.SecretEnv), unused("secret_file", dc.SecretFile))
		default:
			return nil, fmt.Errorf("%s.type: %q: want dashboard, slack, webhook or kafka", at, dc.Type)
		}
		if err != nil {
			return nil, err
		}
		if rl := dc.RateLimit; rl != nil {
			per, perr := time.ParseDuration(rl.Per)
			if perr != nil || per <= 0 {
				return nil, fmt.Errorf("%s.rate_limit.per: %q: want a positive duration such as 1m", at, rl.Per)
			}
			if rl.Count < 1 {
				return nil, fmt.Errorf("%s.rate_limit.count: %d: want at least 1", at, rl.Count)
			}
			d.Limit, d.Per = rl.Count, per
		}
		r.Destinations[dc.Name] = d
		r.names = append(r.names, dc.Name)
	}
	seen := map[string]bool{}
	for i, rc := range c.Rules {
		at := fmt.Sprintf("rules[%d]", i)
		if !nameRE.MatchString(rc.Name) {
			return nil, fmt.Errorf("%s.name: %q: want 1 to 64 letters, digits, '_', '.' or '-'", at, rc.Name)
		}
		at = fmt.Sprintf("rules[%d] (%s)", i, rc.Name)
		if seen[rc.Name] {
			return nil, fmt.Errorf("%s.name: %q is used twice", at, rc.Name)
		}
		seen[rc.Name] = true
		ru := Rule{Name: rc.Name, Kinds: rc.Match.Kind, Labels: rc.Match.Labels, DedupBy: rc.DedupBy, GroupBy: rc.GroupBy,
			Stop: rc.Stop, MinScore: math.NaN(), MaxScore: math.NaN()}
		for j, k := range rc.Match.Kind {
			if k == "" {
				return nil, fmt.Errorf("%s.match.kind[%d]: empty", at, j)
			}
		}
		if rc.Match.MinSeverity != "" {
			s, ok := ParseSeverity(rc.Match.MinSeverity)
			if !ok {
				return nil, fmt.Errorf("%s.match.min_severity: %q: want info, warning, error or critical", at, rc.Match.MinSeverity)
			}
			ru.MinSeverity = s
		}
		if p := rc.Match.MinScore; p != nil {
			ru.MinScore = *p
		}
		if p := rc.Match.MaxScore; p != nil {
			ru.MaxScore = *p
			if rc.Match.MinScore != nil && *p < *rc.Match.MinScore {
				return nil, fmt.Errorf("%s.match.max_score: %v is below min_score %v", at, *p, *rc.Match.MinScore)
			}
		}
		for l, vs := range rc.Match.Labels {
			if l == "" || len(vs) == 0 {
				return nil, fmt.Errorf("%s.match.labels: label %q: want a name and at least one value", at, l)
			}
		}
		if len(rc.Destinations) == 0 {
			return nil, fmt.Errorf("%s.destinations: at least one is needed", at)
		}
		for j, dn := range rc.Destinations {
			if r.Destinations[dn] == nil {
				return nil, fmt.Errorf("%s.destinations[%d]: unknown destination %q (declared: %v)", at, j, dn, r.names)
			}
			if slices.Index(rc.Destinations, dn) != j {
				return nil, fmt.Errorf("%s.destinations[%d]: %q is listed twice", at, j, dn)
			}
		}
		ru.Destinations = rc.Destinations
		var err error
		if ru.DedupWindow, err = window(rc.DedupWindow); err != nil {
			return nil, fmt.Errorf("%s.dedup_window: %w", at, err)
		}
		if ru.GroupWindow, err = window(rc.GroupWindow); err != nil {
			return nil, fmt.Errorf("%s.group_window: %w", at, err)
		}
		if len(rc.DedupBy) > 0 && ru.DedupWindow == 0 {
			return nil, fmt.Errorf("%s.dedup_by: needs a dedup_window", at)
		}
		if len(rc.GroupBy) > 0 && ru.GroupWindow == 0 {
			return nil, fmt.Errorf("%s.group_by: needs a group_window", at)
		}
		r.Rules = append(r.Rules, ru)
	}
	return r, nil
}

// window parses an optional non-negative duration.
func window(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q: want a duration such as 30s or 10m", s)
	}
	return d, nil
}
