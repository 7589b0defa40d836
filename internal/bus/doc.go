// Package bus carries records over the Kafka protocol with franz-go: client
// options shared by producers and consumers, the generator's Kafka sink, and
// the embedded in-process broker (kfake) that `shopstream run` and the tests
// use in place of a Kafka cluster.
package bus
