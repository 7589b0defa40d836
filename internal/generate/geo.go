package generate

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// The tables below stand in for a GeoIP database and a card BIN database.
// They are invented but consistent: every IPv4 address and every BIN the
// generator emits maps back to exactly one country through CountryOfIP and
// CountryOfBIN, so "the IP, the card and the parcel are in three different
// countries" is observable from an event alone, the way a fraud team sees it
// with MaxMind and a BIN list. Replace the lookups, not the events, when real
// databases are available.

// country is one country the shop sells to or traffic comes from.
type country struct {
	code string
	// market is the weight of the country as a customer's home; zero for
	// countries that only appear as the origin of fraud traffic.
	market float64
	// tz is the UTC offset in whole hours, without daylight saving: enough
	// to move a persona's shopping hours into UTC.
	tz int
	// ip lists prefixes: "24" is the /8 24.0.0.0, "87.32" the /16 87.32.0.0.
	ip []string
	// hosting lists datacenter and VPN prefixes in the country.
	hosting []string
	// bins lists four-digit card number prefixes issued in the country; a
	// BIN is one of them followed by two digits.
	bins []string
}

var countryTable = []country{
	{code: "US", market: 30, tz: -5, ip: []string{"24", "50", "67", "98", "173"}, hosting: []string{"104.16", "104.17", "104.18"}, bins: []string{"4147", "4266", "4403", "5424", "5178", "3782"}},
	{code: "CA", market: 5, tz: -5, ip: []string{"70", "142"}, bins: []string{"4500", "4537", "5191"}},
	{code: "MX", market: 2, tz: -6, ip: []string{"187", "201.140"}, bins: []string{"4152", "5579"}},
	{code: "BR", market: 3, tz: -3, ip: []string{"177", "189"}, bins: []string{"4389", "5162", "6062"}},
	{code: "GB", market: 10, tz: 0, ip: []string{"81", "86"}, bins: []string{"4659", "4921", "5434"}},
	{code: "IE", market: 1.5, tz: 0, ip: []string{"87.32", "87.33"}, bins: []string{"4543", "5301"}},
	{code: "DE", market: 10, tz: 1, ip: []string{"79", "91"}, hosting: []string{"88.198", "88.99"}, bins: []string{"4571", "5232", "4935"}},
	{code: "FR", market: 7, tz: 1, ip: []string{"82", "90"}, bins: []string{"4974", "5131", "4970"}},
	{code: "NL", market: 4, tz: 1, ip: []string{"77.160", "77.161", "83.80"}, hosting: []string{"185.100", "185.101"}, bins: []string{"4596", "5257"}},
	{code: "ES", market: 4, tz: 1, ip: []string{"83.32", "83.33", "88.0"}, bins: []string{"4940", "5402"}},
	{code: "IT", market: 4, tz: 1, ip: []string{"93", "151.38"}, bins: []string{"4532", "5255"}},
	{code: "PL", market: 3, tz: 1, ip: []string{"83.4", "89.64", "89.65"}, bins: []string{"4056", "5375"}},
	{code: "SE", market: 2, tz: 1, ip: []string{"78.64", "78.65"}, bins: []string{"4581", "5217"}},
	{code: "BE", market: 2, tz: 1, ip: []string{"78.21", "94.224"}, bins: []string{"4796", "5169"}},
	{code: "AT", market: 2, tz: 1, ip: []string{"80.120", "80.121"}, bins: []string{"4550", "5186"}},
	{code: "IN", market: 3, tz: 5, ip: []string{"106", "117.192"}, bins: []string{"4386", "6521"}},
	{code: "SG", market: 1, tz: 8, ip: []string{"116.14", "116.15"}, hosting: []string{"103.10"}, bins: []string{"4568", "5588"}},
	{code: "JP", market: 3, tz: 9, ip: []string{"126", "60.32"}, bins: []string{"3528", "3540", "4297"}},
	{code: "AU", market: 4, tz: 10, ip: []string{"101.160", "101.161", "120.144"}, bins: []string{"4564", "5163"}},
	{code: "NG", tz: 1, ip: []string{"105.112", "197.210"}, bins: []string{"5061", "4187"}},
	{code: "RU", tz: 3, ip: []string{"95", "176.59"}, hosting: []string{"5.188"}, bins: []string{"2200", "4276"}},
	{code: "RO", tz: 2, ip: []string{"109.96", "188.24"}, hosting: []string{"89.38"}, bins: []string{"4140", "5289"}},
	{code: "UA", tz: 2, ip: []string{"46.200", "46.201"}, bins: []string{"4149", "5168"}},
	{code: "VN", tz: 7, ip: []string{"113.160", "14.160"}, bins: []string{"9704", "4221"}},
	{code: "ID", tz: 7, ip: []string{"36.64", "180.240"}, bins: []string{"4617", "5264"}},
	{code: "CN", tz: 8, ip: []string{"58", "220.181"}, bins: []string{"6210", "6222"}},
	{code: "PK", tz: 5, ip: []string{"39.32", "119.152"}, bins: []string{"4216", "5351"}},
	{code: "TR", tz: 3, ip: []string{"78.160", "88.240"}, bins: []string{"4603", "5400"}},
	{code: "PH", tz: 8, ip: []string{"49.144", "112.198"}, bins: []string{"4704", "5308"}},
}

// ipRange is one prefix of a country: base is the first address, hostBits
// how many low bits vary (24 for a /8, 16 for a /16).
type ipRange struct {
	base     uint32
	hostBits uint8
}

// geoTables is the compiled form of countryTable.
type geoTables struct {
	ipCountry  [1 << 16]uint8 // by the first two octets: country index + 1, 0 = unknown
	ipHosting  [1 << 16]bool
	binCountry [10000]uint8 // by the first four digits: country index + 1
	ranges     [][]ipRange  // residential ranges per country
	hosting    []ipRange    // all hosting ranges
	hostingOf  [][]ipRange  // hosting ranges per country (may be empty)
	bins       [][]uint32   // four-digit prefixes per country
	markets    []uint8      // indices of countries with market > 0
	marketW    []float64    // their weights
	others     []uint8      // countries that are not markets
}

var geo = buildGeo()

func buildGeo() *geoTables {
	g := &geoTables{
		ranges:    make([][]ipRange, len(countryTable)),
		hostingOf: make([][]ipRange, len(countryTable)),
		bins:      make([][]uint32, len(countryTable)),
	}
	if len(countryTable) > 254 {
		panic("generate: too many countries for a uint8 index")
	}
	addIP := func(ci int, prefix string, hosting bool) ipRange {
		a, b, slash16 := parsePrefix(prefix)
		r := ipRange{base: uint32(a) << 24, hostBits: 24}
		lo, hi := a<<8, a<<8|0xff
		if slash16 {
			r = ipRange{base: uint32(a)<<24 | uint32(b)<<16, hostBits: 16}
			lo, hi = a<<8|b, a<<8|b
		}
		for k := lo; k <= hi; k++ {
			if g.ipCountry[k] != 0 {
				panic(fmt.Sprintf("generate: IP prefix %s of %s overlaps another country", prefix, countryTable[ci].code))
			}
			g.ipCountry[k] = uint8(ci + 1)
			g.ipHosting[k] = hosting
		}
		return r
	}
	for ci, c := range countryTable {
		for _, p := range c.ip {
			g.ranges[ci] = append(g.ranges[ci], addIP(ci, p, false))
		}
		for _, p := range c.hosting {
			r := addIP(ci, p, true)
			g.hostingOf[ci] = append(g.hostingOf[ci], r)
			g.hosting = append(g.hosting, r)
		}
		for _, p := range c.bins {
			n, err := strconv.Atoi(p)
			if err != nil || len(p) != 4 {
				panic("generate: BIN prefix " + p + " is not four digits")
			}
			if g.binCountry[n] != 0 {
				panic(fmt.Sprintf("generate: BIN prefix %s of %s overlaps another country", p, c.code))
			}
			g.binCountry[n] = uint8(ci + 1)
			g.bins[ci] = append(g.bins[ci], uint32(n))
		}
		if c.market > 0 {
			g.markets = append(g.markets, uint8(ci))
			g.marketW = append(g.marketW, c.market)
		} else {
			g.others = append(g.others, uint8(ci))
		}
	}
	return g
}

func parsePrefix(p string) (a, b int, slash16 bool) {
	for i := 0; i < len(p); i++ {
		if p[i] == '.' {
			x, err1 := strconv.Atoi(p[:i])
			y, err2 := strconv.Atoi(p[i+1:])
			if err1 != nil || err2 != nil || x < 1 || x > 223 || y < 0 || y > 255 {
				panic("generate: bad IP prefix " + p)
			}
			return x, y, true
		}
	}
	x, err := strconv.Atoi(p)
	if err != nil || x < 1 || x > 223 {
		panic("generate: bad IP prefix " + p)
	}
	return x, 0, false
}

// CountryOfIP returns the ISO 3166 country of an IPv4 address in the
// generator's invented address plan, or "" if the address is not in it. It
// stands in for a GeoIP lookup: fraud features call it to compare the
// buyer's network location with the card's and the parcel's country.
func CountryOfIP(ip string) string {
	k, ok := ip16(ip)
	if !ok || geo.ipCountry[k] == 0 {
		return ""
	}
	return countryTable[geo.ipCountry[k]-1].code
}

// IsHostingIP reports whether ip lies in a datacenter or VPN range of the
// address plan. It stands in for the network-type field of a real GeoIP or
// ASN database: bots and fraudsters hide behind such ranges, and so do a few
// honest customers on a VPN.
func IsHostingIP(ip string) bool {
	k, ok := ip16(ip)
	return ok && geo.ipHosting[k]
}

// ip16 parses the first two octets of a dotted IPv4 address without
// allocating.
func ip16(ip string) (int, bool) {
	var oct [2]int
	n, i := 0, 0
	for ; i < len(ip) && n < 2; n++ {
		v, digits := 0, 0
		for i < len(ip) && ip[i] >= '0' && ip[i] <= '9' && digits < 4 {
			v = v*10 + int(ip[i]-'0')
			i++
			digits++
		}
		if digits == 0 || v > 255 {
			return 0, false
		}
		oct[n] = v
		if i < len(ip) && ip[i] == '.' {
			i++
		} else if n == 0 {
			return 0, false
		}
	}
	if n < 2 {
		return 0, false
	}
	return oct[0]<<8 | oct[1], true
}

// CountryOfBIN returns the issuing country of a card BIN (its first four
// digits decide), or "" if the BIN is not in the generator's invented BIN
// table. It stands in for a commercial BIN database.
func CountryOfBIN(bin string) string {
	if len(bin) < 4 {
		return ""
	}
	n := 0
	for i := 0; i < 4; i++ {
		c := bin[i]
		if c < '0' || c > '9' {
			return ""
		}
		n = n*10 + int(c-'0')
	}
	if geo.binCountry[n] == 0 {
		return ""
	}
	return countryTable[geo.binCountry[n]-1].code
}

// ipIn draws an address from r using the hash h for the host bits, avoiding
// network and broadcast-looking last octets.
func ipIn(r ipRange, h uint64) uint32 {
	host := uint32(h) & (1<<r.hostBits - 1)
	host = host&^0xff | (1 + uint32(h>>32)%254)
	return r.base | host
}

// residentialIP returns an address in country ci chosen by the hash h.
func residentialIP(ci uint8, h uint64) uint32 {
	rs := geo.ranges[ci]
	return ipIn(rs[(h>>40)%uint64(len(rs))], h)
}

// hostingIP returns a datacenter address, in country ci when it has one,
// anywhere otherwise.
func hostingIP(ci uint8, h uint64) uint32 {
	rs := geo.hostingOf[ci]
	if len(rs) == 0 {
		rs = geo.hosting
	}
	return ipIn(rs[(h>>40)%uint64(len(rs))], h)
}

// binOf returns a six-digit BIN issued in country ci, chosen by the hash h.
func binOf(ci uint8, h uint64) uint32 {
	bs := geo.bins[ci]
	return bs[h%uint64(len(bs))]*100 + uint32(h>>20)%100
}

// Geography is a real address plan: the networks a GeoIP database maps to
// each country, the hosting ASNs' networks, and a BIN table's prefixes,
// so that real lookups (package geoip) give the answers the scenarios
// intend. With one, the generator still makes every decision on its
// invented plan above, then writes each address and BIN as a real one of
// the same country (and of a hosting network for a hosting address),
// chosen by a hash of the invented one: the same invented address is
// always the same real one, so the records, their order and every
// country, hosting and identity relation stay those of the invented plan.
type Geography struct {
	// Residential lists, per ISO 3166 country code, IPv4 ranges that the
	// GeoIP database maps to the country. Every country of Countries()
	// needs some, unless Residential and Hosting are both nil: the
	// invented addresses are then kept.
	Residential map[string][]IPRange
	// Hosting lists, per country, IPv4 ranges of hosting ASNs in it.
	// Every country of HostingCountries() needs some.
	Hosting map[string][]IPRange
	// BINs lists, per country, the BIN prefixes (one to six digits) a BIN
	// table says it issues. Nil keeps the invented BINs; otherwise every
	// country of Countries() needs some.
	BINs map[string][]string
	// CountryOfIP, IsHostingIP and CountryOfBIN, when set, are the
	// lookups a draw must satisfy: a real address or BIN they disagree
	// with (a hosting network inside a country's range, a longer BIN
	// prefix of another country) is drawn again, up to 64 times.
	CountryOfIP  func(ip string) string
	IsHostingIP  func(ip string) bool
	CountryOfBIN func(bin string) string
}

// IPRange is an IPv4 range, both ends included, as 32-bit numbers.
type IPRange struct{ First, Last uint32 }

// Countries lists the countries of the invented plan: customers' homes,
// shipping destinations and the origins of fraud.
func Countries() []string {
	out := make([]string, len(countryTable))
	for i, c := range countryTable {
		out[i] = c.code
	}
	return out
}

// HostingCountries lists the countries whose datacenter addresses the
// generator uses.
func HostingCountries() []string {
	var out []string
	for _, c := range countryTable {
		if len(c.hosting) > 0 {
			out = append(out, c.code)
		}
	}
	return out
}

// pool is one country's real ranges with their cumulative sizes.
type pool struct {
	r   []IPRange
	cum []uint64 // cum[i] = addresses in r[:i+1]
}

func newPool(rs []IPRange) pool {
	p := pool{r: rs, cum: make([]uint64, len(rs))}
	var n uint64
	for i, r := range rs {
		n += uint64(r.Last-r.First) + 1
		p.cum[i] = n
	}
	return p
}

func (p pool) pick(h uint64) uint32 {
	x := h % p.cum[len(p.cum)-1]
	i := sort.Search(len(p.cum), func(i int) bool { return p.cum[i] > x })
	r := p.r[i]
	base := uint64(0)
	if i > 0 {
		base = p.cum[i-1]
	}
	ip := r.First + uint32(x-base)
	// Avoid .0 and .255, which look like network and broadcast addresses,
	// where the range has room.
	if o := ip & 0xff; (o == 0 || o == 255) && r.Last-r.First >= 2 {
		if o == 0 && ip < r.Last {
			ip++
		} else if ip > r.First {
			ip--
		}
	}
	return ip
}

// realPlan is a compiled Geography, indexed like countryTable.
type realPlan struct {
	res, host []pool     // nil: invented addresses
	bins      [][]string // nil: invented BINs
	geo       *Geography
}

func compileGeography(g *Geography) (*realPlan, error) {
	p := &realPlan{geo: g}
	if g.Residential != nil || g.Hosting != nil {
		p.res, p.host = make([]pool, len(countryTable)), make([]pool, len(countryTable))
	}
	if g.BINs != nil {
		p.bins = make([][]string, len(countryTable))
	}
	for ci, c := range countryTable {
		rs := g.Residential[c.code]
		switch {
		case p.res == nil:
		case len(rs) == 0:
			return nil, fmt.Errorf("generate: the real geography has no IPv4 networks in %s", c.code)
		default:
			p.res[ci] = newPool(rs)
		}
		if p.host != nil && len(c.hosting) > 0 {
			hs := g.Hosting[c.code]
			if len(hs) == 0 {
				return nil, fmt.Errorf("generate: the real geography has no hosting networks in %s (the generator's datacenter traffic comes from %v)", c.code, HostingCountries())
			}
			p.host[ci] = newPool(hs)
		}
		if p.bins != nil {
			for _, b := range g.BINs[c.code] {
				if len(b) >= 1 && len(b) <= 6 && strings.Trim(b, "0123456789") == "" {
					p.bins[ci] = append(p.bins[ci], b)
				}
			}
			if len(p.bins[ci]) == 0 {
				return nil, fmt.Errorf("generate: the BIN table has no prefix of at most six digits issued in %s", c.code)
			}
		}
	}
	return p, nil
}

// ip returns the real address standing for the invented address ip.
// Addresses outside the invented plan are returned as they are.
func (p *realPlan) ip(ip uint32) uint32 {
	k := ip >> 16
	if p == nil || p.res == nil || geo.ipCountry[k] == 0 {
		return ip
	}
	ci := geo.ipCountry[k] - 1
	hosting := geo.ipHosting[k]
	pl := p.res[ci]
	if hosting {
		pl = p.host[ci]
	}
	code := countryTable[ci].code
	h := mix64(uint64(ip) ^ 0x9e3779b97f4a7c15)
	var out uint32
	var buf [15]byte
	for try := 0; try < 64; try++ {
		out = pl.pick(h)
		s := string(appendIP(buf[:0], out))
		if (p.geo.CountryOfIP == nil || p.geo.CountryOfIP(s) == code) &&
			(p.geo.IsHostingIP == nil || p.geo.IsHostingIP(s) == hosting) {
			return out
		}
		h = mix64(h + 1)
	}
	return out
}

var pow10 = [...]uint32{1, 10, 100, 1000, 10000, 100000, 1000000}

// bin returns the real six-digit BIN standing for the invented BIN b.
func (p *realPlan) bin(b uint32) uint32 {
	if p == nil || p.bins == nil || b >= 1000000 || geo.binCountry[b/100] == 0 {
		return b
	}
	ci := geo.binCountry[b/100] - 1
	code := countryTable[ci].code
	bs := p.bins[ci]
	h := mix64(uint64(b) ^ 0xc2b2ae3d27d4eb4f)
	var out uint32
	var buf [6]byte
	for try := 0; try < 64; try++ {
		pre := bs[h%uint64(len(bs))]
		v, _ := strconv.Atoi(pre)
		free := 6 - len(pre)
		out = uint32(v)*pow10[free] + uint32(h>>24)%pow10[free]
		if p.geo.CountryOfBIN == nil || p.geo.CountryOfBIN(string(appendPadded(buf[:0], uint64(out), 6))) == code {
			return out
		}
		h = mix64(h + 1)
	}
	return out
}
