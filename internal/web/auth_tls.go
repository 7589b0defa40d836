package web

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// TLSConfig names the certificate and key files of the HTTPS server. Both
// empty means plain HTTP.
type TLSConfig struct {
	CertFile string
	KeyFile  string
}

func (c TLSConfig) enabled() bool { return c.CertFile != "" || c.KeyFile != "" }

func (c TLSConfig) validate() error {
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("--tls-cert and --tls-key go together: give both or neither")
	}
	return nil
}

// certReloader serves the certificate in its files and loads it again when
// either file changes (a renewal), checking their modification times at
// most once a second. A pair that does not load (a renewal half written)
// is logged, and the previous certificate kept. Hand-written rather than
// taken from a library: it is a stat and tls.LoadX509KeyPair, and a file
// watcher would add a dependency for no gain at one check a second.
type certReloader struct {
	cfg TLSConfig
	log *slog.Logger
	now func() time.Time

	mu              sync.Mutex
	cert            *tls.Certificate
	certMod, keyMod time.Time
	checked         time.Time
}

func newCertReloader(cfg TLSConfig, log *slog.Logger) (*certReloader, error) {
	c := &certReloader{cfg: cfg, log: log, now: time.Now}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *certReloader) modTimes() (cert, key time.Time, err error) {
	ci, err := os.Stat(c.cfg.CertFile)
	if err != nil {
		return cert, key, fmt.Errorf("--tls-cert: %w", err)
	}
	ki, err := os.Stat(c.cfg.KeyFile)
	if err != nil {
		return cert, key, fmt.Errorf("--tls-key: %w", err)
	}
	return ci.ModTime(), ki.ModTime(), nil
}

// load reads the pair; c.mu is held or c not yet shared.
func (c *certReloader) load() error {
	cm, km, err := c.modTimes()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(c.cfg.CertFile, c.cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("loading --tls-cert %s and --tls-key %s: %w", c.cfg.CertFile, c.cfg.KeyFile, err)
	}
	c.cert, c.certMod, c.keyMod, c.checked = &cert, cm, km, c.now()
	return nil
}

// GetCertificate is tls.Config.GetCertificate.
func (c *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now().Sub(c.checked) < time.Second {
		return c.cert, nil
	}
	c.checked = c.now()
	cm, km, err := c.modTimes()
	if err != nil {
		c.log.Error("checking the TLS certificate files; serving the loaded certificate", "err", err)
		return c.cert, nil
	}
	if cm.Equal(c.certMod) && km.Equal(c.keyMod) {
		return c.cert, nil
	}
	if err := c.load(); err != nil {
		c.log.Error("reloading the TLS certificate failed; serving the previous one", "err", err)
		return c.cert, nil
	}
	c.log.Info("TLS certificate reloaded", "cert", c.cfg.CertFile)
	return c.cert, nil
}
