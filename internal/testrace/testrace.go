// Package testrace lets a long, single-goroutine model check skip itself
// under the race detector. Such a check (a fraud evaluation over months
// of a generated shop, a closed A/B loop of 300,000 records) shares no
// memory between goroutines that other tests do not already exercise
// under -race, yet runs 5 to 10 times slower there: together they took
// more than half of CI's test time.
//
// make test runs the whole suite with -race, where these checks skip, and
// then runs exactly these checks once without it (the Makefile's
// HEAVY_TESTS and HEAVY_PKGS). internal/archtest checks that the two
// lists and the calls of SkipUnderRace agree, so no check is left out of
// both passes.
package testrace

import "testing"

// Enabled reports whether the binary was built with -race.
const Enabled = enabled

// SkipUnderRace skips t when the race detector is on; make test runs it in
// its second pass, without -race.
func SkipUnderRace(t testing.TB) {
	t.Helper()
	if Enabled {
		t.Skip("a long single-goroutine model check: make test runs it without -race (HEAVY_TESTS)")
	}
}
