package geoip

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// DefaultHostingASNs are the autonomous systems of large cloud, hosting and
// VPN-exit providers: an order from one of their addresses comes from a
// server, not from a home or a phone. It is a starting list, not a complete
// one (docs/fraud.md); --hosting-asns replaces it.
var DefaultHostingASNs = map[uint32]string{
	13335:  "Cloudflare",
	14061:  "DigitalOcean",
	14618:  "Amazon AWS",
	16509:  "Amazon AWS",
	15169:  "Google",
	396982: "Google Cloud",
	8075:   "Microsoft Azure",
	31898:  "Oracle Cloud",
	36351:  "IBM Cloud (SoftLayer)",
	16276:  "OVHcloud",
	24940:  "Hetzner",
	213230: "Hetzner Cloud",
	63949:  "Akamai Connected Cloud (Linode)",
	20473:  "Vultr (Choopa)",
	12876:  "Scaleway",
	51167:  "Contabo",
	60781:  "Leaseweb",
	28753:  "Leaseweb",
	9009:   "M247",
	60068:  "Datacamp (CDN77)",
	212238: "Datacamp",
	8560:   "IONOS",
	47583:  "Hostinger",
	45102:  "Alibaba Cloud",
	37963:  "Alibaba Cloud",
	132203: "Tencent Cloud",
	45090:  "Tencent Cloud",
	19994:  "Rackspace",
	54113:  "Fastly",
	40676:  "Psychz",
	8100:   "QuadraNet",
	36352:  "ColoCrossing",
	49505:  "Selectel",
	9123:   "Timeweb",
	46606:  "Unified Layer",
	26496:  "GoDaddy",
	398101: "GoDaddy",
	53667:  "FranTech (BuyVM)",
	197540: "netcup",
	42708:  "GleSYS",
	141995: "Contabo Asia",
	55990:  "Huawei Cloud",
	136907: "Huawei Cloud",
	38001:  "NewMedia Express (Singapore hosting)",
}

// ReadHostingASNs reads a list of hosting ASNs: one a line, as "16509" or
// "AS16509", optionally followed by a name after white space; blank lines
// and lines starting with # are ignored. A line that is not an ASN fails
// with its number.
func ReadHostingASNs(r io.Reader) (map[uint32]string, error) {
	out := map[uint32]string{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		num, name, _ := strings.Cut(s, " ")
		if i := strings.IndexByte(num, '\t'); i >= 0 {
			num, name = num[:i], num[i+1:]+" "+name
		}
		num = strings.TrimPrefix(strings.TrimPrefix(num, "AS"), "as")
		n, err := strconv.ParseUint(num, 10, 32)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("line %d: %q is not an AS number (want 16509 or AS16509)", line, s)
		}
		out[uint32(n)] = strings.TrimSpace(name)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no AS numbers")
	}
	return out, nil
}
