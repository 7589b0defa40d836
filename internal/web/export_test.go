package web

import "time"

// SetStreamTick sets how often the stream hubs of servers made from now
// on read the store, for a benchmark that pushes updates faster than once
// a second; restore puts the default back.
func SetStreamTick(d time.Duration) (restore func()) {
	old := streamTick
	streamTick = d
	return func() { streamTick = old }
}

// RouteTable returns a copy of the route table (web.go): every route a
// server may register, with the role it needs.
func RouteTable() map[string]Access {
	out := make(map[string]Access, len(routes))
	for p, a := range routes {
		out[p] = a
	}
	return out
}
