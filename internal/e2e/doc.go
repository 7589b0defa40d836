// Package e2e proves, end to end and under faults, the design's promise of
// "exactly once, and nothing lost" (GitHub issue 3): whatever happens to a
// processor, the broker connection or the database, every record produced
// is stored exactly once, as a transaction or in quarantine.
//
// The package holds only tests. TestMain builds the real binary once
// (go build ./cmd/shopstream into a temporary directory) and every test runs
// `shopstream process` as child processes, each in a process group of its
// own so a signal reaches it and nothing else. The tests produce seeded
// generated records (internal/generate, event times in the last half hour,
// about 2% fraud and 2% bad records, labelled in the same Kafka headers the
// generate command sets) into a topic of their own, and compute what must be
// stored from what they produced, independently of the pipeline:
//
//   - the number of good records and the sum of their amounts in cents;
//   - the number of bad records, all of which must be quarantined;
//   - per event-time minute (UTC), the count and cents of the good records.
//
// Once the stored offsets (store.Offsets) reach the topic's end offsets, the
// tests compare those figures with store.Summary, with store.Windows at
// minute granularity, and with the rows themselves: each offset of each
// partition is stored exactly once, a good record as the transaction
// produced there, a bad one in quarantine for the check it was made to fail
// and with its label; and what each batch derives in the same database
// transaction adds up too (customers' orders and revenue, one label per
// transaction, one dead-letter message in the outbox per quarantined
// record).
//
// The tests:
//
//   - TestCrashRecovery (PostgreSQL and SQLite): a processor is killed with
//     SIGKILL five times at seeded random moments while it commits batches,
//     and restarted each time; before the last restart, 50 recent records
//     are produced again, as a producer retrying across a crash would, and
//     50 three-day-old ones under another key (so on other partitions,
//     whose restored state does not know them: only the store's unique key
//     can catch them); all must be quarantined as duplicates. Nothing is
//     lost or counted twice.
//   - TestEntityStageCrashRecovery (PostgreSQL and SQLite): `process
//     --entities` (processor, outbox deliverer and entity stage with its
//     entity rules) is killed with SIGKILL six times over a stream with
//     fraud rings and card testing spread over accounts, every other time
//     while the stage holds a batch's store transaction open after its
//     last write (the test hook entitystage.EnvHoldBatch); in the end the
//     transactions are stored once, the entity counts equal a
//     recomputation from them, every generated ring is stored whole, and
//     each decision the entity rules raised was applied once (alert row,
//     reasons, alert queued, detection rollups).
//   - TestScaleOut (PostgreSQL): a second processor joins the group
//     mid-stream and the first leaves with SIGTERM mid-stream; both must have
//     committed records, and the counts each logs when it stops add up to the
//     totals exactly.
//   - TestDatabaseRestart (PostgreSQL): while the processor writes a live
//     stream, the database is restarted as a crash would (pgtest.Restart),
//     and later kept down for 3 s (pgtest.Stop, Start); the processor retries
//     and the totals are exact. Both hit the one PostgreSQL cluster every
//     test of this package shares, so this test does not call t.Parallel,
//     and all the others do: Go runs parallel tests only after the
//     sequential ones have finished, so none of them runs meanwhile.
//   - TestAmbiguousCommit (PostgreSQL): a proxy between the processor and
//     PostgreSQL (pgProxy) forwards one batch's COMMIT and cuts the
//     connection before the reply arrives: the batch is stored, the
//     processor sees an error. The database faults above cause this now and
//     then; here it happens on cue.
//   - TestTransactionalUpstream (SQLite): two transactional producers
//     interleave committed and aborted transactions across the partitions;
//     every committed record is stored exactly once, no aborted one is.
//   - TestRetentionLoss (SQLite): records below an offset are deleted
//     while the processor is down; the restarted processor counts exactly
//     that range as lost, logs it and sends one alert to the alerts topic.
//   - TestIntegrationRealKafkaCrashRecovery and
//     TestIntegrationRealKafkaScaleOut (and ...TransactionalUpstream,
//     ...RetentionLoss) run these against a real
//     Apache Kafka named by SHOPSTREAM_TEST_KAFKA (comma-separated brokers),
//     on a fresh 4-partition topic; `make kafka-test` starts one
//     (test/kafka/kafka.sh) and runs them. Without the variable they skip.
//
// Everything else runs against the in-process broker (internal/bus) and a
// throwaway PostgreSQL cluster (internal/store/pgtest).
//
// A SIGKILLed processor never leaves its consumer group; the broker would
// keep waiting for it until its session times out (45 s, franz-go's
// default, which the process command does not let us change). After each
// kill the tests therefore remove the dead member with a LeaveGroup request
// naming its member ID, as its session expiry would, only sooner.
package e2e
