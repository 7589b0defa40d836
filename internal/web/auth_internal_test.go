package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// TestTokenHashesComparedInConstantTime reads auth.go: verify must compare
// hashes only through hashesMatch, and hashesMatch must use
// subtle.ConstantTimeCompare, never == or bytes.Equal, whose time tells
// how long the matching prefix is.
func TestTokenHashesComparedInConstantTime(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "auth.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	funcs := map[string]*ast.FuncDecl{}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok {
			funcs[fd.Name.Name] = fd
		}
	}
	calls := func(fd *ast.FuncDecl, name string) bool {
		found := false
		ast.Inspect(fd, func(n ast.Node) bool {
			if c, ok := n.(*ast.CallExpr); ok {
				switch fn := c.Fun.(type) {
				case *ast.Ident:
					found = found || fn.Name == name
				case *ast.SelectorExpr:
					found = found || fn.Sel.Name == name
				}
			}
			return true
		})
		return found
	}
	if fd := funcs["hashesMatch"]; fd == nil || !calls(fd, "ConstantTimeCompare") {
		t.Fatal("hashesMatch does not call subtle.ConstantTimeCompare")
	}
	verify := funcs["verify"]
	if verify == nil || !calls(verify, "hashesMatch") || calls(verify, "Equal") {
		t.Fatal("verify does not compare hashes through hashesMatch alone")
	}
	ast.Inspect(verify, func(n ast.Node) bool {
		if b, ok := n.(*ast.BinaryExpr); ok && (b.Op == token.EQL || b.Op == token.NEQ) {
			for _, side := range []ast.Expr{b.X, b.Y} {
				if s, ok := side.(*ast.SelectorExpr); ok && s.Sel.Name == "Hash" {
					t.Errorf("verify compares the hash with %s", b.Op)
				}
			}
		}
		return true
	})
	if !hashesMatch(HashSecret("a"), HashSecret("a")) || hashesMatch(HashSecret("a"), HashSecret("b")) {
		t.Fatal("hashesMatch does not tell equal hashes from different ones")
	}
}

func TestParseToken(t *testing.T) {
	secret, hash, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) != 43 || hash != HashSecret(secret) {
		t.Fatalf("NewToken = %q, %q", secret, hash)
	}
	id, got, ok := parseToken(FormatToken(42, secret))
	if !ok || id != 42 || got != secret {
		t.Fatalf("parseToken(FormatToken(42, s)) = %d, %q, %v", id, got, ok)
	}
	for _, bad := range []string{"", "ss1_", "ss1_x_abc", "ss1_0_abc", "ss1_-1_abc", "ss1_5_", "ss2_5_abc", "ss1_5"} {
		if _, _, ok := parseToken(bad); ok {
			t.Errorf("parseToken(%q) accepted", bad)
		}
	}
}

// FuzzParseToken: any presented text either parses into a positive ID and
// a secret that format back into it, or is refused; nothing panics.
func FuzzParseToken(f *testing.F) {
	for _, s := range []string{"ss1_1_abc", "ss1_99999999999999999999_x", "ss1_1__", "Bearer x", "ss1_01_a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, ok := parseToken(s)
		if !ok {
			return
		}
		if id <= 0 || secret == "" {
			t.Fatalf("parseToken(%q) = %d, %q", s, id, secret)
		}
		if again, sec2, ok := parseToken(FormatToken(id, secret)); !ok || again != id || sec2 != secret {
			t.Fatalf("%q does not round-trip", s)
		}
	})
}

// FuzzSessionRequest fuzzes the decoder of the sign-in and token bodies:
// a body is decoded, or refused as a bad request, never anything else.
func FuzzSessionRequest(f *testing.F) {
	for _, s := range []string{`{"token":"ss1_1_x"}`, `{"token":1}`, `{"token":"a"} {}`, `{"tok":"a"}`, `[]`, ``, `{"name":"n","role":"admin"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, err := decodeJSON[SessionRequest](body, "a session"); err != nil && !isBadRequest(err) {
			t.Fatalf("session body %q: %v is not a bad request", body, err)
		}
		if _, err := decodeJSON[CreateTokenRequest](body, "a token"); err != nil && !isBadRequest(err) {
			t.Fatalf("token body %q: %v is not a bad request", body, err)
		}
	})
}

func isBadRequest(err error) bool { return errors.Is(err, ErrBadRequest) }

// FuzzAuditQuery fuzzes the query of GET /api/v1/audit.
func FuzzAuditQuery(f *testing.F) {
	for _, s := range []string{"limit=10", "limit=0", "before_id=5&limit=1000", "before_id=-1", "limit=1001", "limit=x&limit=2",
		"cursor=5", "cursor=0", "cursor=5&before_id=5", "cursor=5&before_id=6"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		fl, err := parseAuditQuery(v)
		if err != nil {
			if !isBadRequest(err) {
				t.Fatalf("%q: %v is not a bad request", q, err)
			}
			return
		}
		if fl.Limit < 1 || fl.Limit > 1000 || fl.BeforeID < 0 {
			t.Fatalf("%q gave %+v", q, fl)
		}
	})
}

func writeCert(t *testing.T, dir, cn string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func commonName(t *testing.T, c *tls.Certificate) string {
	t.Helper()
	x, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return x.Subject.CommonName
}

// TestCertReload: a renewed certificate is served once its files change;
// a half-written renewal keeps the previous one.
func TestCertReload(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, "first")
	cfg := TLSConfig{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")}
	r, err := newCertReloader(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	r.now = func() time.Time { return now }
	get := func() string {
		c, err := r.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		return commonName(t, c)
	}
	if cn := get(); cn != "first" {
		t.Fatalf("serving %q, want first", cn)
	}
	writeCert(t, dir, "second")
	later := now.Add(time.Minute) // distinct modification times however coarse the file system's clock
	for _, f := range []string{cfg.CertFile, cfg.KeyFile} {
		if err := os.Chtimes(f, later, later); err != nil {
			t.Fatal(err)
		}
	}
	if cn := get(); cn != "first" {
		t.Fatalf("checked again within a second: serving %q, want first still", cn)
	}
	now = now.Add(2 * time.Second)
	if cn := get(); cn != "second" {
		t.Fatalf("after the files changed: serving %q, want second", cn)
	}
	if err := os.WriteFile(cfg.CertFile, []byte("-----BEGIN CERT"), 0o600); err != nil {
		t.Fatal(err)
	}
	evenLater := later.Add(time.Minute)
	os.Chtimes(cfg.CertFile, evenLater, evenLater) //nolint:errcheck // checked by the reload below
	now = now.Add(2 * time.Second)
	if cn := get(); cn != "second" {
		t.Fatalf("after a half-written renewal: serving %q, want second kept", cn)
	}
	if _, err := newCertReloader(TLSConfig{CertFile: cfg.CertFile, KeyFile: cfg.KeyFile}, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a broken pair loaded at start")
	}
}

// TestServeTLS serves HTTPS with the certificate files and checks that a
// sign-in's cookie is Secure there and that HSTS is sent.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, "tls-test")
	st := newTestStore(t)
	s, err := New(Config{Addr: "127.0.0.1:0", Store: st, Logger: slog.New(slog.DiscardHandler),
		TLS: TLSConfig{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	pemBytes, err := os.ReadFile(filepath.Join(dir, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
	tok, err := CreateToken(ctx, st, "ops", "admin", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Post("https://"+ln.Addr().String()+"/api/v1/session", "application/json", strings.NewReader(`{"token":"`+tok.Token+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(resp.Cookies()) != 1 || !resp.Cookies()[0].Secure || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("sign-in over TLS: %d, cookies %+v, HSTS %q", resp.StatusCode, resp.Cookies(), resp.Header.Get("Strict-Transport-Security"))
	}
	if s.Scheme() != "https" {
		t.Fatalf("Scheme() = %q", s.Scheme())
	}
}

func newTestStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestVerifiedTokensReused: a token found valid is not read again within
// activeTTL, so a revocation by another process (the store changed
// directly) takes effect within it; one through this server (forget) at
// once; a wrong secret for a cached ID is refused all the same.
func TestVerifiedTokensReused(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC)
	a := &auth{cfg: AuthConfig{Tokens: st}, now: func() time.Time { return now }, logf: func(string, ...any) {}}
	mint := func(name string) string {
		secret, hash, err := NewToken()
		if err != nil {
			t.Fatal(err)
		}
		id, err := st.CreateToken(ctx, &store.TokenRow{Name: name, Role: "viewer", Hash: hash, CreatedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		return FormatToken(id, secret)
	}
	tok := mint("a")
	id, _, _ := parseToken(tok)
	if p, err := a.verify(ctx, tok); err != nil || p.Role != Viewer || p.TokenID != id {
		t.Fatalf("verify: %+v, %v", p, err)
	}
	if _, err := st.RevokeToken(ctx, id, now); err != nil {
		t.Fatal(err)
	}
	if _, err := a.verify(ctx, tok); err != nil {
		t.Fatalf("within %v of its check, a token revoked elsewhere is still taken from the cache: %v", activeTTL, err)
	}
	forged := tok[:len(tok)-2] + "xx"
	if _, err := a.verify(ctx, forged); !errors.Is(err, errBadCredentials) {
		t.Fatalf("a wrong secret for a cached token: %v, want refused", err)
	}
	now = now.Add(activeTTL)
	if _, err := a.verify(ctx, tok); !errors.Is(err, errBadCredentials) {
		t.Fatalf("after %v a revoked token: %v, want refused", activeTTL, err)
	}

	tok2 := mint("b")
	id2, _, _ := parseToken(tok2)
	if _, err := a.verify(ctx, tok2); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RevokeToken(ctx, id2, now); err != nil {
		t.Fatal(err)
	}
	a.forget() // what a revocation through the API does
	if _, err := a.verify(ctx, tok2); !errors.Is(err, errBadCredentials) {
		t.Fatalf("a token revoked through this server: %v, want refused at once", err)
	}
}

// BenchmarkVerifyToken: the check of a bearer token, read from the store
// each time (as before the cache, and after a change through this server)
// and reused within activeTTL.
func BenchmarkVerifyToken(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	secret, hash, err := NewToken()
	if err != nil {
		b.Fatal(err)
	}
	id, err := st.CreateToken(ctx, &store.TokenRow{Name: "bench", Role: "viewer", Hash: hash, CreatedAt: time.Now()})
	if err != nil {
		b.Fatal(err)
	}
	tok := FormatToken(id, secret)
	for _, cached := range []bool{false, true} {
		name := "read"
		if cached {
			name = "cached"
		}
		b.Run(name, func(b *testing.B) {
			a := &auth{cfg: AuthConfig{Tokens: st}, now: time.Now, logf: func(string, ...any) {}}
			for b.Loop() {
				if !cached {
					a.verified.Clear()
				}
				if _, err := a.verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
