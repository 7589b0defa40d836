// Package event owns the transaction event: its version-1 JSON form (see
// docs/event-schema.md and docs/transaction.schema.json), its Go type with
// money in exact minor units, and the decoder used on every record read from
// Kafka. It does no I/O.
package event
