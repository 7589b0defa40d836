package cli

import (
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
)

// defaultMemoryLimit is process's soft memory limit unless --memory-limit
// or GOMEMLIMIT says otherwise: the deployed benchmark's processor (a
// million customers, background jobs on) peaked at 1.1 to 1.3 GiB of
// resident memory without one, most of it the collector's slack over a
// live heap of about half that, and under 1 GiB with it, at the same
// throughput (docs/benchmarks.md).
const defaultMemoryLimit = 900 << 20

// memoryLimit is a --memory-limit value: bytes, written as the runtime's
// GOMEMLIMIT is (an integer with an optional B, KiB, MiB, GiB or TiB
// suffix; 0 for none). It is parsed here rather than by a size library
// because those read "MB" as 10⁶ bytes and accept forms GOMEMLIMIT does
// not, and the flag should mean what the variable means.
type memoryLimit struct {
	bytes int64
	set   bool // given on the command line, in the environment or a file
}

var memoryUnits = []struct {
	suffix string
	shift  uint
}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}

func parseMemoryLimit(s string) (int64, error) {
	num, shift := s, uint(0)
	for _, u := range memoryUnits {
		if strings.HasSuffix(s, u.suffix) {
			num, shift = strings.TrimSuffix(s, u.suffix), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || num == "" || num[0] == '+' {
		return 0, fmt.Errorf("%q is not a size such as 900MiB or 2GiB", s)
	}
	if n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n << shift, nil
}

func (m *memoryLimit) Set(s string) error {
	n, err := parseMemoryLimit(s)
	if err != nil {
		return err
	}
	m.bytes, m.set = n, true
	return nil
}

func (m *memoryLimit) String() string {
	if m == nil {
		return ""
	}
	for _, u := range memoryUnits {
		if m.bytes != 0 && m.bytes%(1<<u.shift) == 0 {
			return strconv.FormatInt(m.bytes>>u.shift, 10) + u.suffix
		}
	}
	return "0"
}

// limit returns the soft memory limit to set, and whether to set one: the
// flag's when it was given (0: none), else the runtime's GOMEMLIMIT when
// the environment has it (the runtime applied it already), else the
// default.
func (m *memoryLimit) limit(gomemlimit string) (int64, bool) {
	switch {
	case m.set && m.bytes == 0:
		return math.MaxInt64, true
	case m.set:
		return m.bytes, true
	case gomemlimit != "":
		return 0, false
	}
	return m.bytes, true
}

// apply sets the runtime's soft memory limit as limit says, or leaves
// GOMEMLIMIT's in force.
func (m *memoryLimit) apply(gomemlimit string) {
	if n, ok := m.limit(gomemlimit); ok {
		debug.SetMemoryLimit(n)
	}
}

// sizeFlag is a flag of a size in bytes, written as --memory-limit's are
// (4096, 512KiB, 1MiB).
type sizeFlag int64

func (b *sizeFlag) Set(s string) error {
	n, err := parseMemoryLimit(s)
	if err != nil {
		return err
	}
	*b = sizeFlag(n)
	return nil
}

func (b *sizeFlag) String() string {
	if b == nil {
		return ""
	}
	m := memoryLimit{bytes: int64(*b)}
	return m.String()
}
