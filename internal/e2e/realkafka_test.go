package e2e

import "testing"

// The crash and scale-out tests again, against a real Apache Kafka named by
// SHOPSTREAM_TEST_KAFKA (`make kafka-test` starts one and runs these), each
// on a fresh 4-partition topic.

func TestIntegrationRealKafkaCrashRecovery(t *testing.T) {
	t.Parallel()
	k := realKafka(t)
	for _, tc := range []struct {
		name string
		open func(*testing.T) *storeEnv
	}{{"postgres", postgresStore}, {"sqlite", sqliteStore}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			crashRecovery(t, k, tc.open(t))
		})
	}
}

func TestIntegrationRealKafkaScaleOut(t *testing.T) {
	t.Parallel()
	scaleOut(t, realKafka(t), postgresStore(t))
}
