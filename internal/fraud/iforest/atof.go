package iforest

import (
	"encoding/binary"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"sync"
)

// parseFloat is strconv.ParseFloat(string(b), 64), the same value and the
// same error for every input, faster for the plain decimals a CSV of
// features holds: [+-]digits[.digits][(e|E)[+-]digits] with at most 19
// significant digits. Those are read in one pass into a 64-bit mantissa and
// a power of ten, and converted exactly: by one float64 multiplication or
// division when both are exact (what strconv does first, too), else by the
// Eisel-Lemire algorithm (what strconv does next). Any other input (hex,
// inf, nan, underscores, more digits, an exponent out of range, a value
// Eisel-Lemire cannot round with certainty, an error) goes to strconv.
//
// Why by hand: strconv.ParseFloat takes a string and spends most of its
// time in a general scanner (bases, underscores, special values); reading
// a million rows of ten 17-digit features, it was three quarters of the
// reading, and pandas' C reader read the same file about three times
// faster. No maintained Go library offers a correctly rounded parse of a
// byte slice (fastjson's fastfloat rounds twice for 17-digit mantissas);
// the algorithm here is the one strconv uses, tested against it on
// millions of inputs (TestParseFloatAsStrconv, FuzzParseFloat).
func parseFloat(b []byte) (float64, error) {
	if f, ok := parseDecimal(b); ok {
		return f, nil
	}
	return strconv.ParseFloat(string(b), 64)
}

// parseDecimal is parseFloat's fast path; ok is false for any input it
// leaves to strconv.
func parseDecimal(b []byte) (f float64, ok bool) {
	i, n := 0, len(b)
	neg := false
	if i < n && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	var man uint64
	digits, sig, exp10 := 0, 0, 0 // digits read, those from the first non-zero one, and the power of ten of man's last
	var nd int
	i, man, sig, nd = readDigits(b, i, man, sig)
	digits += nd
	if i < n && b[i] == '.' {
		i, man, sig, nd = readDigits(b, i+1, man, sig)
		digits += nd
		exp10 -= nd
	}
	if digits == 0 || sig > 19 {
		return 0, false
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < n && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		if i == n {
			return 0, false
		}
		e := 0
		for ; i < n && b[i]-'0' < 10; i++ {
			if e < 10000 {
				e = e*10 + int(b[i]-'0')
			}
		}
		if eneg {
			e = -e
		}
		exp10 += e
	}
	if i != n {
		return 0, false
	}
	if man == 0 {
		if neg {
			return math.Copysign(0, -1), true
		}
		return 0, true
	}
	// Exact: man and 10^|exp10| are both float64s exactly, so one
	// operation rounds once.
	if man <= 1<<53 && exp10 >= -22 && exp10 <= 22 {
		f = float64(man)
		if exp10 < 0 {
			f /= exactPow10[-exp10]
		} else {
			f *= exactPow10[exp10]
		}
		if neg {
			f = -f
		}
		return f, true
	}
	return eiselLemire64(man, exp10, neg)
}

// readDigits appends the run of decimal digits of b from i to man, eight
// at a time where there are eight: it returns where the run ends, man,
// sig (the digits counted from the first non-zero one, what they were
// plus this run's) and how many digits the run held. man is meaningless
// once sig passes 19.
func readDigits(b []byte, i int, man uint64, sig int) (int, uint64, int, int) {
	from := i
	for ; i+8 <= len(b); i += 8 {
		v, lead, ok := eightDigits(b[i:])
		if !ok {
			break
		}
		man = man*1e8 + v
		if sig > 0 {
			sig += 8
		} else {
			sig = 8 - lead
		}
	}
	for ; i < len(b) && b[i]-'0' < 10; i++ {
		man = man*10 + uint64(b[i]-'0')
		if sig > 0 || b[i] != '0' {
			sig++
		}
	}
	return i, man, sig, i - from
}

// eightDigits reads b[:8] as eight decimal digits at once (SWAR, as
// Lemire's fast_float does): their value, how many of them lead with
// zeros, and ok false if any byte is not a digit.
func eightDigits(b []byte) (v uint64, lead int, ok bool) {
	x := binary.LittleEndian.Uint64(b)
	if (x&0xF0F0F0F0F0F0F0F0)|(((x+0x0606060606060606)&0xF0F0F0F0F0F0F0F0)>>4) != 0x3333333333333333 {
		return 0, 0, false
	}
	x -= 0x3030303030303030 // each byte its digit, the first digit lowest
	lead = bits.TrailingZeros64(x) / 8
	x = x*10 + x>>8 // pairs
	x = ((x&0x000000FF000000FF)*(100+(1000000<<32)) + (x>>16&0x000000FF000000FF)*(1+(10000<<32))) >> 32
	return x, lead, true
}

var exactPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
	1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// The powers of ten Eisel-Lemire multiplies by: 10^q for q in
// [pow10Min, pow10Max] as a 128-bit mantissa rounded down, its top bit set.
const (
	pow10Min = -348
	pow10Max = 347
)

var (
	pow10Once  sync.Once
	pow10Table [pow10Max - pow10Min + 1][2]uint64 // [lo, hi]
)

// pow10Mantissas computes the table with math/big (a millisecond, once),
// rather than holding 1,392 literals.
func pow10Mantissas() *[pow10Max - pow10Min + 1][2]uint64 {
	pow10Once.Do(func() {
		ten := big.NewInt(10)
		mask := new(big.Int).SetUint64(math.MaxUint64)
		var m, p, lo big.Int
		for q := pow10Min; q <= pow10Max; q++ {
			if q >= 0 {
				p.Exp(ten, big.NewInt(int64(q)), nil)
				if l := p.BitLen(); l >= 128 {
					m.Rsh(&p, uint(l-128))
				} else {
					m.Lsh(&p, uint(128-l))
				}
			} else {
				// floor(2^(127+L) / 10^-q), L the bit length of 10^-q:
				// 128 bits, as 10^-q is no power of two.
				p.Exp(ten, big.NewInt(int64(-q)), nil)
				m.Lsh(big.NewInt(1), uint(127+p.BitLen()))
				m.Quo(&m, &p)
			}
			lo.And(&m, mask)
			pow10Table[q-pow10Min] = [2]uint64{lo.Uint64(), new(big.Int).Rsh(&m, 64).Uint64()}
		}
	})
	return &pow10Table
}

// eiselLemire64 converts man × 10^exp10 to the nearest float64, or says
// it cannot be sure (ok false): the algorithm of Daniel Lemire, "Number
// Parsing at a Gigabyte per Second" (2021), as Nigel Tao's write-up and
// Go's strconv (atofeisel.go) state it.
func eiselLemire64(man uint64, exp10 int, neg bool) (f float64, ok bool) {
	if exp10 < pow10Min || exp10 > pow10Max {
		return 0, false
	}
	pow := &pow10Mantissas()[exp10-pow10Min]
	// Normalization.
	clz := bits.LeadingZeros64(man)
	man <<= uint(clz)
	const bias = 1023
	retExp2 := uint64(217706*exp10>>16+64+bias) - uint64(clz)
	// Multiplication.
	xHi, xLo := bits.Mul64(man, pow[1])
	// Wider approximation.
	if xHi&0x1FF == 0x1FF && xLo+man < man {
		yHi, yLo := bits.Mul64(man, pow[0])
		mergedHi, mergedLo := xHi, xLo+yHi
		if mergedLo < xLo {
			mergedHi++
		}
		if mergedHi&0x1FF == 0x1FF && mergedLo+1 == 0 && yLo+man < man {
			return 0, false
		}
		xHi, xLo = mergedHi, mergedLo
	}
	// Shifting to 54 bits.
	msb := xHi >> 63
	retMantissa := xHi >> (msb + 9)
	retExp2 -= 1 ^ msb
	// Half-way ambiguity.
	if xLo == 0 && xHi&0x1FF == 0 && retMantissa&3 == 1 {
		return 0, false
	}
	// From 54 to 53 bits.
	retMantissa += retMantissa & 1
	retMantissa >>= 1
	if retMantissa>>53 > 0 {
		retMantissa >>= 1
		retExp2++
	}
	// Zero or below: subnormal; 0x7FF or above: infinite. strconv decides.
	if retExp2-1 >= 0x7FF-1 {
		return 0, false
	}
	retBits := retExp2<<52 | retMantissa&(1<<52-1)
	if neg {
		retBits |= 1 << 63
	}
	return math.Float64frombits(retBits), true
}
