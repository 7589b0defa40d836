package fraud

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/internal/event"
)

// DefaultHighRiskCategories are the departments whose goods resell easily
// and are what stolen cards and hijacked accounts are spent on.
var DefaultHighRiskCategories = []string{"electronics", "phones", "computers", "jewelry", "gift_cards"}

// StateConfig configures a State. The lookups stand in for a GeoIP and a
// card BIN database; they are functions so that this package carries no
// such data and tests can pass tables.
type StateConfig struct {
	// CountryOfIP returns the ISO 3166 alpha-2 country of an IP address,
	// or "" when unknown. Defaults to nil: no IP geography (the IP
	// mismatch features are 0).
	CountryOfIP func(ip string) string
	// CountryOfBIN returns the issuing country of a card BIN, or "".
	// Defaults to nil: no card geography.
	CountryOfBIN func(bin string) string
	// IsHostingIP reports whether an IP address belongs to a datacenter or
	// VPN range. Defaults to nil: hosting_ip is always 0.
	IsHostingIP func(ip string) bool
	// HighRiskCategories lists the categories counted by high_risk_share.
	// Defaults to DefaultHighRiskCategories.
	HighRiskCategories []string
	// CustomerIdle is how long a customer's history is kept after their
	// last purchase before Expire forgets it. It must be at least 24h, the
	// longest window. Defaults to 365 days: a customer back after months is
	// not a new account (at 90 days, 45% of the new-account rules' alerts
	// in a live run were on customers idle longer than that).
	CustomerIdle time.Duration
	// MaxCustomers is the most customers the state keeps: beyond, the
	// customer whose latest purchase is the oldest (in event time) is
	// forgotten as if idle for longer than CustomerIdle, so memory stays
	// bounded however many customers are active within CustomerIdle
	// (about 250 bytes a customer). Defaults to 500,000; -1: no bound.
	MaxCustomers int
	// MaxEntities is the most devices, the most cards and the most IP
	// addresses the state keeps, each: beyond, the least recently seen is
	// forgotten, and its counts start again from the transaction at hand
	// (about 80 bytes each, 140 to 180 once seen twice within the day). Defaults to 500,000; -1: no bound.
	MaxEntities int
	// AddressKey is the deployment's secret shipping addresses are keyed
	// with (event.AddressKey; new_ship_address compares the keys). It must
	// be the key the processor stores them with, since a partition's state
	// is rebuilt from stored rows, which carry the key
	// (event.IsAddressKey). Defaults to nil: unkeyed.
	AddressKey []byte
}

// addressID is the identity the state keeps of a shipping address: the
// 8 bytes of its key (0 for none), computed without allocating. A stored
// row (replayed after a rebalance) carries the key itself
// (event.IsAddressKey), a live record the address.
func (c StateConfig) addressID(a string) uint64 {
	var k [8]byte
	if event.IsAddressKey(a) {
		hex.Decode(k[:], []byte(a))
	} else {
		var ok bool
		if k, ok = event.AddressKeyBytes(c.AddressKey, a); !ok {
			return 0
		}
	}
	return binary.BigEndian.Uint64(k[:]) | 1
}

// WithDefaults returns c with zero fields set to their defaults.
func (c StateConfig) WithDefaults() StateConfig {
	if c.HighRiskCategories == nil {
		c.HighRiskCategories = DefaultHighRiskCategories
	}
	if c.CustomerIdle == 0 {
		c.CustomerIdle = 365 * 24 * time.Hour
	}
	if c.MaxCustomers == 0 {
		c.MaxCustomers = 500_000
	}
	if c.MaxEntities == 0 {
		c.MaxEntities = 500_000
	}
	return c
}

// ErrInvalidConfig is wrapped by every error about a configuration value.
var ErrInvalidConfig = errors.New("invalid fraud configuration")

func (c StateConfig) validate() error {
	switch {
	case c.CustomerIdle < window24h*time.Second:
		return fmt.Errorf("%w: CustomerIdle %s is shorter than the 24h window", ErrInvalidConfig, c.CustomerIdle)
	case c.MaxCustomers < -1 || c.MaxEntities < -1:
		return fmt.Errorf("%w: MaxCustomers %d and MaxEntities %d: want a positive bound, or -1 for none",
			ErrInvalidConfig, c.MaxCustomers, c.MaxEntities)
	}
	return nil
}
