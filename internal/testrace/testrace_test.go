package testrace

import (
	"runtime/debug"
	"testing"
)

// TestEnabledFollowsTheBuild checks Enabled against the -race setting the
// Go toolchain records in the test binary's build information.
func TestEnabledFollowsTheBuild(t *testing.T) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("the test binary has no build information")
	}
	race := false
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			race = s.Value == "true"
		}
	}
	if Enabled != race {
		t.Fatalf("Enabled = %v, the build's -race setting says %v", Enabled, race)
	}
}

func TestSkipUnderRace(t *testing.T) {
	ran := false
	t.Run("check", func(t *testing.T) {
		SkipUnderRace(t)
		ran = true
	})
	if ran == Enabled {
		t.Fatalf("the check ran %v with Enabled %v", ran, Enabled)
	}
}
