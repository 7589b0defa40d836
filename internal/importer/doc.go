// Package importer turns a shop's historical order export (a CSV file with
// one line per order line, such as the UCI Online Retail data) into
// [event.Transaction] values, so that years of history can be fed through
// the same pipeline and models as live traffic.
//
// It is pure: it reads from an io.Reader and returns values; it does not
// know about Kafka or the store. The caller decides where transactions go.
//
// What it promises:
//
//   - Columns are found by name, from Config.Columns or by recognising
//     common header names; a missing required column fails [New] with a
//     [*HeaderError] that names it and shows the header that was read.
//   - No row is dropped silently. Every data row is either part of a
//     transaction or counted under a [SkipReason] in the [Report], so
//     Report.Rows = Report.Items + the sum of Report.Skipped, always.
//     Returns and cancellations (non-positive quantity or price) and rows
//     without a customer are skipped by design, and counted.
//   - Consecutive rows of one order become one transaction; see [Reader]
//     for orders whose rows are not contiguous.
//   - It streams: memory grows with the number of distinct orders (a set
//     of order IDs, to keep transaction IDs unique), not with the file.
//
// Files: config.go (the columns and Config), header.go (finding the
// columns), importer.go (the Reader), parse.go (one row's fields),
// countries.go (country names), report.go (the accounting), split.go
// (orders too long for the quality checks). Storing the transactions is
// package importjob's work.
package importer
