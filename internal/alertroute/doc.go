// Package alertroute decides where alerts go: which rules of a routes
// config match an alert (by kind, severity, score and labels), and, per
// destination, whether the alert is sent alone, folded into a group (one
// message for a burst), dropped as a repeat of an alert with the same key
// within the dedup window, or counted into a digest because the
// destination's rate limit is reached ("312 more review alerts in the last
// minute").
//
// It is pure: it reads no clock and does no I/O. Route takes the time and
// a State, which answers what was recorded before (seen keys, messages in
// the rate window, open groups and digests) and records each decision; the
// store implements State over its deliveries table inside one transaction,
// so the decisions of several instances are serialised and survive a
// crash, and tests implement it in memory. The texts of group and digest
// messages are composed here too (Compose), from the members recorded.
package alertroute
