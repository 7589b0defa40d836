package iforest

import (
	"errors"
	"fmt"
)

// The published defaults (Liu et al. 2008, section 4): path lengths
// converge well before 100 trees, and ψ = 256 suffices across their
// benchmarks, larger samples adding cost and swamping.
const (
	DefaultTrees      = 100
	DefaultSampleSize = 256
)

// Limits that keep a forest bounded, in memory and in what decoding an
// untrusted encoding may allocate. A tree of height ⌈log₂ ψ⌉ takes
// 2^(⌈log₂ ψ⌉+1) − 1 nodes of 16 bytes, so MaxNodes (64 MiB) allows the
// default 100 trees up to ψ = 16384.
const (
	MaxTrees      = 1 << 14
	MaxSampleSize = 1 << 16
	MaxNodes      = 1 << 22
	MaxFeatures   = 1 << 16
)

// ErrInvalidConfig is wrapped by every error about a [Config] value, so
// callers can tell a bad setting (report it against the flag) from bad data.
var ErrInvalidConfig = errors.New("invalid isolation forest configuration")

// Config sets how a forest is grown. The zero value, after [Config.WithDefaults],
// is the published method with seed 0.
type Config struct {
	// Trees is the number of isolation trees. Defaults to 100.
	Trees int
	// SampleSize is ψ, the rows drawn (without replacement) to grow each
	// tree; it also sets the height limit ⌈log₂ ψ⌉. When the training set
	// has fewer rows, all of them are used. Must be at least 2. Defaults
	// to 256.
	SampleSize int
	// Seed seeds the random source, so a forest can be grown again
	// identically. There is no default: 0 is a seed like any other.
	Seed int64
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Trees == 0 {
		c.Trees = DefaultTrees
	}
	if c.SampleSize == 0 {
		c.SampleSize = DefaultSampleSize
	}
	return c
}

// validate rejects settings that cannot grow a forest, naming the field.
func (c Config) validate() error {
	switch {
	case c.Trees < 1 || c.Trees > MaxTrees:
		return fmt.Errorf("%w: Trees is %d, must be between 1 and %d", ErrInvalidConfig, c.Trees, MaxTrees)
	case c.SampleSize < 2 || c.SampleSize > MaxSampleSize:
		// ψ = 1 would make c(ψ) = 0 and every score 2^(0/0).
		return fmt.Errorf("%w: SampleSize is %d, must be between 2 and %d", ErrInvalidConfig, c.SampleSize, MaxSampleSize)
	}
	return nil
}

// checkNodes rejects a forest whose node array would exceed MaxNodes.
func checkNodes(trees, psi int) error {
	if n := trees * treeNodes(heightLimit(psi)); n > MaxNodes {
		return fmt.Errorf("%w: %d trees of sample size %d need %d nodes, more than the limit of %d",
			ErrInvalidConfig, trees, psi, n, MaxNodes)
	}
	return nil
}
