// Package experiment is the A/B testing framework's pure core: assignment of
// units (customers) to variants by hashing, and the statistics that compare
// variants.
//
// Assignment follows GrowthBook's SDKs exactly (32-bit FNV-1a of seed and
// unit, hash versions 1 and 2, bucket ranges from weights and coverage), so an
// assignment made here can be reproduced by any GrowthBook SDK or by hand; the
// package's tests reproduce GrowthBook's cross-SDK vectors.
//
// The statistics are those of GrowthBook's frequentist engine: the relative
// lift of a treatment over control with a delta-method variance, a
// fixed-horizon Welch t test, and a sequential test (asymptotic confidence
// sequences, Waudby-Smith et al. 2023) whose intervals stay valid however
// often they are looked at; besides these, the classic pooled two-proportion
// z test and a chi-square sample-ratio-mismatch check. Everything is a pure
// function of counts and sums, so results can be recomputed from stored
// exposure and conversion totals.
package experiment
