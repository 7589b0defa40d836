package pipeline

import (
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaContact is a hook of the consumer's client that records its
// contact with the brokers, for Health: when it last read an answer, and
// its last failure to connect or read. A consumer in a group reads
// answers all the time (its fetches wait at most --fetch-max-wait, its
// heartbeats come every few seconds), so a long silence means the brokers
// cannot be reached, which the client retries without end.
type kafkaContact struct {
	now  func() time.Time
	ok   atomic.Int64 // unix nanoseconds of the last answer read
	fail atomic.Pointer[kafkaFailure]
}

type kafkaFailure struct {
	at   time.Time
	addr string
	err  string
}

var (
	_ kgo.HookBrokerConnect = (*kafkaContact)(nil)
	_ kgo.HookBrokerRead    = (*kafkaContact)(nil)
)

// newKafkaContact's silence counts from the start of Processor.Run.
func newKafkaContact(now func() time.Time) *kafkaContact { return &kafkaContact{now: now} }

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (k *kafkaContact) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		k.failed(meta, err)
	}
}

// OnBrokerRead implements kgo.HookBrokerRead.
func (k *kafkaContact) OnBrokerRead(meta kgo.BrokerMetadata, _ int16, _ int, _, _ time.Duration, err error) {
	if err != nil {
		k.failed(meta, err)
		return
	}
	k.ok.Store(k.now().UnixNano())
}

func (k *kafkaContact) failed(meta kgo.BrokerMetadata, err error) {
	k.fail.Store(&kafkaFailure{at: k.now(), addr: net.JoinHostPort(meta.Host, strconv.Itoa(int(meta.Port))), err: err.Error()})
}

// silence returns how long no answer has been read, and the last failure
// (nil when none).
func (k *kafkaContact) silence(now time.Time) (time.Duration, *kafkaFailure) {
	return now.Sub(time.Unix(0, k.ok.Load())), k.fail.Load()
}
