package geoip

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

// ASN is an autonomous system: the network an address is routed to.
type ASN struct {
	Number       uint32
	Organization string
}

// asnSource answers IP-to-ASN questions: from a MaxMind-format ASN
// database (GeoLite2-ASN's layout) or from an ip-location-db ASN CSV.
type asnSource interface {
	lookup(ip netip.Addr) (ASN, bool)
	// ranges calls f with every IPv4 range [lo, hi] of an ASN for which
	// want is true.
	ranges(want func(uint32) bool, f func(lo, hi uint32, asn uint32))
	close() error
}

// mmdbASN reads GeoLite2-ASN-style records.
type mmdbASN struct{ r *maxminddb.Reader }

type asnRecord struct {
	Number       uint32 `maxminddb:"autonomous_system_number"`
	Organization string `maxminddb:"autonomous_system_organization"`
}

func (m mmdbASN) lookup(ip netip.Addr) (ASN, bool) {
	var rec asnRecord
	if err := m.r.Lookup(ip).Decode(&rec); err != nil || rec.Number == 0 {
		return ASN{}, false
	}
	return ASN(rec), true
}

func (m mmdbASN) ranges(want func(uint32) bool, f func(lo, hi, asn uint32)) {
	var rec struct {
		Number uint32 `maxminddb:"autonomous_system_number"`
	}
	for res := range m.r.NetworksWithin(netip.MustParsePrefix("0.0.0.0/0")) {
		rec.Number = 0
		if res.Decode(&rec) != nil || !want(rec.Number) {
			continue
		}
		lo, hi := prefixRange(res.Prefix())
		f(lo, hi, rec.Number)
	}
}

func (m mmdbASN) close() error { return m.r.Close() }

// prefixRange returns the first and last address of an IPv4 prefix.
func prefixRange(p netip.Prefix) (lo, hi uint32) {
	a := p.Masked().Addr().As4()
	lo = uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	bits := p.Bits()
	if p.Addr().Is4In6() || p.Addr().Is6() {
		bits -= 96
	}
	return lo, lo | uint32(uint64(1)<<(32-bits)-1)
}

// csvASN is an ip-location-db ASN CSV: start,end,asn,organisation per
// line, inclusive ranges, sorted or not.
type csvASN struct {
	v4   []range4
	v6   []range6
	orgs []string
}

type range4 struct {
	lo, hi uint32
	asn    uint32
	org    uint32 // index into orgs
}

type range6 struct {
	lo, hi [16]byte
	asn    uint32
	org    uint32
}

func readASNCSV(r io.Reader) (*csvASN, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 4
	cr.ReuseRecord = true
	out := &csvASN{}
	orgIdx := map[string]uint32{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("want start,end,asn,organisation per line: %w", err)
		}
		line, _ := cr.FieldPos(0)
		lo, err1 := netip.ParseAddr(rec[0])
		hi, err2 := netip.ParseAddr(rec[1])
		n, err3 := strconv.ParseUint(strings.TrimPrefix(rec[2], "AS"), 10, 32)
		if err1 != nil || err2 != nil || err3 != nil || lo.Is4() != hi.Is4() || hi.Less(lo) {
			return nil, fmt.Errorf("line %d: want start,end,asn,organisation (an address range and an AS number), got %q", line, strings.Join(rec, ","))
		}
		oi, ok := orgIdx[rec[3]]
		if !ok {
			oi = uint32(len(out.orgs))
			orgIdx[strings.Clone(rec[3])] = oi
			out.orgs = append(out.orgs, strings.Clone(rec[3]))
		}
		if lo.Is4() {
			out.v4 = append(out.v4, range4{lo: u32(lo), hi: u32(hi), asn: uint32(n), org: oi})
		} else {
			out.v6 = append(out.v6, range6{lo: lo.As16(), hi: hi.As16(), asn: uint32(n), org: oi})
		}
	}
	if len(out.v4)+len(out.v6) == 0 {
		return nil, fmt.Errorf("no ranges")
	}
	// Real files have a few overlapping rows (a block and a part of it
	// announced by another AS): where two overlap, the one that starts
	// later (of two starting together, the narrower), the more specific,
	// wins.
	slices.SortFunc(out.v4, func(a, b range4) int {
		if c := cmpU32(a.lo, b.lo); c != 0 {
			return c
		}
		return cmpU32(b.hi, a.hi)
	})
	out.v4 = flatten4(out.v4)
	slices.SortFunc(out.v6, func(a, b range6) int {
		if c := bytes.Compare(a.lo[:], b.lo[:]); c != 0 {
			return c
		}
		return bytes.Compare(b.hi[:], a.hi[:])
	})
	v6 := out.v6[:0]
	for i, r := range out.v6 {
		if i+1 < len(out.v6) && bytes.Compare(out.v6[i+1].lo[:], r.hi[:]) <= 0 {
			if out.v6[i+1].lo == r.lo {
				continue
			}
			r.hi = netip.AddrFrom16(out.v6[i+1].lo).Prev().As16()
		}
		v6 = append(v6, r)
	}
	out.v6 = v6
	return out, nil
}

// flatten4 turns ranges sorted by start (wider first) into disjoint ones:
// at each address the range that started last covers it.
func flatten4(in []range4) []range4 {
	out := make([]range4, 0, len(in))
	var stack []range4
	var pos uint64                  // next address not yet emitted
	emitUntil := func(end uint64) { // emit [pos, end) from the stack
		for len(stack) > 0 && pos < end {
			top := stack[len(stack)-1]
			if uint64(top.hi) < pos {
				stack = stack[:len(stack)-1]
				continue
			}
			last := min(uint64(top.hi), end-1)
			r := top
			r.lo, r.hi = uint32(pos), uint32(last)
			out = append(out, r)
			pos = last + 1
			if uint64(top.hi) == last {
				stack = stack[:len(stack)-1]
			}
		}
	}
	for _, r := range in {
		emitUntil(uint64(r.lo))
		stack = append(stack, r)
		pos = max(pos, uint64(r.lo))
	}
	emitUntil(1 << 32)
	return out
}

func cmpU32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func fmtU32(v uint32) string {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}

func (c *csvASN) lookup(ip netip.Addr) (ASN, bool) {
	if ip.Is4() || ip.Is4In6() {
		v := u32(ip.Unmap())
		i, _ := slices.BinarySearchFunc(c.v4, v, func(r range4, v uint32) int { return cmpU32(r.lo, v) })
		// i is the first range starting after v, or at v.
		if i < len(c.v4) && c.v4[i].lo == v {
			return ASN{c.v4[i].asn, c.orgs[c.v4[i].org]}, true
		}
		if i > 0 && c.v4[i-1].hi >= v {
			return ASN{c.v4[i-1].asn, c.orgs[c.v4[i-1].org]}, true
		}
		return ASN{}, false
	}
	v := ip.As16()
	i, _ := slices.BinarySearchFunc(c.v6, v, func(r range6, v [16]byte) int { return bytes.Compare(r.lo[:], v[:]) })
	if i < len(c.v6) && c.v6[i].lo == v {
		return ASN{c.v6[i].asn, c.orgs[c.v6[i].org]}, true
	}
	if i > 0 && bytes.Compare(c.v6[i-1].hi[:], v[:]) >= 0 {
		return ASN{c.v6[i-1].asn, c.orgs[c.v6[i-1].org]}, true
	}
	return ASN{}, false
}

func (c *csvASN) ranges(want func(uint32) bool, f func(lo, hi, asn uint32)) {
	for _, r := range c.v4 {
		if want(r.asn) {
			f(r.lo, r.hi, r.asn)
		}
	}
}

func (c *csvASN) close() error { return nil }

// openASN opens an ASN database: CSV when the name ends in .csv, else a
// MaxMind-format database.
func openASN(path string) (asnSource, error) {
	if strings.HasSuffix(strings.ToLower(path), ".csv") {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		c, err := readASNCSV(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return c, nil
	}
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, err
	}
	var probe asnRecord
	if !strings.Contains(strings.ToLower(r.Metadata.DatabaseType), "asn") {
		// Accept any database whose records carry the ASN fields; reject
		// a country or city database given by mistake.
		for res := range r.Networks() {
			if err := res.Decode(&probe); err != nil || probe.Number == 0 {
				r.Close()
				return nil, fmt.Errorf("%s: a %q database, not an ASN database (its records have no autonomous_system_number)", path, r.Metadata.DatabaseType)
			}
			break
		}
	}
	return mmdbASN{r}, nil
}
