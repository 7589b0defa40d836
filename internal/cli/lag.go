package cli

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/web"
)

// groupLag tells `serve`, which runs no processor, how far the processors
// of a consumer group are behind: the offsets they committed to the store
// (in the transactions of their results, so the stored offsets are the
// group's real position) against the topic's end offsets in Kafka. Its
// readiness detail has the shape of the processor's Health, so the
// dashboard's System page and the Overview read it alike; serve stays
// ready whatever it finds (the processors' own /readyz judge them).
type groupLag struct {
	adm          *kadm.Client
	st           store.Store
	group, topic string
	log          *slog.Logger
	every        time.Duration

	mu   sync.Mutex
	at   time.Time
	last web.Readiness
}

// serveLag is groupLag's readiness detail.
type serveLag struct {
	// Source says where the figures come from.
	Source     string                     `json:"source"`
	Lag        int64                      `json:"lag"`
	Partitions []pipeline.PartitionHealth `json:"partitions"`
	// Error says why Kafka or the store could not be read; the figures
	// are then absent.
	Error string `json:"error,omitempty"`
}

func newGroupLag(cl *kgo.Client, st store.Store, group, topic string, log *slog.Logger) *groupLag {
	return &groupLag{adm: kadm.NewClient(cl), st: st, group: group, topic: topic, log: log, every: 2 * time.Second}
}

// readiness answers from what was read at most every ago.
func (g *groupLag) readiness(ctx context.Context) web.Readiness {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.at.IsZero() && time.Since(g.at) < g.every {
		return g.last
	}
	d := serveLag{Source: "the group " + g.group + "'s offsets in the store against the end of " + g.topic + " in Kafka"}
	if err := g.read(ctx, &d); err != nil {
		g.log.Warn("reading the processors' lag", "err", err)
		d.Error = "not readable (the server's log says why)"
		d.Partitions = nil
	}
	g.at, g.last = time.Now(), web.Readiness{Ready: true, Detail: d}
	return g.last
}

func (g *groupLag) read(ctx context.Context, d *serveLag) error {
	ends, err := g.adm.ListEndOffsets(ctx, g.topic)
	if err != nil {
		return fmt.Errorf("listing the end offsets of %s: %w", g.topic, err)
	}
	if err := ends.Error(); err != nil {
		return fmt.Errorf("listing the end offsets of %s: %w", g.topic, err)
	}
	committed, err := g.st.Offsets(ctx, g.group, g.topic)
	if err != nil {
		return fmt.Errorf("reading the stored offsets of %s: %w", g.group, err)
	}
	d.Partitions = []pipeline.PartitionHealth{}
	ends.Each(func(o kadm.ListedOffset) {
		c, ok := committed[o.Partition]
		p := pipeline.PartitionHealth{Partition: o.Partition, Committed: -1, End: o.Offset, Lag: o.Offset}
		if ok {
			p.Committed, p.Lag = c, max(o.Offset-c, 0)
		}
		d.Lag += p.Lag
		d.Partitions = append(d.Partitions, p)
	})
	slices.SortFunc(d.Partitions, func(a, b pipeline.PartitionHealth) int { return int(a.Partition - b.Partition) })
	return nil
}
