// Package monitor measures data quality over time: how many records each
// check saw, passed, warned about and failed, per minute, and whether the
// stream itself looks wrong (stale, too few or too many transactions,
// failures rising, the amounts or channels drifting).
//
// It is pure: it reads no clock (every method takes now), does no I/O and
// keeps no goroutine. The processor feeds it through a [Sketch] per
// partition and poll (no lock per record; one merge per partition and poll),
// the store sums [Tally] rows per minute, and the detectors are plain
// functions of series that the caller reads from wherever it keeps them.
//
// # Counts and the score
//
// A record fails at most one check (quality's one reason per record), so a
// check's verdict on a record that failed another check is unknown. Per
// check c and minute:
//
//	checked(c) = records that passed every check + records that failed c
//	failed(c)  = records that failed c
//	passed(c)  = records that passed every check
//	warned(c)  = records that passed every check with a warning of c
//
// and for the whole stream (check "all") checked is every record, failed
// those that failed any check, passed the rest, warned those passing with at
// least one warning. The quality score is passed / checked: overall the
// share of records stored, per check the share check c let through of those
// it judged. A minute with nothing checked has no score.
//
// # Detectors
//
// Each detector returns [Finding] values (detector, subject, severity,
// value, threshold, message); [Tracker] turns a run of evaluations into
// episodes so that an alert is raised when a finding starts or worsens, not
// every minute it lasts.
//
//   - [Freshness]: the median event-time lag (clock minus event time) and
//     the median processing lag (clock minus the Kafka produce time) of the
//     records checked in the last two minutes, against thresholds (warning 5
//     minutes and 30 s, critical 30 minutes and 5 minutes by default).
//   - [Volume]: the transactions of one closed minute (by event time)
//     against a robust band: the median and the MAD (scaled by 1.4826 to
//     estimate a standard deviation) of the same minute of day ±2 minutes on
//     each of the previous days when at least 3 days have data, else of the
//     previous 60 minutes. The scale is at least the Poisson noise of the
//     median (its square root), 5% of the median (a few days' MAD
//     understates how much whole days differ) and 1; the finding's value is the robust z,
//     (count − median) / scale, warning beyond ±6 and critical beyond ±10.
//   - [FailureRise]: per check, the failure rate of the last 5 minutes
//     against that of the 60 minutes before: it fires when at least 10
//     records failed, the rate is at least twice the baseline's (smoothed
//     as (f+1)/(n+2)) and the one-sided binomial z of the excess is at
//     least 5; critical at five times the baseline.
//   - [Drift]: the population stability index of the last 15 minutes
//     against the 60 minutes before, for the amount (deciles of the
//     reference, on a log scale of the amount in minor units), the items
//     per order (1 … 10, 11–20, more) and the share per channel, each with
//     at least 1,000 records on both sides; warning at PSI 0.1, critical at
//     0.25 (the conventional thresholds).
//
// The thresholds are [Config] fields; the false-alarm rates measured on long
// normal runs are in docs/quality.md and the tests.
package monitor
