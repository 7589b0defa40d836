package quality

import (
	"sync"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// defaultCountryAliases are the country check's default aliases: names
// (and alpha-3 or informal codes) seen in order exports, lower-case, mapped
// to ISO 3166-1 alpha-2, and the common names of regions that are no
// country, mapped to the unknown-region value ZZ (ISO 3166's user-assigned
// "unknown"), so their orders are stored rather than quarantined. It covers
// every country of the UCI Online Retail data and the common spellings of
// other frequent ones.
var defaultCountryAliases = map[string]string{
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
	// Regions that are no single country: Jersey (JE) and Guernsey (GG)
	// cannot be told apart, the European Community is many, Unspecified none.
	"channel islands": "ZZ", "european community": "ZZ", "european union": "ZZ", "eu": "ZZ", "unspecified": "ZZ",
	"unknown": "ZZ", "other": "ZZ", "n/a": "ZZ",
}

// countryNameLanguages are the languages whose names of the countries
// the country check also reads (nativeCountryNames): those of the larger
// markets, so that an export in a shop's own language ("Deutschland",
// "Österreich", "Espagne", "ドイツ") maps as the English names do.
var countryNameLanguages = []string{"en", "de", "fr", "es", "it", "nl", "pt", "pl", "sv", "da", "nb", "fi", "cs", "sk",
	"hu", "ro", "bg", "el", "hr", "sl", "sr", "lt", "lv", "et", "tr", "ru", "uk", "ja", "zh", "zh-Hant", "ko", "ar",
	"he", "id", "th", "vi", "hi", "ca", "ga", "is"}

// nativeCountryNames maps the ISO 3166-1 countries' names in
// countryNameLanguages, as normName writes them, to their codes, from the
// CLDR names of golang.org/x/text/language/display. A name two
// countries share across those languages is left out, so it never
// decides a country. Built at its first use: the stream's country values
// are codes, which the check reads without it.
var nativeCountryNames = sync.OnceValue(func() map[string]string {
	return countryNamesOf(countryNameLanguages, func(lang, code string) string {
		r, err := language.ParseRegion(code)
		if err != nil {
			return ""
		}
		return display.Regions(language.MustParse(lang)).Name(r)
	})
})

// countryNamesOf maps each name, in normName's form, that name gives a
// country of countries in one of langs to that country's code, leaving out
// a name two countries share (none does in CLDR's names of
// countryNameLanguages today; a later table may).
func countryNamesOf(langs []string, name func(lang, code string) string) map[string]string {
	out := map[string]string{}
	ambiguous := map[string]bool{}
	for _, lang := range langs {
		for code := range countries {
			n := normName(name(lang, code))
			if n == "" {
				continue
			}
			if prev, ok := out[n]; ok && prev != code {
				ambiguous[n] = true
			}
			out[n] = code
		}
	}
	for n := range ambiguous {
		delete(out, n)
	}
	return out
}
