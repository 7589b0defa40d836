package generate

// Seasonality. Each customer follows one daily rhythm (a profile) in the
// local time of their home country; the shop as a whole adds a yearly
// rhythm with a Black Friday to Cyber Monday peak and a December high.
// Purchase rates are multiplied by these factors, so arrivals in history
// mode and the choice of the next buyer in live mode both follow them.

const (
	msPerHour = int64(3_600_000)
	msPerDay  = 24 * msPerHour
)

type profile struct {
	name  string
	share float64     // of customers
	hours [24]float64 // relative activity by local hour
	week  [7]float64  // Monday first
}

var profiles = []profile{
	{name: "daytime", share: 0.35,
		hours: [24]float64{0.15, 0.08, 0.05, 0.04, 0.05, 0.1, 0.3, 0.6, 1.0, 1.4, 1.7, 1.8, 1.9, 1.8, 1.7, 1.6, 1.5, 1.4, 1.3, 1.2, 1.1, 0.9, 0.6, 0.3},
		week:  [7]float64{1.1, 1.1, 1.05, 1.05, 1.0, 0.85, 0.85}},
	{name: "evening", share: 0.35,
		hours: [24]float64{0.5, 0.25, 0.12, 0.06, 0.05, 0.06, 0.15, 0.35, 0.5, 0.6, 0.7, 0.8, 1.0, 0.9, 0.8, 0.8, 0.9, 1.1, 1.5, 2.0, 2.4, 2.5, 2.0, 1.1},
		week:  [7]float64{1.0, 0.95, 0.95, 0.95, 0.9, 1.0, 1.25}},
	{name: "night_owl", share: 0.1,
		hours: [24]float64{2.2, 2.0, 1.6, 1.0, 0.5, 0.2, 0.1, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.6, 0.6, 0.6, 0.7, 0.8, 1.0, 1.3, 1.6, 2.0, 2.3, 2.4},
		week:  [7]float64{0.9, 0.9, 0.95, 1.0, 1.1, 1.15, 1.0}},
	{name: "commuter", share: 0.2,
		hours: [24]float64{0.1, 0.05, 0.03, 0.03, 0.05, 0.3, 1.2, 2.2, 2.0, 0.9, 0.6, 0.9, 1.6, 1.3, 0.6, 0.6, 0.9, 1.7, 2.0, 1.4, 1.0, 0.8, 0.5, 0.2},
		week:  [7]float64{1.15, 1.15, 1.15, 1.1, 1.05, 0.7, 0.7}},
}

// weekTable returns a profile's activity by UTC hour of the week (0 is
// Monday 00:00 UTC) for a home country tz hours ahead of UTC, normalised to
// mean 1 so a customer's rate keeps its meaning as an average.
func weekTable(p profile, tz int) [168]float64 {
	var t [168]float64
	sum := 0.0
	for h := range t {
		local := ((h+tz)%168 + 168) % 168
		t[h] = p.hours[local%24] * p.week[local/24]
		sum += t[h]
	}
	for h := range t {
		t[h] *= 168 / sum
	}
	return t
}

// hourOfWeek is the UTC hour of the week, Monday 00:00 being 0, of a Unix
// time in milliseconds. 1970-01-01 was a Thursday.
func hourOfWeek(ms int64) int {
	h := floorDiv(ms, msPerHour)
	d := floorDiv(h, 24)
	return int(((d+3)%7+7)%7*24 + (h%24+24)%24)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// monthFactor is the shop's demand by month, January first.
var monthFactor = [12]float64{0.85, 0.82, 0.92, 0.95, 0.98, 0.95, 0.9, 0.92, 0.98, 1.05, 1.2, 1.38}

// annualFactor is the yearly demand factor of a Unix day: the month's
// level, doubled from Black Friday (the day after the fourth Thursday of
// November) to Cyber Monday, and dipping over Christmas.
func annualFactor(day int64) float64 {
	y, m, d := civil(day)
	f := monthFactor[m-1]
	switch {
	case m == 11:
		// weekday of Nov 1 (0 = Monday), then the fourth Thursday.
		wd := ((days(y, 11, 1)+3)%7 + 7) % 7
		thu := 1 + (3-int(wd)+7)%7 + 21
		if d >= thu+1 && d <= thu+4 {
			f *= 2
		}
	case m == 12 && (d == 24 || d == 25):
		f *= 0.6
	}
	return f
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's algorithm), cheaper than time.Time.Date on the hot path.
func civil(z int64) (y, m, d int) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	yy := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	dd := doy - (153*mp+2)/5 + 1
	mm := mp + 3
	if mm > 12 {
		mm -= 12
	}
	if mm <= 2 {
		yy++
	}
	return int(yy), int(mm), int(dd)
}

// days is the inverse of civil.
func days(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(int64(y), 400)
	yoe := int64(y) - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
