// Package cli holds shopstream's subcommands, their flags and the wiring of
// the components behind them. Every flag can also be set through a
// SHOPSTREAM_<FLAG> environment variable and in a --config file; the command
// line wins, then the environment, then the file.
package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"run":         {"run the whole pipeline in one process on embedded defaults", runAll},
		"process":     {"consume transactions from Kafka, check, score and store them exactly once", runProcess},
		"serve":       {"serve the dashboard, REST API and metrics over the store", runServe},
		"broker":      {"run the embedded Kafka-protocol broker on its own", runBroker},
		"analytics":   {"show customer analytics: RFM segments, cohorts, CLV, behavioural clusters", runAnalytics},
		"import":      {"import a shop's order-history CSV into the store (resumable, exactly once)", runImport},
		"quarantine":  {"list, show, replay and purge quarantined records", runQuarantine},
		"bench":       {"measure throughput, latency and memory end to end (reproducible)", runBench},
		"fraud-eval":  {"measure fraud detection on the synthetic shop's labelled stream", runFraudEval},
		"generate":    {"generate the synthetic shop's transactions to Kafka or a JSON-lines file", runGenerate},
		"iforest":     {"isolation forest: ROC-AUC and PR-AUC on a labelled CSV; train saves a model, score writes per-row scores", runIForest},
		"recommend":   {"evaluate the recommenders offline over the stored transactions", runRecommend},
		"quality":     {"check a data-quality contract file and print the contract in force (quality check --config FILE)", runQuality},
		"customer":    {"erase a customer's personal data, keeping the totals (erase ID)", runCustomer},
		"healthcheck": {"probe a health URL (/healthz, /readyz); exit 0 when it answers 2xx (for container health checks)", runHealthcheck},
		"migrate":     {"show and apply the store's schema migrations (status|up)", runMigrate},
		"token":       {"create, list and revoke the API's tokens (create|list|revoke)", runToken},
		"version":     {"print the version, commit, build date and Go version", runVersion},
		"loadtest":    {"drive the read API and POST /api/v1/score at a fixed rate on loopback, then past the rate limiter; p50/p99, errors, pipeline lag", runLoadtest},
		"config":      {"print a command's effective configuration, secrets masked, and where each value came from (config print COMMAND)", runConfig},
	}
}

// Run executes the subcommand named by args[0].
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmds := commands()
	if len(args) > 1 && args[0] == "help" {
		// shopstream help COMMAND [SUBCOMMAND]: the command's own help.
		c, ok := cmds[args[1]]
		if !ok {
			usage(stderr, cmds)
			return usageError{unknownCommand(args[1], cmds)}
		}
		return c.run(ctx, append(slices.Clone(args[2:]), "-h"), stdout, stderr)
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout, cmds)
		if len(args) == 0 {
			return usageError{fmt.Errorf("no command given")}
		}
		return nil
	}
	if args[0] == "--version" || args[0] == "-version" {
		return runVersion(ctx, args[1:], stdout, stderr)
	}
	c, ok := cmds[args[0]]
	if !ok {
		usage(stderr, cmds)
		return usageError{unknownCommand(args[0], cmds)}
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

// unknownCommand is the error for a command name that is none, with the
// nearest real one when it is at most two edits away.
func unknownCommand(name string, cmds map[string]command) error {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best != "" {
		return fmt.Errorf("unknown command %q (did you mean %s?)", name, best)
	}
	return fmt.Errorf("unknown command %q", name)
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("shopstream: real-time e-commerce analytics pipeline\n\nUsage: shopstream <command> [flags]\n\nCommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-12s %s\n", n, cmds[n].summary)
	}
	b.WriteString("\nRun 'shopstream <command> -h' (or 'shopstream help <command>') for a command's flags. Every flag can also be set as SHOPSTREAM_<FLAG>,\nor in a YAML or TOML file given with --config FILE (docs/operations.md).\n")
	io.WriteString(w, b.String())
}
