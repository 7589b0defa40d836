package generate

// Shipping addresses. An address is a uint64: a building (the bits above
// the low byte: street, number, town, postcode) and a flat number in the
// low byte (0: none), written out by appendAddress in one of a few
// spellings that differ only in case, punctuation and white space, as
// people type one address differently from order to order.
//
// They are drawn from hashes of the customer number, the campaign and the
// transaction's sequence number, never from the generator's random
// stream, so every other field of the stream is what it was before
// addresses were carried.
//
// Honest customers ship to their home (a quarter of households, the
// customer numbers 2k and 2k+1 as for a shared device, have both
// accounts at one home), a quarter of them sometimes to a second address
// (work, a holiday home), and gifts go elsewhere: to a stranger's address
// at home, to another customer's home, abroad (GiftAbroad). Fraud ships
// to addresses of its own: a takeover to a new one, a ring's accounts to
// the ring's drop (some rings vary the flat number, which the entity
// stage cannot join).
const (
	householdShare   = 4    // 1 in 4 households' two accounts share a home
	secondAddrShare  = 4    // 1 in 4 customers have a second address…
	secondAddrUse    = 150  // …for 15% of their orders (per mille)
	giftHomePerMille = 40   // 4% of honest orders are gifts to a stranger at home
	giftCustPerMille = 10   // 1% to another customer's home
	variantPerMille  = 200  // 20% of orders spell the address another way
	ringFlatRotate   = 5    // 1 in 5 rings that share a device or card give each account its own flat at the drop
	addrSalt         = 0xad // keys the address hashes
)

// address kinds of seeds, keeping the hashes of different uses apart.
const (
	seedHome uint64 = iota + 1
	seedSecond
	seedGift
	seedCampaign
	seedDrop
	seedVariant
)

// addrHash is a hash of v for use k, keyed by the generator's seed.
func (g *Generator) addrHash(k, v uint64) uint64 {
	return mix64(g.idKey ^ k<<56 ^ mix64(v^addrSalt))
}

// building turns a hash into an address with or without a flat: about
// one in three addresses is a flat.
func building(h uint64) uint64 {
	a := h &^ 0xff
	if h%3 == 0 {
		a |= 1 + (h>>8)%40
	}
	return a | 1<<63 // never 0
}

// homeAddr is customer id's home: the household's (ids 2k and 2k+1) when
// the two accounts share one.
func (g *Generator) homeAddr(id uint32) uint64 {
	pair := uint64(id >> 1)
	if g.addrHash(seedHome, pair<<1|1)%householdShare == 0 {
		return building(g.addrHash(seedHome, pair<<2))
	}
	return building(g.addrHash(seedHome, uint64(id)<<2|2))
}

// legitAddr is where an honest order of customer c ships, its sequence
// number seq; abroad when the order is a GiftAbroad.
func (g *Generator) legitAddr(c *customer, seq uint64, abroad bool) uint64 {
	u := g.addrHash(seedGift, seq) % 1000
	switch {
	case abroad:
		return building(g.addrHash(seedGift, seq<<1))
	case u < giftHomePerMille:
		return building(g.addrHash(seedGift, seq<<1|1))
	case u < giftHomePerMille+giftCustPerMille:
		// A slot not yet filled (a lifecycle's base grows into its
		// slots) has no one living anywhere: a stranger's address then.
		if f := &g.cust[g.addrHash(seedGift, seq<<2)%uint64(len(g.cust))]; f.id != 0 && f.id != c.id {
			return g.homeAddr(f.id)
		}
		return building(g.addrHash(seedGift, seq<<1|1))
	case u < giftHomePerMille+giftCustPerMille+secondAddrUse && g.addrHash(seedSecond, uint64(c.id))%secondAddrShare == 0:
		return building(g.addrHash(seedSecond, uint64(c.id)<<1))
	}
	return g.homeAddr(c.id)
}

// campaignAddr is a fraud campaign's own address: new to the account,
// stable over the campaign.
func (g *Generator) campaignAddr(c *campaign) uint64 {
	return building(g.addrHash(seedCampaign, uint64(c.cust)<<32^c.device))
}

// The parts an address is written from.
var (
	streetNames = [...]string{"High", "Church", "Station", "Mill", "Park", "Victoria", "Green", "Manor", "Kings", "Queen's",
		"St John's", "Albert", "York", "Chapel", "Bridge", "North", "South", "West", "Orchard", "Elm", "Oak", "Ash", "Willow",
		"Meadow", "Grange", "Springfield", "Windsor", "King's", "New", "London", "Market", "School", "Hill", "Farm", "Brook",
		"Castle", "Cedar", "Lime", "Rose", "Beech"}
	streetKinds = [...]string{"Street", "Road", "Lane", "Avenue", "Close", "Way", "Drive", "Place", "Gardens", "Terrace",
		"Crescent", "Court"}
	towns = [...]string{"Ashford", "Bexley", "Carlton", "Dunmore", "Easton", "Fairview", "Glenwood", "Harrow", "Ilford",
		"Kingsbury", "Lakeside", "Marston", "Newport", "Oakham", "Preston", "Radley", "Salford", "Thornbury", "Upton",
		"Westbury", "Ayr", "Bramley", "Chester", "Dorking", "Eltham", "Frome", "Garston", "Hythe", "Kenton", "Ludlow",
		"Morley", "Norton", "Otley", "Penrith", "Redhill", "Selby", "Tring", "Ware", "Yeovil", "Ripon"}
)

// appendAddress writes address a, spelt as variant v says: 0 as the
// shop's form fills it in, 1 in capitals, 2 in lower case without commas,
// 3 with doubled spaces and full stops, 4 with a semicolon and no
// apostrophes.
func appendAddress(b []byte, a uint64, v uint8) []byte {
	h := mix64(a >> 8)
	start := len(b)
	if flat := a & 0xff; flat != 0 {
		b = append(b, "Flat "...)
		b = appendPadded(b, flat, 1)
		b = append(b, ", "...)
	}
	b = appendPadded(b, 1+h%180, 1)
	b = append(b, ' ')
	b = append(b, streetNames[(h>>8)%uint64(len(streetNames))]...)
	b = append(b, ' ')
	b = append(b, streetKinds[(h>>16)%uint64(len(streetKinds))]...)
	b = append(b, ", "...)
	b = append(b, towns[(h>>24)%uint64(len(towns))]...)
	b = append(b, ' ')
	b = appendPadded(b, 10000+(h>>32)%89999, 5)
	s := b[start:]
	switch v {
	case 1:
		for i, c := range s {
			if 'a' <= c && c <= 'z' {
				s[i] = c - 'a' + 'A'
			}
		}
	case 2:
		n := start
		for _, c := range s {
			if c == ',' {
				continue
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b[n] = c
			n++
		}
		b = b[:n]
	case 3:
		out := make([]byte, 0, 2*len(s))
		for _, c := range s {
			if c == ' ' {
				out = append(out, ' ', ' ')
				continue
			}
			out = append(out, c)
		}
		b = append(append(b[:start], out...), '.')
	case 4:
		n := start
		for _, c := range s {
			switch c {
			case '\'':
				continue
			case ',':
				c = ';'
			}
			b[n] = c
			n++
		}
		b = b[:n]
	}
	return b
}

// addrVariant is the spelling of the address of the order with sequence
// number seq (see appendAddress).
func (g *Generator) addrVariant(seq uint64) uint8 {
	h := g.addrHash(seedVariant, seq)
	if h%1000 >= variantPerMille {
		return 0
	}
	return uint8(1 + (h>>16)%4)
}
