package shopgeo

import (
	"testing"

	"github.com/shopstream/shopstream/internal/fraud"
)

func TestLookups(t *testing.T) {
	t.Parallel()
	cfg := Lookups(fraud.StateConfig{})
	if cfg.CountryOfIP == nil || cfg.CountryOfBIN == nil || cfg.IsHostingIP == nil {
		t.Fatalf("a lookup is left unset: %+v", cfg)
	}
	mine := func(string) string { return "ZZ" }
	if got := Lookups(fraud.StateConfig{CountryOfIP: mine}).CountryOfIP("1.2.3.4"); got != "ZZ" {
		t.Errorf("the caller's CountryOfIP was replaced: got %q", got)
	}
}
