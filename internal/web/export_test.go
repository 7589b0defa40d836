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
