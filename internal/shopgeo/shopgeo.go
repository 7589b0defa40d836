// Package shopgeo gives fraud detection the synthetic shop's invented
// address and card-BIN tables (package generate) as its GeoIP and BIN
// databases. It is wiring: the commands pass Lookups to the detector, so
// neither the detector nor the domain imports the generator.
package shopgeo

import (
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/generate"
)

// Lookups returns cfg with its missing country and hosting lookups set to
// the synthetic shop's tables.
func Lookups(cfg fraud.StateConfig) fraud.StateConfig {
	if cfg.CountryOfIP == nil {
		cfg.CountryOfIP = generate.CountryOfIP
	}
	if cfg.CountryOfBIN == nil {
		cfg.CountryOfBIN = generate.CountryOfBIN
	}
	if cfg.IsHostingIP == nil {
		cfg.IsHostingIP = generate.IsHostingIP
	}
	return cfg
}
