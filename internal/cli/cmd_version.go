package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Set at build time by `make build`:
//
//	-ldflags "-X github.com/shopstream/shopstream/internal/cli.version=v1.2.0
//	          -X github.com/shopstream/shopstream/internal/cli.commit=abc123
//	          -X github.com/shopstream/shopstream/internal/cli.date=2026-05-01T10:00:00Z"
//
// Where they are empty, the module version and the VCS stamp that the Go
// toolchain records (runtime/debug.ReadBuildInfo) are used instead.
var version, commit, date string

// BuildInfo says which build of shopstream this is.
type BuildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
}

// Build returns this binary's build information; "unknown" stands for
// what was recorded nowhere.
func Build() BuildInfo {
	b := BuildInfo{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && info.Main.Version != "" {
			b.Version = info.Main.Version
		}
		modified := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				if b.Date == "" {
					b.Date = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && commit == "" && b.Commit != "" {
			b.Commit += "-dirty"
		}
	}
	for _, f := range []*string{&b.Version, &b.Commit, &b.Date} {
		if *f == "" {
			*f = "unknown"
		}
	}
	return b
}

func (b BuildInfo) String() string {
	return fmt.Sprintf("shopstream %s (commit %s, built %s, %s)", b.Version, b.Commit, b.Date, b.GoVersion)
}

// runVersion is `shopstream version` (and --version).
func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", stderr)
	asJSON := fs.Bool("json", false, "print the build information as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	b := Build()
	if *asJSON {
		return json.NewEncoder(stdout).Encode(b)
	}
	_, err := fmt.Fprintln(stdout, b)
	return err
}

// buildInfoGauge is shopstream_build_info: 1, with the build as labels.
func buildInfoGauge() prometheus.Collector {
	b := Build()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "shopstream_build_info",
		Help:        "Always 1; the labels say which build of shopstream runs.",
		ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit, "date": b.Date, "goversion": b.GoVersion}})
	g.Set(1)
	return g
}
