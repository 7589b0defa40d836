package bus

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestEnsureTopics creates a missing topic with the broker's defaults,
// leaves an existing one alone, and makes producing to it work.
func TestEnsureTopics(t *testing.T) {
	b, err := StartEmbedded(EmbeddedConfig{Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	if td, err := adm.ListTopics(ctx); err != nil || td.Has("created-on-demand") {
		t.Fatalf("the topic exists before: %v %v", td, err)
	}
	for range 2 { // the second call finds it there
		if err := EnsureTopics(ctx, cl, "created-on-demand", TopicAlerts); err != nil {
			t.Fatal(err)
		}
	}
	// A new client: the first one's metadata is cached.
	fresh, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	td, err := kadm.NewClient(fresh).ListTopics(ctx)
	if err != nil || !td.Has("created-on-demand") || len(td["created-on-demand"].Partitions) == 0 {
		t.Fatalf("after EnsureTopics: %v %v", td, err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "created-on-demand", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("producing to the created topic: %v", err)
	}
}
