package alert

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"sigs.k8s.io/yaml"

	"github.com/shopstream/shopstream/internal/alertroute"
	"github.com/shopstream/shopstream/internal/filewatch"
)

// Routes is a routes file loaded: its checked rules and destinations
// (alertroute.Routes) with the webhook signing keys read.
type Routes struct {
	*alertroute.Routes
	// keys are the HMAC-SHA256 keys of the webhook destinations.
	keys map[string][]byte
}

// ParseRoutes reads a routes file, YAML or JSON (sigs.k8s.io/yaml turns
// YAML into JSON, refusing duplicate keys; alertroute.Parse then decodes
// it strictly and checks it). Each webhook destination's key is read with
// getenv (secret_env) or readFile (secret_file, one trailing newline
// dropped); a missing or empty key is an error naming the destination.
func ParseRoutes(data []byte, getenv func(string) (string, bool), readFile func(string) ([]byte, error)) (*Routes, error) {
	if len(data) > alertroute.MaxConfigBytes {
		return nil, fmt.Errorf("routes file is %d bytes, more than %d", len(data), alertroute.MaxConfigBytes)
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("routes file: %w", err)
	}
	r, err := alertroute.Parse(js)
	if err != nil {
		return nil, err
	}
	rs := &Routes{Routes: r, keys: map[string][]byte{}}
	for i, name := range r.DestinationNames() {
		d := r.Destinations[name]
		if d.Type != alertroute.TypeWebhook {
			continue
		}
		at := fmt.Sprintf("destinations[%d] (%s)", i, name)
		var key []byte
		switch {
		case d.SecretEnv != "":
			v, ok := getenv(d.SecretEnv)
			if !ok || v == "" {
				return nil, fmt.Errorf("%s.secret_env: environment variable %s is not set or empty", at, d.SecretEnv)
			}
			key = []byte(v)
		default:
			b, err := readFile(d.SecretFile)
			if err != nil {
				return nil, fmt.Errorf("%s.secret_file: %w", at, err)
			}
			key = bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
			if len(key) == 0 {
				return nil, fmt.Errorf("%s.secret_file: %s is empty", at, d.SecretFile)
			}
		}
		rs.keys[name] = key
	}
	return rs, nil
}

// LoadRoutes reads the routes file at path, with keys from the
// environment and the file system.
func LoadRoutes(path string) (*Routes, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the routes file: %w", err)
	}
	r, err := ParseRoutes(data, os.LookupEnv, os.ReadFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Topics lists the topics of the kafka destinations.
func (r *Routes) Topics() []string {
	var ts []string
	for _, n := range r.DestinationNames() {
		if d := r.Destinations[n]; d.Type == alertroute.TypeKafka {
			ts = append(ts, d.Topic)
		}
	}
	return ts
}

// RoutesFileConfig configures a RoutesFile.
type RoutesFileConfig struct {
	// Path of the routes file. Required.
	Path string
	// Interval between looks at the file. Defaults to 2 s.
	Interval time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer, when set, receives shopstream_alert_routes_reloads_total.
	Registerer prometheus.Registerer
}

// RoutesFile keeps the routes of a file current: Run reads the file every
// Interval and, when its bytes changed, parses it again; a file that does
// not parse is logged and counted, and the routes in force stay (see
// package filewatch).
type RoutesFile struct {
	w       *filewatch.Watcher[*Routes]
	cur     atomic.Pointer[Routes]
	reloads *prometheus.CounterVec
}

// NewRoutesFile loads the file; an error here stops the start-up.
func NewRoutesFile(cfg RoutesFileConfig) (*RoutesFile, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	reg := cfg.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	f := &RoutesFile{reloads: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{Name: "shopstream_alert_routes_reloads_total",
		Help: "Changes of the alert routes file read, by result (ok, error: the routes in force stay)."}, []string{"result"})}
	log := cfg.Logger.With("component", "alert-routes")
	w, r, err := filewatch.New(filewatch.Config[*Routes]{
		Path: cfg.Path, What: "alert routes", Interval: cfg.Interval, Logger: log,
		Parse: func(b []byte) (*Routes, error) { return ParseRoutes(b, os.LookupEnv, os.ReadFile) },
		Apply: func(r *Routes) error {
			f.cur.Store(r)
			log.Info("alert routes in force", "path", cfg.Path, "destinations", strings.Join(r.DestinationNames(), ","), "rules", len(r.Rules))
			return nil
		},
		Reloads: f.reloads,
	})
	if err != nil {
		return nil, fmt.Errorf("reading the routes file: %w", err)
	}
	f.w = w
	f.cur.Store(r)
	return f, nil
}

// Current returns the routes in force.
func (f *RoutesFile) Current() *Routes { return f.cur.Load() }

// Run re-reads the file until ctx ends.
func (f *RoutesFile) Run(ctx context.Context) error { return f.w.Run(ctx) }

// Reload reads the file now and, when it changed, parses it and puts it
// in force, or logs and counts why not.
func (f *RoutesFile) Reload() { f.w.Check() }
