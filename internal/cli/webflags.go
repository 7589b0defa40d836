package cli

import (
	"context"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/web"
)

// webFlags are the flags of every command that serves the dashboard or
// the API: where it listens, who may call it, its limits and TLS
// (docs/security.md).
type webFlags struct {
	addr           string
	insecure       bool
	publicRead     bool
	secureCookie   bool
	tlsCert        string
	tlsKey         string
	maxBody        int64
	requestTimeout time.Duration
	addrRate       float64
	tokenRate      float64
	readCache      time.Duration
	maxStreams     int
	streamsPer     int
}

func (f *webFlags) register(fs *flag.FlagSet, defAddr, addrUsage string) {
	fs.StringVar(&f.addr, "addr", defAddr, addrUsage)
	fs.BoolVar(&f.insecure, "insecure-allow-unauthenticated", false,
		"let a non-loopback --addr serve everyone as admin while no API token exists (default: refuse to start)")
	fs.BoolVar(&f.publicRead, "public-read", false, "let requests without a token call the read-only API (the viewer role)")
	fs.BoolVar(&f.secureCookie, "secure-cookie", false, "mark the dashboard's session cookie Secure (on by itself with --tls-cert; set it behind a proxy that ends TLS)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate file (reloaded when it changes; needs --tls-key)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "the PEM private key file of --tls-cert")
	fs.Int64Var(&f.maxBody, "max-body", 1<<20, "largest request body in bytes (413 past it)")
	fs.DurationVar(&f.requestTimeout, "request-timeout", 30*time.Second, "time limit of one API request, database calls included (503 past it)")
	fs.Float64Var(&f.addrRate, "rate-limit-addr", 50, "API requests per second per client address, burst twice that (429 past it; 0 = no limit)")
	fs.Float64Var(&f.tokenRate, "rate-limit-token", 100, "API requests per second per token, burst twice that (429 past it; 0 = no limit)")
	fs.IntVar(&f.maxStreams, "max-streams", 256, "live streams (the dashboard's, one a tab) the server holds open at once (429 past it; 0 = no limit)")
	fs.IntVar(&f.streamsPer, "max-streams-per-client", 16, "live streams one client (its token, else its address) may hold open at once (429 past it; 0 = no limit)")
	fs.DurationVar(&f.readCache, "read-cache", time.Second, "reuse the answers of the read API this long (a change through this server forgets them at once; 0 = ask the store every time)")
}

func (f *webFlags) validate() error {
	switch {
	case f.maxBody < 1:
		return usageError{fmt.Errorf("invalid value %d for flag -max-body: must be at least 1", f.maxBody)}
	case f.requestTimeout <= 0:
		return usageError{fmt.Errorf("invalid value %v for flag -request-timeout: must be above 0", f.requestTimeout)}
	case f.addrRate < 0:
		return usageError{fmt.Errorf("invalid value %v for flag -rate-limit-addr: must not be negative", f.addrRate)}
	case f.tokenRate < 0:
		return usageError{fmt.Errorf("invalid value %v for flag -rate-limit-token: must not be negative", f.tokenRate)}
	case f.maxStreams < 0:
		return usageError{fmt.Errorf("invalid value %d for flag -max-streams: must not be negative", f.maxStreams)}
	case f.streamsPer < 0:
		return usageError{fmt.Errorf("invalid value %d for flag -max-streams-per-client: must not be negative", f.streamsPer)}
	case f.readCache < 0:
		return usageError{fmt.Errorf("invalid value %v for flag -read-cache: must not be negative", f.readCache)}
	case (f.tlsCert == "") != (f.tlsKey == ""):
		return usageError{fmt.Errorf("flags -tls-cert and -tls-key go together: give both or neither")}
	}
	return nil
}

// noLimit turns a flag's "0 = no limit" into web.Limits' negative.
func noLimit(v int) int {
	if v == 0 {
		return -1
	}
	return v
}

// rateOf turns a flag's "0 = no limit" into web.Limits' negative.
func rateOf(v float64) (float64, int) {
	if v == 0 {
		return -1, 0
	}
	return v, max(1, int(2*v))
}

// config returns the web settings of the flags, after checking that the
// server may listen where it is told: an address other than loopback
// needs an API token in st, or --insecure-allow-unauthenticated.
func (f *webFlags) config(ctx context.Context, st store.Store, command string) (web.Config, error) {
	open := web.OpenLoopback
	if !web.IsLoopbackHost(f.addr) {
		n := 0
		none := "no API token exists in this store"
		if a, ok := st.(store.Auth); ok {
			var err error
			if n, err = a.ActiveTokens(ctx); err != nil {
				return web.Config{}, err
			}
			if n == 0 {
				// Tokens that exist but are all revoked: say so, or
				// `token list` would seem to contradict the message.
				if ts, err := a.Tokens(ctx); err == nil && len(ts) > 0 {
					none = fmt.Sprintf("every API token of this store is revoked (%d, shopstream token list shows them)", len(ts))
				}
			}
		}
		switch {
		case n > 0:
		case f.insecure:
			open = web.OpenAnyone
		default:
			return web.Config{}, usageError{fmt.Errorf("refusing to listen on --addr %s, which other machines can reach, without authentication: "+
				"%s. Create one with `shopstream token create --role admin --name NAME` (with this command's "+
				"--data-dir or --postgres), listen on this machine only with --addr 127.0.0.1%s, or pass --insecure-allow-unauthenticated "+
				"to let anyone in as admin (%s)", f.addr, none, portOf(f.addr), command)}
		}
	}
	addrRate, addrBurst := rateOf(f.addrRate)
	tokRate, tokBurst := rateOf(f.tokenRate)
	return web.Config{Addr: f.addr,
		Auth: web.AuthConfig{Open: open, PublicRead: f.publicRead, SecureCookie: f.secureCookie},
		Limits: web.Limits{MaxBody: f.maxBody, RequestTimeout: f.requestTimeout, AddrRate: addrRate, AddrBurst: addrBurst,
			TokenRate: tokRate, TokenBurst: tokBurst, MaxStreams: noLimit(f.maxStreams), MaxStreamsPerClient: noLimit(f.streamsPer)},
		TLS: web.TLSConfig{CertFile: f.tlsCert, KeyFile: f.tlsKey}, ReadCache: f.readCache}, nil
}

// accessNote says who may use the server, for the start-up line.
func (f *webFlags) accessNote(cfg web.Config) string {
	switch {
	case cfg.Auth.Open == web.OpenAnyone:
		return "WARNING: --insecure-allow-unauthenticated: anyone who reaches " + f.addr + " is admin until an API token is created"
	case web.IsLoopbackHost(f.addr):
		return "this machine only; while no API token exists, local requests need no sign-in and act as admin. " +
			"To open it to others: create a token (shopstream token create --role admin --name NAME) and listen with --addr :" + portOf(f.addr)[1:]
	}
	return "API tokens required (docs/security.md)"
}

func portOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i:]
		}
	}
	return ":8050"
}

// serverURL is the URL a browser opens for srv listening on ln.
func serverURL(srv *web.Server, ln net.Listener) string {
	return srv.Scheme() + strings.TrimPrefix(dashboardURL(ln.Addr().String()), "http")
}
