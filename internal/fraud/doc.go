// Package fraud scores every transaction for fraud risk, in the partition
// that owns its customer, within the pipeline's per-record budget.
//
// A transaction goes through three pure steps:
//
//   - State.Features computes velocity, history, device, card, network and
//     geography features in event time from the partition's State, without
//     changing it; State.Update then folds the transaction in. The State is
//     owned by one Kafka partition (the topic is keyed by customer), so the
//     hot path takes no locks, and it is rebuilt after a rebalance by
//     replaying stored transactions through Update.
//   - A RuleSet, parsed from a small JSON file of named rules whose "when"
//     conditions are written in a tiny expression language over the
//     feature names, says which known fraud patterns the transaction
//     matches, each with a human-readable reason.
//   - A Scorer combines the rules that fired with an optional anomaly Model
//     (an isolation forest trained on ordinary traffic, see TrainModel)
//     into one risk in [0, 1], a Decision (approve, review, decline) and the
//     reasons behind it.
//
// Package evaluate (above this one and the generator) runs the whole chain
// over the synthetic shop's labelled stream and reports how well it
// detects; docs/fraud.md gives the figures and how to reproduce them.
//
// The State lives in state.go (its records and lifecycle), state_config.go,
// state_features.go (reading features) and state_update.go (folding a
// transaction in).
//
// Nothing here does I/O, reads the clock or draws random numbers except
// through what its caller passes in.
package fraud
