package generate

import "strings"

// Honest is a set of the ways an honest order can look like fraud to a
// naive rule. It travels out of band, as the fraud labels do
// (Record.Honest), so that evaluations can say which honest behaviour a
// rule mistakes for fraud; nothing in the event tells it.
type Honest uint16

// The honest behaviours, each with its share of honest orders (see the
// constants in customers.go and TestHonestBehaviourShares):
const (
	// SplitOrder is a second order seconds after the first (a cart split
	// for stock or shipping, an item forgotten at checkout): 1.5% of
	// regular orders are followed by one, 5 to 60 seconds later.
	SplitOrder Honest = 1 << iota
	// AddOn is a small second order minutes after the first ("forgot the
	// charger"): 3% of regular orders, 1 to 9 minutes later.
	AddOn
	// GiftAbroad ships to a country other than the customer's.
	GiftAbroad
	// Traveller orders through a network abroad.
	Traveller
	// VPN orders through a datacenter address.
	VPN
	// NewDevice orders from a device never seen before (a new phone).
	NewDevice
	// SharedDevice orders from another customer's device: a household
	// sharing a tablet or a laptop.
	SharedDevice
	// CorporateIP orders from work, behind the employer's one address,
	// shared with colleagues who shop there too.
	CorporateIP
	// CarrierNAT orders over a mobile network whose carrier-grade NAT
	// puts thousands of subscribers behind a few addresses.
	CarrierNAT
	honestKinds = iota
)

var honestNames = [honestKinds]string{"split_order", "add_on", "gift_abroad", "traveller", "vpn", "new_device",
	"shared_device", "corporate_ip", "carrier_nat"}

// HonestKinds lists the honest behaviours' names in a fixed order.
func HonestKinds() []string { return honestNames[:] }

// Has reports whether h includes the behaviour named name.
func (h Honest) Has(name string) bool {
	for i, n := range honestNames {
		if n == name {
			return h&(1<<i) != 0
		}
	}
	return false
}

// String names the behaviours, joined by "+"; "" for none.
func (h Honest) String() string {
	var b strings.Builder
	for i, n := range honestNames {
		if h&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte('+')
			}
			b.WriteString(n)
		}
	}
	return b.String()
}

// companyOf is the employer of customer id: one of companiesPerCountry
// firms of the customer's country, so colleagues share its address.
func companyOf(id uint32) uint64 { return mix64(uint64(id)^0xc0ffee) % companiesPerCountry }
