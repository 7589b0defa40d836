package web

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxPage is the largest page any list answers.
const maxPage = 1000

// pageQuery reads the paging of a list: ?limit=1..1000 (def when absent)
// and ?cursor=C, a list's next_cursor, which is the id the next page's
// rows lie below (0 when absent). Every list pages this way.
func pageQuery(q url.Values, def int) (limit int, before int64, err error) {
	limit = def
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPage {
			return 0, 0, fmt.Errorf("%w: limit %q, want 1..%d", ErrBadRequest, v, maxPage)
		}
		limit = n
	}
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return 0, 0, fmt.Errorf("%w: cursor %q is not one this API gave", ErrBadRequest, v)
		}
		before = n
	}
	return limit, before, nil
}

// queryTime reads a time parameter of a list or series: an RFC 3339 time
// or Unix seconds. It is the zero time when the parameter is absent.
func queryTime(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if sec, err := strconv.ParseInt(v, 10, 64); err == nil && sec >= 0 && sec < 1<<40 {
		return time.Unix(sec, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%w: %s %q is neither an RFC 3339 time nor Unix seconds", ErrBadRequest, name, v)
}

// timeRange reads the since and until of a series (queryTime): either may
// be absent (zero); both given, until must be after since.
func timeRange(q url.Values) (since, until time.Time, err error) {
	if since, err = queryTime(q, "since"); err != nil {
		return since, until, err
	}
	if until, err = queryTime(q, "until"); err != nil {
		return since, until, err
	}
	if !since.IsZero() && !until.IsZero() && !until.After(since) {
		return since, until, fmt.Errorf("%w: until %s is not after since %s", ErrBadRequest, until.UTC().Format(time.RFC3339), since.UTC().Format(time.RFC3339))
	}
	return since, until, nil
}

// pageOf is a page of a list held whole in memory (the tokens, the model
// versions, the experiments: tens, not millions), already filtered and in
// its order: the items after the cursor (after reports whether an item
// comes after it; nil for the first page), at most limit of them, and the
// cursor of the next page ("" on the last), made of its last item by key.
func pageOf[T any](all []T, limit int, after func(T) bool, key func(T) string) ([]T, string) {
	start := 0
	if after != nil {
		start = len(all)
		for i, v := range all {
			if after(v) {
				start = i
				break
			}
		}
	}
	rest := all[start:]
	if len(rest) <= limit {
		return rest, ""
	}
	return rest[:limit], key(rest[limit-1])
}

// listQuery reads the limit (1..maxPage, def when absent) and the cursor
// (as given; "" for the first page) of a list held in memory.
func listQuery(q url.Values, def int) (int, string, error) {
	limit, _, err := pageQuery(url.Values{"limit": q["limit"]}, def)
	return limit, q.Get("cursor"), err
}

// oneOf checks that the filter name, when given, is one of allowed.
func oneOf(q url.Values, name string, allowed ...string) (string, error) {
	v := q.Get(name)
	if v == "" || slices.Contains(allowed, v) {
		return v, nil
	}
	return v, fmt.Errorf("%w: %s %q, want one of %s", ErrBadRequest, name, v, strings.Join(allowed, ", "))
}

// intCursor reads a cursor that is an integer (a token's ID, a model's
// version).
func intCursor(c string) (int64, error) {
	n, err := strconv.ParseInt(c, 10, 64)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%w: cursor %q is not one this API gave", ErrBadRequest, c)
	}
	return n, nil
}
