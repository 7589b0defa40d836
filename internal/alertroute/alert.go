package alertroute

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Severity orders alerts: Info < Warning < Error < Critical.
type Severity int

// Severities.
const (
	Info Severity = iota + 1
	Warning
	Error
	Critical
)

var severityNames = []string{Info: "info", Warning: "warning", Error: "error", Critical: "critical"}

// ParseSeverity reads info, warning, error or critical.
func ParseSeverity(s string) (Severity, bool) {
	i := slices.Index(severityNames, strings.ToLower(s))
	if i < 1 {
		return 0, false
	}
	return Severity(i), true
}

func (s Severity) String() string {
	if s < Info || s > Critical {
		return "unknown"
	}
	return severityNames[s]
}

// Alert is what routing looks at, read from a queued alert's JSON by
// FromPayload.
type Alert struct {
	// Kind is the payload's "kind" ("fraud" for the processor's fraud
	// alerts, which have none).
	Kind     string
	Severity Severity
	// Score is the payload's "score", else its "risk"; NaN when neither.
	Score float64
	// Key identifies the alert for de-duplication: the payload's "key",
	// else one made from its kind and identifying labels.
	Key string
	// Labels are the payload's top-level strings, numbers and booleans,
	// and the entries of its "labels" object (which win).
	Labels map[string]string
	// Summary is one line for people.
	Summary string
	// Payload is the JSON as queued.
	Payload []byte
}

// Category is what a digest counts alerts by: a fraud alert's decision
// ("review", "decline"), else the kind.
func (a *Alert) Category() string {
	if d := a.Labels["decision"]; d != "" {
		return d
	}
	return a.Kind
}

// KindFraud is the kind of the processor's fraud alerts, whose payload
// carries no kind.
const KindFraud = "fraud"

// keyLabels make the key of an alert without one, in this order.
var keyLabels = []string{"check", "scenario", "rule", "reason", "topic", "partition", "customer_id", "decision"}

// FromPayload reads an alert's JSON. Any JSON object is an alert: the
// fields routing uses (kind, severity, score or risk, key, labels,
// summary) are optional, with defaults that fit the processor's fraud and
// records-lost alerts.
func FromPayload(payload []byte) (Alert, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return Alert{}, fmt.Errorf("alert payload is not a JSON object: %v", err)
	}
	a := Alert{Labels: map[string]string{}, Score: math.NaN(), Payload: payload}
	for k, v := range m {
		switch v := v.(type) {
		case string:
			a.Labels[k] = v
		case json.Number:
			a.Labels[k] = v.String()
		case bool:
			a.Labels[k] = strconv.FormatBool(v)
		}
	}
	if ls, ok := m["labels"].(map[string]any); ok {
		for k, v := range ls {
			switch v := v.(type) {
			case string:
				a.Labels[k] = v
			case json.Number:
				a.Labels[k] = v.String()
			case bool:
				a.Labels[k] = strconv.FormatBool(v)
			}
		}
	}
	a.Kind = a.Labels["kind"]
	if a.Kind == "" {
		if _, ok := m["transaction_id"]; ok {
			a.Kind = KindFraud
		} else {
			a.Kind = "alert"
		}
	}
	a.Labels["kind"] = a.Kind
	if a.Kind == KindFraud {
		a.Labels["rule"] = firstRule(m["reasons"])
		if a.Labels["rule"] == "" {
			delete(a.Labels, "rule")
		}
	}
	for _, k := range []string{"score", "risk"} {
		if n, ok := m[k].(json.Number); ok {
			if f, err := n.Float64(); err == nil && !math.IsNaN(f) {
				a.Score = f
				break
			}
		}
	}
	if s, ok := ParseSeverity(a.Labels["severity"]); ok {
		a.Severity = s
	} else {
		switch {
		case a.Kind == KindFraud && a.Labels["decision"] == "decline", a.Kind == "records_lost":
			a.Severity = Critical
		default:
			a.Severity = Warning
		}
	}
	a.Labels["severity"] = a.Severity.String()
	a.Key = a.Labels["key"]
	if a.Key == "" {
		var b strings.Builder
		b.WriteString(a.Kind)
		for _, l := range keyLabels {
			if v, ok := a.Labels[l]; ok {
				b.WriteString(":" + v)
			}
		}
		a.Key = b.String()
	}
	a.Summary = summary(&a)
	return a, nil
}

// firstRule is the rule of the first reason that names one.
func firstRule(reasons any) string {
	rs, _ := reasons.([]any)
	for _, r := range rs {
		if o, ok := r.(map[string]any); ok {
			if s, ok := o["rule"].(string); ok && s != "" {
				return s
			}
		}
	}
	return ""
}

func summary(a *Alert) string {
	l := a.Labels
	for _, k := range []string{"summary", "message", "text"} {
		if s := l[k]; s != "" {
			return oneLine(s)
		}
	}
	switch a.Kind {
	case KindFraud:
		s := fmt.Sprintf("%s transaction %s of customer %s (%s %s), risk %s", l["decision"], l["transaction_id"], l["customer_id"],
			l["amount"], l["currency"], l["risk"])
		if r := l["rule"]; r != "" {
			s += ", rule " + r
		}
		return oneLine(s)
	case "records_lost":
		return oneLine(fmt.Sprintf("%s offsets lost on %s partition %s (%s)", l["count"], l["topic"], l["partition"], l["reason"]))
	}
	return oneLine(fmt.Sprintf("%s %s alert %s", a.Severity, a.Kind, a.Key))
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "…"
	}
	return s
}

// Matches reports whether the rule takes a.
func (r *Rule) Matches(a *Alert) bool {
	if len(r.Kinds) > 0 && !slices.Contains(r.Kinds, a.Kind) {
		return false
	}
	if r.MinSeverity != 0 && a.Severity < r.MinSeverity {
		return false
	}
	if !math.IsNaN(r.MinScore) && !(a.Score >= r.MinScore) {
		return false
	}
	if !math.IsNaN(r.MaxScore) && !(a.Score <= r.MaxScore) {
		return false
	}
	for l, vs := range r.Labels {
		v, ok := a.Labels[l]
		if !ok || !slices.Contains(vs, v) {
			return false
		}
	}
	return true
}

// labelKey joins the values of labels (name=value, absent ones empty).
func labelKey(a *Alert, labels []string) string {
	var b strings.Builder
	for i, l := range labels {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l + "=" + a.Labels[l])
	}
	return b.String()
}

// Target is one destination an alert goes to, with the rule that sent it
// there.
type Target struct {
	Rule        *Rule
	Destination *Destination
}

// Targets lists where a goes: the destinations of every matching rule in
// order, each once (the first rule naming it wins), up to a matching rule
// with Stop.
func (r *Routes) Targets(a *Alert) []Target {
	var out []Target
	for i := range r.Rules {
		ru := &r.Rules[i]
		if !ru.Matches(a) {
			continue
		}
		for _, dn := range ru.Destinations {
			if !slices.ContainsFunc(out, func(t Target) bool { return t.Destination.Name == dn }) {
				out = append(out, Target{Rule: ru, Destination: r.Destinations[dn]})
			}
		}
		if ru.Stop {
			break
		}
	}
	return out
}

var errNoState = errors.New("alertroute: no state")
