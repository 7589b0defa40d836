// Command shopstream is a real-time e-commerce analytics pipeline in one
// binary: run `shopstream help` for its commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/shopstream/shopstream/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case cli.IsUsage(err):
		fmt.Fprintln(os.Stderr, "shopstream:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "shopstream:", err)
		os.Exit(1)
	}
}
