package bus

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// Retention is how much of a topic's partitions the embedded broker keeps.
type Retention struct {
	// Bytes caps each partition's log; 0 is no cap.
	Bytes int64
	// Time deletes records older than this (by their timestamp); 0 keeps
	// them however old.
	Time time.Duration
	// DeleteUnread is EmbeddedConfig.DeleteUnread for this topic alone:
	// retention applies whatever the consumer groups committed. For the
	// topics the pipeline only writes (alerts, dead letters), which no
	// group of its own reads, so the floor of the groups would keep
	// every record.
	DeleteUnread bool
}

func (r Retention) none() bool { return r.Bytes == 0 && r.Time == 0 }

// ParseTopicRetention parses NAME=BYTES:DURATION (either side of the colon
// may be empty or 0 for no limit), as `shopstream broker --topic-retention`
// takes it.
func ParseTopicRetention(s string) (string, Retention, error) {
	name, spec, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return "", Retention{}, fmt.Errorf("topic retention %q: want NAME=BYTES:DURATION", s)
	}
	bs, ds, ok := strings.Cut(spec, ":")
	if !ok {
		return "", Retention{}, fmt.Errorf("topic retention %q: want NAME=BYTES:DURATION (a colon between size and age)", s)
	}
	var r Retention
	if bs != "" {
		b, err := strconv.ParseInt(bs, 10, 64)
		if err != nil || b < 0 {
			return "", Retention{}, fmt.Errorf("topic retention %q: size %q is not a number of bytes", s, bs)
		}
		r.Bytes = b
	}
	if ds != "" && ds != "0" {
		d, err := time.ParseDuration(ds)
		if err != nil || d < 0 {
			return "", Retention{}, fmt.Errorf("topic retention %q: age %q is not a duration such as 72h", s, ds)
		}
		r.Time = d
	}
	return name, r, nil
}

func (c EmbeddedConfig) validateRetention() error {
	if c.RetentionBytes < 0 || c.RetentionTime < 0 {
		return fmt.Errorf("embedded broker: negative retention (%d bytes, %s)", c.RetentionBytes, c.RetentionTime)
	}
	for t, r := range c.TopicRetention {
		if r.Bytes < 0 || r.Time < 0 {
			return fmt.Errorf("embedded broker: negative retention for topic %s (%d bytes, %s)", t, r.Bytes, r.Time)
		}
	}
	return nil
}

// retentionOf returns the retention in force for topic.
func (e *Embedded) retentionOf(topic string) Retention {
	if r, ok := e.cfg.TopicRetention[topic]; ok {
		return r
	}
	return Retention{Bytes: e.cfg.RetentionBytes, Time: e.cfg.RetentionTime}
}

// retention applies the retention every RetentionInterval.
func (e *Embedded) retention() {
	defer close(e.done)
	t := time.NewTicker(e.cfg.RetentionInterval)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), e.cfg.RetentionInterval)
			if _, err := e.ApplyRetention(ctx); err != nil {
				e.log.Warn("applying retention failed; nothing deleted this round", "err", err)
			}
			cancel()
		}
	}
}

// Deleted is a range of records retention deleted.
type Deleted struct {
	Topic     string
	Partition int32
	From, To  int64 // offsets [From, To)
}

// ApplyRetention deletes, in every topic with a retention, the records
// beyond its size cap or older than its age limit, but (unless
// DeleteUnread) never past the lowest offset any consumer group committed
// on the partition. It logs and returns each range it deleted.
func (e *Embedded) ApplyRetention(ctx context.Context) ([]Deleted, error) {
	topics, err := e.adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing topics: %w", err)
	}
	var floors map[string]map[int32]int64
	if !e.cfg.DeleteUnread {
		if floors, err = e.committedFloors(ctx); err != nil {
			return nil, err
		}
	}
	var out []Deleted
	for _, topic := range topics.Names() {
		r := e.retentionOf(topic)
		if r.none() {
			continue
		}
		byTime := map[int32]int64{}
		if r.Time > 0 {
			listed, err := e.adm.ListOffsetsAfterMilli(ctx, time.Now().Add(-r.Time).UnixMilli(), topic)
			if err != nil {
				return out, fmt.Errorf("listing offsets of %s by time: %w", topic, err)
			}
			for _, o := range listed[topic] {
				if o.Err == nil && o.Offset >= 0 {
					byTime[o.Partition] = o.Offset
				}
			}
		}
		for _, pi := range e.c.PartitionInfos(topic) {
			start, end := pi.LogStartOffset, pi.HighWatermark
			target := start
			if r.Bytes > 0 && pi.NumBytes > r.Bytes && end > start {
				// kfake reports the size, not where batches start: delete
				// the share of records the excess is of the log.
				excess := float64(pi.NumBytes-r.Bytes) / float64(pi.NumBytes)
				target = max(target, start+int64(excess*float64(end-start)+0.999999))
			}
			if o, ok := byTime[pi.Partition]; ok {
				target = max(target, o)
			}
			target = min(target, end)
			reason := "retention"
			if !e.cfg.DeleteUnread && !r.DeleteUnread {
				floor, ok := floors[topic][pi.Partition]
				if !ok {
					floor = start // no group has committed here: keep everything
				}
				if floor < target {
					reason = "retention, held at the lowest committed offset"
					target = floor
				}
			}
			if target <= start {
				continue
			}
			if err := e.DeleteRecords(topic, pi.Partition, target); err != nil {
				return out, err
			}
			d := Deleted{Topic: topic, Partition: pi.Partition, From: start, To: target}
			out = append(out, d)
			e.log.Info("deleted records", "topic", topic, "partition", pi.Partition, "from_offset", start, "to_offset", target,
				"records", target-start, "why", reason, "max_bytes", r.Bytes, "max_age", r.Time)
		}
	}
	return out, nil
}

// committedFloors returns, per topic some group committed on, the lowest
// offset committed per partition over those groups; a partition one of
// them has not committed is absent (nothing of it may go).
func (e *Embedded) committedFloors(ctx context.Context) (map[string]map[int32]int64, error) {
	groups, err := e.adm.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing consumer groups: %w", err)
	}
	type seen struct {
		floor map[int32]int64
		count map[int32]int // groups that committed the partition
		n     int           // groups that committed on the topic
	}
	topics := map[string]*seen{}
	for _, g := range groups.Groups() {
		offs, err := e.adm.FetchOffsets(ctx, g)
		if err != nil {
			return nil, fmt.Errorf("fetching the offsets of group %s: %w", g, err)
		}
		committed := map[string]bool{}
		offs.Each(func(o kadm.OffsetResponse) {
			if o.Err != nil || o.At < 0 {
				return
			}
			s := topics[o.Topic]
			if s == nil {
				s = &seen{floor: map[int32]int64{}, count: map[int32]int{}}
				topics[o.Topic] = s
			}
			if !committed[o.Topic] {
				committed[o.Topic] = true
				s.n++
			}
			if f, ok := s.floor[o.Partition]; !ok || o.At < f {
				s.floor[o.Partition] = o.At
			}
			s.count[o.Partition]++
		})
	}
	out := map[string]map[int32]int64{}
	for t, s := range topics {
		out[t] = map[int32]int64{}
		for p, f := range s.floor {
			if s.count[p] == s.n { // every group on the topic committed it
				out[t][p] = f
			}
		}
	}
	return out, nil
}
