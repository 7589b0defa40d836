// Package recsvc serves product recommendations from memory. A Service
// tails the purchase lines committed to the store (store.Purchases),
// folds them into co-purchase counts (recommend.Counts) every few seconds,
// rebuilds the item-item model (top neighbours per product) and the
// popularity order periodically, swaps the new model in atomically, and
// answers lookups from the model in memory without touching the store.
//
// Every serve and run instance keeps its own Service, tailing the store.
// The counts are a function of what the store holds, so instances agree
// without talking to each other; no leader is needed, nothing is written
// back, and an instance that restarts rebuilds its state by reading the
// store again. The price is that each instance reads every purchase once
// and holds its own copy of the counts. (Once the bounds below drop
// something, what they drop depends on the order in which the partitions'
// lines were folded, so two instances can differ in their rarest pairs and
// longest-idle customers; each customer's own lines come in order.)
//
// Memory is bounded whatever the stream: the counts keep each customer's
// MaxHistory most recent distinct products, at most MaxCustomers
// customers (the longest idle are forgotten) and at most MaxPairs pairs
// (the rarest are dropped); the model keeps each product's Neighbours best
// neighbours, never an item-item matrix. Stats reports both in bytes.
//
// A second import into a store that holds one already writes rows at
// offsets the cursor has passed (imports share partition -1 and count
// offsets per source); an instance picks those up when it restarts.
package recsvc
