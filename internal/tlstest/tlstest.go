// Package tlstest makes a throwaway certificate authority for tests: a
// self-signed CA, a server certificate for localhost and 127.0.0.1, and a
// client certificate, written as PEM files, so Kafka (kfake) and
// PostgreSQL can be tested with TLS as a deployment runs them.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Certs are the PEM files of one CA and the certificates it signed.
type Certs struct {
	Dir                   string
	CAFile                string
	ServerCert, ServerKey string
	ClientCert, ClientKey string
	// OtherCAFile is a CA that signed none of them, for tests of a
	// client that must refuse the server.
	OtherCAFile string
	caPool      *x509.CertPool
}

// New writes a CA, a server and a client certificate into a temporary
// directory of t.
func New(t testing.TB) *Certs {
	t.Helper()
	dir := t.TempDir()
	c := &Certs{Dir: dir}
	caCert, caKey := newCA(t, "shopstream test CA")
	c.CAFile = writeCert(t, dir, "ca.crt", caCert)
	c.caPool = x509.NewCertPool()
	c.caPool.AddCert(caCert)
	other, _ := newCA(t, "another CA")
	c.OtherCAFile = writeCert(t, dir, "other-ca.crt", other)

	srv, srvKey := sign(t, caCert, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	c.ServerCert, c.ServerKey = writeCert(t, dir, "server.crt", srv), writeKey(t, dir, "server.key", srvKey)
	cl, clKey := sign(t, caCert, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "shopstream"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	c.ClientCert, c.ClientKey = writeCert(t, dir, "client.crt", cl), writeKey(t, dir, "client.key", clKey)
	return c
}

// ServerConfig is a server's TLS config with the server certificate;
// with requireClient, it also requires a client certificate signed by
// the CA.
func (c *Certs) ServerConfig(t testing.TB, requireClient bool) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(c.ServerCert, c.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if requireClient {
		cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, c.caPool
	}
	return cfg
}

// newSerial is a random serial number, so certificates made at once
// differ.
func newSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newCA(t testing.TB, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func sign(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key := newKey(t)
	tmpl.SerialNumber = newSerial(t)
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func writeCert(t testing.TB, dir, name string, c *x509.Certificate) string {
	t.Helper()
	return writePEM(t, dir, name, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func writeKey(t testing.TB, dir, name string, k *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, dir, name, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func writePEM(t testing.TB, dir, name string, b *pem.Block) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(b), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
