package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/shopstream/shopstream/internal/web"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	var sf storeFlags
	var lf logFlags
	sf.register(fs)
	lf.register(fs, "info")
	addr := fs.String("addr", ":8050", "listen address of the dashboard, API and /metrics")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	st, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	srv, err := web.New(web.Config{Addr: *addr, Store: st, Gatherer: newRegistry(), Logger: logger})
	if err != nil {
		return err
	}
	if err := registerAnalyticsAPI(srv, st); err != nil {
		return err
	}
	ln, err := srv.Listen()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "dashboard on %s (store: %s)\n", dashboardURL(ln.Addr().String()), sf.describe())
	return srv.Serve(ctx, ln)
}
