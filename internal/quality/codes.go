package quality

// defaultCurrencies are the currency check's default: ISO 4217 codes in
// common use by shops.
var defaultCurrencies = []string{"EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF",
	"RON", "BGN", "JPY", "CNY", "INR", "AUD", "CAD", "NZD", "BRL", "MXN", "ZAR", "SGD", "HKD",
	"KRW", "TRY", "AED", "SAR", "ILS", "THB", "MYR", "IDR", "PHP", "VND", "ARS", "CLP", "COP",
	"PEN", "UAH", "NGN", "EGP", "KES", "MAD", "PKR", "BDT", "TWD", "ISK",
	"BHD", "KWD", "OMR", "JOD", "QAR"}

var currencies = setOf(defaultCurrencies...)

// countries is the ISO 3166-1 alpha-2 list.
var countries = setOf("AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
	"BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV", "BW", "BY", "BZ",
	"CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ",
	"DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR",
	"GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY",
	"HK", "HM", "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP",
	"KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY",
	"MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ",
	"NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY",
	"QA", "RE", "RO", "RS", "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY", "SZ",
	"TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ",
	"VA", "VC", "VE", "VG", "VI", "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW")

func setOf(xs ...string) map[string]struct{} {
	m := make(map[string]struct{}, len(xs))
	for _, x := range xs {
		m[x] = struct{}{}
	}
	return m
}

// KnownCurrency reports whether code is a currency the default contract
// accepts.
func KnownCurrency(code string) bool { _, ok := currencies[code]; return ok }

// KnownCountry reports whether code is an ISO 3166-1 alpha-2 country.
func KnownCountry(code string) bool { _, ok := countries[code]; return ok }

// StoreRejected is a record the database refused although it passed the
// checks (the processor finds it by bisecting the refused batch); the detail
// is the database's own message. No check here produces it, so it is not in
// Reasons.
const StoreRejected Reason = "store_rejected"
