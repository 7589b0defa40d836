package fraud

// Feature indexes one value of Features. The order is part of a trained
// model's contract (a model stores the names it was trained on and refuses
// another layout), so new features are appended, never inserted.
type Feature int

// The features. Counts and sums over a window include the transaction being
// scored, so "cards_per_device_1h >= 3" reads as the card testing pattern
// it describes. Windows are trailing, in event time: (t − w, t]. Amounts are
// in major units (dollars, euros), the way rule authors think of them.
// Features marked "partition" count only what this State saw; see State.
const (
	// Amount is the order total.
	Amount Feature = iota
	// Items is the number of units in the basket.
	Items
	// Lines is the number of distinct lines in the basket.
	Lines
	// HighRiskShare is the share of the basket's value in high-risk
	// categories (StateConfig.HighRiskCategories): goods that resell easily.
	HighRiskShare
	// CustTxns is how many earlier purchases of the customer the State
	// knows, saturating at 65535.
	CustTxns
	// FirstPurchase is 1 when the State knows no earlier purchase of the
	// customer.
	FirstPurchase
	// AccountAgeDays is the time since the customer's first purchase known
	// to the State, in days: fraud comes from accounts opened for it.
	AccountAgeDays
	// MinutesSinceLast is the time since the customer's previous purchase,
	// capped at 30 days (also its value for a first purchase), so one
	// scale serves bots (seconds) and regulars (weeks).
	MinutesSinceLast
	// AmountRatio is the amount over the customer's mean order amount,
	// shrunk towards the partition's mean when the customer has few orders.
	AmountRatio
	// AmountZ is how many standard deviations the log amount lies above the
	// customer's mean log amount, with the same shrinkage. Order amounts
	// are close to log-normal, so this is the z-score that means something.
	AmountZ
	// CustCount10m is the customer's purchases in the last 10 minutes.
	CustCount10m
	// CustCount1h is the customer's purchases in the last hour.
	CustCount1h
	// CustCount24h is the customer's purchases in the last 24 hours.
	CustCount24h
	// CustAmount10m is the customer's spend in the last 10 minutes.
	CustAmount10m
	// CustAmount1h is the customer's spend in the last hour.
	CustAmount1h
	// CustAmount24h is the customer's spend in the last 24 hours.
	CustAmount24h
	// CardsPerCustomer1h is the distinct cards the customer paid with in
	// the last hour.
	CardsPerCustomer1h
	// CardsPerCustomer24h is the same over 24 hours.
	CardsPerCustomer24h
	// DevicesPerCustomer24h is the distinct devices the customer used in
	// the last 24 hours.
	DevicesPerCustomer24h
	// NewDevice is 1 when the device was first seen for this customer in
	// the last 24 hours and the customer was known before it: a new device
	// on an established account, the first sign of an account takeover.
	NewDevice
	// NewCard is the same for the card.
	NewCard
	// NewShipCountry is the same for the shipping country.
	NewShipCountry
	// CardCount1h is the card's uses in the last hour (partition).
	CardCount1h
	// CardCount24h is the card's uses in the last 24 hours (partition).
	CardCount24h
	// CardAmount24h is the card's spend in the last 24 hours (partition).
	CardAmount24h
	// CustomersPerCard24h is the distinct customers that used the card in
	// the last 24 hours (partition).
	CustomersPerCard24h
	// DeviceCount10m is the device's purchases in the last 10 minutes
	// (partition).
	DeviceCount10m
	// DeviceCount1h is the same over an hour (partition).
	DeviceCount1h
	// DeviceCount24h is the same over 24 hours (partition).
	DeviceCount24h
	// CardsPerDevice1h is the distinct cards used from the device in the
	// last hour (partition): card testing tries many cards from one device.
	CardsPerDevice1h
	// CardsPerDevice24h is the same over 24 hours (partition).
	CardsPerDevice24h
	// CustomersPerDevice24h is the distinct customers on the device in the
	// last 24 hours (partition).
	CustomersPerDevice24h
	// IPCount1h is the purchases from the IP address in the last hour
	// (partition).
	IPCount1h
	// CustomersPerIP24h is the distinct customers behind the IP address in
	// the last 24 hours (partition).
	CustomersPerIP24h
	// IPBINMismatch is 1 when the IP address and the card are from
	// different countries (both known).
	IPBINMismatch
	// IPShipMismatch is 1 when the IP address and the shipping address are
	// in different countries.
	IPShipMismatch
	// BINShipMismatch is 1 when the card's country differs from the
	// shipping country.
	BINShipMismatch
	// BillingShipMismatch is 1 when billing and shipping countries differ.
	BillingShipMismatch
	// IPBillingMismatch is 1 when the IP address is outside the billing
	// country.
	IPBillingMismatch
	// Countries is the number of distinct countries among IP address, card,
	// billing and shipping address: 1 for a customer at home, 3 or 4 for
	// the classic stolen-card drop.
	Countries
	// HostingIP is 1 when the IP address belongs to a datacenter or VPN.
	HostingIP
	// UnknownIP is 1 when the IP address is not in the GeoIP data.
	UnknownIP
	// CardPayment is 1 when the payment carries a card (BIN and last four).
	CardPayment
	// NewShipAddress is 1 when the shipping address (its key,
	// event.AddressKey) was first seen for this customer in the last 24
	// hours and the customer was known before it, as NewDevice: an account
	// takeover ships to the thief's drop. 0 when the record has no address.
	NewShipAddress

	// NumFeatures is the number of features.
	NumFeatures int = iota
)

// FeatureNames holds the name of each feature, by index: the names rules
// are written in, and the names a model records. Treat it as read-only.
var FeatureNames = []string{
	Amount:                "amount",
	Items:                 "items",
	Lines:                 "lines",
	HighRiskShare:         "high_risk_share",
	CustTxns:              "cust_txns",
	FirstPurchase:         "first_purchase",
	AccountAgeDays:        "account_age_days",
	MinutesSinceLast:      "minutes_since_last",
	AmountRatio:           "amount_ratio",
	AmountZ:               "amount_z",
	CustCount10m:          "cust_count_10m",
	CustCount1h:           "cust_count_1h",
	CustCount24h:          "cust_count_24h",
	CustAmount10m:         "cust_amount_10m",
	CustAmount1h:          "cust_amount_1h",
	CustAmount24h:         "cust_amount_24h",
	CardsPerCustomer1h:    "cards_per_customer_1h",
	CardsPerCustomer24h:   "cards_per_customer_24h",
	DevicesPerCustomer24h: "devices_per_customer_24h",
	NewDevice:             "new_device",
	NewCard:               "new_card",
	NewShipCountry:        "new_ship_country",
	CardCount1h:           "card_count_1h",
	CardCount24h:          "card_count_24h",
	CardAmount24h:         "card_amount_24h",
	CustomersPerCard24h:   "customers_per_card_24h",
	DeviceCount10m:        "device_count_10m",
	DeviceCount1h:         "device_count_1h",
	DeviceCount24h:        "device_count_24h",
	CardsPerDevice1h:      "cards_per_device_1h",
	CardsPerDevice24h:     "cards_per_device_24h",
	CustomersPerDevice24h: "customers_per_device_24h",
	IPCount1h:             "ip_count_1h",
	CustomersPerIP24h:     "customers_per_ip_24h",
	IPBINMismatch:         "ip_bin_mismatch",
	IPShipMismatch:        "ip_ship_mismatch",
	BINShipMismatch:       "bin_ship_mismatch",
	BillingShipMismatch:   "billing_ship_mismatch",
	IPBillingMismatch:     "ip_billing_mismatch",
	Countries:             "countries",
	HostingIP:             "hosting_ip",
	UnknownIP:             "unknown_ip",
	CardPayment:           "card_payment",
	NewShipAddress:        "new_ship_address",
}

// String returns the feature's name.
func (f Feature) String() string {
	if f < 0 || int(f) >= NumFeatures {
		return "feature(?)"
	}
	return FeatureNames[f]
}

// featureIndex maps names to indexes for the rule compiler.
var featureIndex = func() map[string]Feature {
	m := make(map[string]Feature, NumFeatures)
	for i, n := range FeatureNames {
		if n == "" {
			panic("fraud: feature without a name")
		}
		m[n] = Feature(i)
	}
	if len(m) != NumFeatures {
		panic("fraud: duplicate feature name")
	}
	return m
}()

// FeatureByName returns the feature called name.
func FeatureByName(name string) (Feature, bool) {
	f, ok := featureIndex[name]
	return f, ok
}

// Features is what State.Features computes for one transaction: the values
// rules and models read, plus the hashed keys Update needs, so a scored
// transaction is not hashed twice. It is a plain value with no pointers and
// may be reused.
type Features struct {
	// Values holds the features, indexed by Feature.
	Values [NumFeatures]float64

	keys keys
}

// Get returns one feature.
func (f *Features) Get(k Feature) float64 { return f.Values[k] }

// Vector appends the values to dst in FeatureNames order, the layout
// models are trained and scored on.
func (f *Features) Vector(dst []float64) []float64 {
	return append(dst, f.Values[:]...)
}
