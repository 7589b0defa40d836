package importer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DayFirstTimeLayouts are DefaultTimeLayouts with slashed dates read day
// first ("13/2/2011 10:00"), for a file whose slashed dates
// SniffDateOrder finds day first.
var DayFirstTimeLayouts = func() []string {
	out := make([]string, 0, len(DefaultTimeLayouts))
	for _, l := range DefaultTimeLayouts {
		switch l {
		case "1/2/2006 15:04":
			l = "2/1/2006 15:04"
		case "1/2/2006 15:04:05":
			l = "2/1/2006 15:04:05"
		case "01/02/2006 15:04":
			l = "02/01/2006 15:04"
		case "1/2/2006":
			l = "2/1/2006"
		}
		out = append(out, l)
	}
	return out
}()

// DateOrder is what the slashed dates of a sample of a file say of their
// order: how many can be read only day first (their first number is over
// 12), only month first (their second is), and either way, with the first
// row of each of the first two.
type DateOrder struct {
	Rows                           int64 // data rows read
	DayFirst, MonthFirst, Either   int64
	DayFirstRow, MonthFirstRow     int64
	DayFirstValue, MonthFirstValue string
}

// Mixed reports whether the sample holds dates that only read day first
// and dates that only read month first: no one layout reads the file.
func (o DateOrder) Mixed() bool { return o.DayFirst > 0 && o.MonthFirst > 0 }

// slashedDayMonth reads the two numbers of a slashed date at the start of
// s ("13/2/2011 10:00": 13 and 2), each of one or two digits, followed by
// a slash and two to four digits of a year.
func slashedDayMonth(s string) (first, second int, ok bool) {
	s = strings.TrimLeft(s, " ")
	num := func() (int, bool) {
		n, i := 0, 0
		for ; i < len(s) && i < 3 && s[i] >= '0' && s[i] <= '9'; i++ {
			n = n*10 + int(s[i]-'0')
		}
		if i == 0 || i > 2 || i >= len(s) || s[i] != '/' {
			return 0, false
		}
		s = s[i+1:]
		return n, true
	}
	if first, ok = num(); !ok {
		return 0, 0, false
	}
	if second, ok = num(); !ok {
		return 0, 0, false
	}
	y := 0
	for y < len(s) && y < 5 && s[y] >= '0' && s[y] <= '9' {
		y++
	}
	return first, second, y >= 2 && y <= 4
}

// SniffDateOrder reads the timestamps of sample, the start of a file
// (cut anywhere: a last line cut short is left out), with cfg's columns
// and separator, and counts its slashed dates by the order they can be
// read in. DefaultTimeLayouts read slashed dates month first; a file
// written day first would have every date up to the 12th of a month read
// with day and month swapped, silently, and the rest skipped: a sample
// that holds a date only day first can read says so before anything is
// stored.
func SniffDateOrder(sample []byte, cfg Config) (DateOrder, error) {
	if i := bytes.LastIndexByte(sample, '\n'); i >= 0 {
		sample = sample[:i+1]
	}
	var o DateOrder
	r, err := New(bytes.NewReader(sample), cfg)
	if err != nil {
		return o, err
	}
	at := r.col[colTime]
	for {
		rec, err := r.cr.Read()
		if errors.Is(err, io.EOF) {
			return o, nil
		}
		o.Rows++
		if err != nil || at >= len(rec) {
			continue
		}
		first, second, ok := slashedDayMonth(rec[at])
		if !ok {
			continue
		}
		switch {
		case first > 12 && second >= 1 && second <= 12:
			if o.DayFirst == 0 {
				o.DayFirstRow, o.DayFirstValue = o.Rows, rec[at]
			}
			o.DayFirst++
		case second > 12 && first >= 1 && first <= 12:
			if o.MonthFirst == 0 {
				o.MonthFirstRow, o.MonthFirstValue = o.Rows, rec[at]
			}
			o.MonthFirst++
		case first >= 1 && first <= 12 && second >= 1 && second <= 12:
			o.Either++
		}
	}
}

// String says what o found, for messages.
func (o DateOrder) String() string {
	return fmt.Sprintf("%d slashed dates in %d rows: %d only day first (first: row %d, %q), %d only month first (first: row %d, %q), %d either way",
		o.DayFirst+o.MonthFirst+o.Either, o.Rows, o.DayFirst, o.DayFirstRow, o.DayFirstValue, o.MonthFirst, o.MonthFirstRow, o.MonthFirstValue, o.Either)
}
