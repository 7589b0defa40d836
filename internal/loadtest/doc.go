// Package loadtest drives shopstream's HTTP API at a fixed request rate
// and measures it: per route, the count, errors and latency percentiles;
// for the 429s of the rate limiter, whether each carries Retry-After; and,
// sampled from /readyz alongside, whether the pipeline stays ready and its
// lag bounded. It only ever targets loopback addresses (127.0.0.0/8).
//
// Requests leave at the set rate whatever the server's pace (an open
// model: request i is due at start + i/rate, and a late sender catches
// up), so a slow server shows as latency and errors rather than as a
// lower rate; a request that finds MaxInFlight requests already waiting
// is counted as dropped, never queued.
package loadtest
