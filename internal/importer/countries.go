package importer

// countryCodes maps lower-cased country names (and alpha-3 codes) seen in
// order exports to ISO 3166 alpha-2. It covers every country of the UCI
// Online Retail data and the common spellings of other frequent ones.
var countryCodes = map[string]string{
	"united kingdom": "GB", "uk": "GB", "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB", "gbr": "GB",
	"eire": "IE", "ireland": "IE", "irl": "IE",
	"united states": "US", "united states of america": "US", "usa": "US", "u.s.a.": "US", "america": "US",
	"germany": "DE", "deu": "DE", "france": "FR", "fra": "FR", "netherlands": "NL", "the netherlands": "NL", "holland": "NL", "nld": "NL",
	"belgium": "BE", "bel": "BE", "spain": "ES", "esp": "ES", "portugal": "PT", "prt": "PT", "italy": "IT", "ita": "IT",
	"switzerland": "CH", "che": "CH", "austria": "AT", "aut": "AT", "norway": "NO", "nor": "NO", "sweden": "SE", "swe": "SE",
	"finland": "FI", "fin": "FI", "denmark": "DK", "dnk": "DK", "iceland": "IS", "isl": "IS", "poland": "PL", "pol": "PL",
	"lithuania": "LT", "latvia": "LV", "estonia": "EE", "czech republic": "CZ", "czechia": "CZ", "slovakia": "SK",
	"hungary": "HU", "greece": "GR", "grc": "GR", "cyprus": "CY", "malta": "MT", "luxembourg": "LU", "romania": "RO",
	"bulgaria": "BG", "croatia": "HR", "slovenia": "SI", "serbia": "RS", "turkey": "TR", "türkiye": "TR", "russia": "RU",
	"ukraine": "UA", "israel": "IL", "lebanon": "LB", "bahrain": "BH", "saudi arabia": "SA", "united arab emirates": "AE",
	"uae": "AE", "qatar": "QA", "kuwait": "KW", "japan": "JP", "jpn": "JP", "china": "CN", "chn": "CN", "hong kong": "HK",
	"singapore": "SG", "korea": "KR", "south korea": "KR", "republic of korea": "KR", "thailand": "TH", "india": "IN",
	"australia": "AU", "aus": "AU", "new zealand": "NZ", "canada": "CA", "can": "CA", "brazil": "BR", "bra": "BR",
	"mexico": "MX", "argentina": "AR", "chile": "CL", "rsa": "ZA", "south africa": "ZA", "nigeria": "NG", "egypt": "EG",
	"bermuda": "BM",
}
