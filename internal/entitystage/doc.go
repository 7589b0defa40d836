// Package entitystage is the second stage of fraud scoring, the Kafka
// way (as Kafka Streams repartitions): it sees every transaction by
// entity rather than by customer.
//
// The transactions topic is keyed by customer, so a processor's counts of
// accounts per device, card or address are lower bounds, and a ring of
// accounts sharing one device is invisible to it. So the processor also
// queues, for each stored transaction, one small Record per entity
// (device, card, address) for the repartition topic, keyed by the entity,
// in its transactional outbox (Messages): they are written in the same
// store transaction as the transaction itself, and delivered after it
// commits, at least once.
//
// The Stage consumes the repartition topic in its own consumer group, so
// Kafka assigns each entity to one owner. Per partition it keeps a
// fraud.EntityState: each entity's distinct accounts, transactions and
// cards over a sliding window of event time. For every record it stores
// the entity's global counts as of that transaction, and it joins the
// accounts that share devices, cards and shipping addresses into rings
// (fraud.DetectRings), storing each ring that appears or grows with its
// members and shared entities. Events, rings and the partition's next offset are written in
// one store transaction (store.Entities), fenced by ownership epochs like
// the processor's batches: exactly once end to end, because a record
// redelivered by the outbox names a transaction the state has seen on
// that entity and changes nothing. On assignment a partition's state is
// rebuilt from its stored events within the window.
package entitystage
