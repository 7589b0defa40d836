package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/entitystage"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// Parameters of the entity stage's crash test.
const (
	entityRecords = 8_000
	entityKills   = 6
	entitySeed    = 20261203
	// entityBatch is the processor's: small, so the repartition records
	// reach the stage in many polls, and its batches are many and small.
	entityBatch = 250
	// entityMaxHold bounds the batch write of the stage held open for a
	// kill (entitystage.EnvHoldBatch).
	entityMaxHold = 6
	// entityMaxAhead bounds how many more repartition records the stage
	// must have committed before a kill between batches.
	entityMaxAhead = 3_000
	// entityWindow covers the whole stream, so the stored counts are
	// those of every stored transaction.
	entityWindow = "17520h"
)

// entityFlags are the flags of every process of the test: the entity
// stage on, and the minute rollups of the months-old stream kept.
var entityFlags = []string{"--entities", "--entity-window", entityWindow, "--retain-rollups", "0"}

// TestEntityStageCrashRecovery SIGKILLs `shopstream process --entities`
// (the processor, the outbox deliverer and the entity stage with its
// entity rules, in one process) six times over a generated stream with
// fraud rings and card testing spread over many accounts, and restarts
// it each time. Every other kill lands while an entity batch is in
// flight: the stage is made to hold the store transaction of a seeded
// batch write open after its last write (entitystage.EnvHoldBatch), and
// the test kills the process once it has logged that it holds it; the
// others land at a seeded point after the stage has committed a seeded
// number of records more. When a last process has caught up, the store
// must hold every transaction once, the entity counts a recomputation
// from the stored transactions gives, every generated ring whole, and
// each decision the second step raised applied once: one alert row,
// the entity rules' reasons added once, one alert queued per raise, and
// the detection rollups equal to their recomputation.
func TestEntityStageCrashRecovery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		open func(*testing.T) *storeEnv
	}{{"postgres", postgresStore}, {"sqlite", sqliteStore}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			entityCrashRecovery(t, embeddedKafka(t), tc.open(t))
		})
	}
}

func entityCrashRecovery(t *testing.T, k *kafkaEnv, s *storeEnv) {
	r := newRig(t, k, s, entityBatch)
	// Rings and card testing spread over accounts, with the other
	// scenarios, on the generator's simulated clock: a ring's orders come
	// hours and days apart, so the stream covers months of event time up
	// to a day ago, and the stage's window (--entity-window) all of it.
	mix := maps.Clone(generate.DefaultFraudMix)
	mix[generate.FraudRing], mix[generate.SpreadCardTesting] = 3, 1.5
	// Records in the future are not made: the generator makes one an
	// hour or more ahead of its event time, here still in the past.
	var bad []quality.Reason
	for _, k := range generate.DefaultBadKinds {
		if k != quality.FutureTimestamp {
			bad = append(bad, k)
		}
	}
	g, err := generate.New(generate.Config{Seed: entitySeed, Customers: 1_500, FraudRate: 0.05, BadRate: 0.01, BadKinds: bad,
		FraudMix: mix, Start: time.Now().UTC().Truncate(24 * time.Hour).Add(-400 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	f := &feed{gen: g, seed: entitySeed, want: newExpected()}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	snd := f.sender(sctx, k, r.topic)
	var end time.Time
	for range entityRecords {
		rec := g.Next()
		if rec.Bad == "" {
			f.good = append(f.good, rec)
		}
		end = rec.EventTime
		snd.send(rec)
	}
	err = snd.flush()
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(end) < 24*time.Hour {
		t.Fatalf("the generated stream ends at %s, less than a day ago", end)
	}
	scenarios := map[string]int{}
	for _, rec := range f.good {
		scenarios[rec.Scenario]++
	}
	t.Logf("%d records from %s to %s; good ones by scenario: %v", entityRecords, f.want.first().Format(time.DateOnly), end.Format(time.DateOnly), scenarios)
	rings := generatedRings(t, f.good)
	if len(rings) < 5 {
		t.Fatalf("only %d generated rings", len(rings))
	}

	rng := rand.New(rand.NewPCG(entitySeed, 3))
	ctx := context.Background()
	stage := func() int64 { // repartition records the stage committed
		n, err := s.committed(ctx, entitystage.DefaultGroup, entitystage.DefaultTopic)
		if err != nil {
			return -1
		}
		return n
	}
	var stageAt []int64 // the repartition records committed at each kill
	midStream, held := 0, 0
	for i := range entityKills {
		name := fmt.Sprintf("processor %d", i+1)
		before := stage()
		var p *child
		var how string
		atHold := int64(-1)
		if i%2 == 0 {
			n := 1 + rng.IntN(entityMaxHold)
			p = r.startEnv(t, name, []string{fmt.Sprintf("%s=%d", entitystage.EnvHoldBatch, n)}, entityFlags...)
			waitLogged(t, p, 2*time.Minute, regexp.MustCompile(regexp.QuoteMeta(entitystage.HeldMessage)))
			atHold = stage()
			how = fmt.Sprintf("with its batch write %d held open", n)
		} else {
			ahead := 1 + rng.Int64N(entityMaxAhead)
			p = r.start(t, name, entityFlags...)
			deadline := time.Now().Add(2 * time.Minute)
			for stage() < before+ahead {
				p.mustRun(t)
				if time.Now().After(deadline) {
					t.Fatalf("%s: the entity stage committed %d repartition records in 2 minutes, waiting for %d", name, stage(), before+ahead)
				}
				time.Sleep(5 * time.Millisecond)
			}
			how = fmt.Sprintf("once %d more repartition records were committed", ahead)
		}
		p.kill(t)
		after := stage()
		if atHold >= 0 {
			if after != atHold {
				t.Errorf("kill %d: the stage's offsets moved from %d to %d though its batch in flight was held", i+1, atHold, after)
			}
			held++
		}
		stageAt = append(stageAt, after)
		t.Logf("kill %d: SIGKILL %s; %d of %d transaction records committed, repartition records committed %d -> %d",
			i+1, how, r.committed(), f.want.records, before, after)
		for _, grp := range []string{r.group, r.group + ".labels", entitystage.DefaultGroup} {
			k.evictMembers(t, grp)
		}
	}

	last := r.start(t, "processor (final)", entityFlags...)
	ends := k.endOffsets(t, r.topic)
	r.waitCaughtUp(t, ends, 3*time.Minute, last)
	waitOutboxDelivered(t, s, last)
	repart := k.endOffsets(t, entitystage.DefaultTopic)
	waitOffsets(t, s, entitystage.DefaultGroup, entitystage.DefaultTopic, repart, 3*time.Minute, last)
	waitOutboxDelivered(t, s, last) // the stage's alerts
	last.stop(t, 30*time.Second)
	for _, at := range stageAt {
		if at < sum(repart) {
			midStream++
		}
	}
	t.Logf("%d kills with a batch in flight, %d with repartition records left; %d repartition records in the topic (a transaction's device, card, IP and shipping address, some delivered again)",
		held, midStream, sum(repart))
	// A kill after the stage had caught up proves little: most must have
	// interrupted it.
	if midStream < entityKills-1 {
		t.Errorf("only %d of %d kills happened with repartition records left to process", midStream, entityKills)
	}

	r.verify(t, &f.want, ends)
	t.Run("entity_counts", func(t *testing.T) { checkEntityCounts(t, s) })
	t.Run("rings", func(t *testing.T) { checkGeneratedRings(t, s, rings) })
	t.Run("raised_once", func(t *testing.T) { checkRaisedOnce(t, s) })
	t.Run("rollups", func(t *testing.T) { storetest.CheckRollupsMatchLabels(t, s.st) })
}

// waitOutboxDelivered waits until no outbox message waits for delivery.
func waitOutboxDelivered(t *testing.T, s *storeEnv, c *child) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		n, _, err := s.st.(store.OutboxBacklog).OutboxBacklog(context.Background())
		if err == nil && n == 0 {
			return
		}
		c.mustRun(t)
		if time.Now().After(deadline) {
			t.Fatalf("%d outbox messages still undelivered after 2 minutes (%v)", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitOffsets waits until the offsets stored for group and topic equal
// ends.
func waitOffsets(t *testing.T, s *storeEnv, group, topic string, ends map[int32]int64, timeout time.Duration, c *child) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		offs, err := s.st.Offsets(context.Background(), group, topic)
		if err == nil && caughtUp(offs, ends) {
			return
		}
		c.mustRun(t)
		if time.Now().After(deadline) {
			t.Fatalf("after %s the offsets of %s on %s are %v, want %v (%v)", timeout, group, topic, offs, ends, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// generatedRings are the generator's rings among the good records: their
// accounts, joined by shared devices and cards.
func generatedRings(t *testing.T, good []generate.Record) [][]string {
	t.Helper()
	var links []fraud.Link
	var ev event.Transaction
	for _, r := range good {
		if r.Scenario != generate.FraudRing {
			continue
		}
		if err := event.Decode(r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		links = append(links, fraud.Link{Customer: ev.CustomerID, Entity: "device:" + ev.DeviceID},
			fraud.Link{Customer: ev.CustomerID, Entity: "card:" + fraud.CardKey(ev.Card.BIN, ev.Card.Last4)})
		if a := event.AddressKey(nil, ev.ShippingAddress); a != "" {
			links = append(links, fraud.Link{Customer: ev.CustomerID, Entity: "address:" + a})
		}
	}
	var out [][]string
	for _, r := range fraud.DetectRings(links, 1) {
		out = append(out, r.Members)
	}
	return out
}

// checkEntityCounts compares the stored entity events with a
// recomputation from the stored transactions: each transaction once on
// each of its entities, and each entity's latest counts those of all the
// transactions stored on it (the window, 24 hours, holds them all).
func checkEntityCounts(t *testing.T, s *storeEnv) {
	t.Helper()
	ctx := context.Background()
	type acc struct{ customers, cards, txs map[string]bool }
	want := map[string]*acc{}
	for p := range int32(partitions) {
		err := s.st.RecentTransactions(ctx, p, 0, time.Time{}, func(tx *store.Tx) error {
			card := fraud.CardKey(tx.CardBIN, tx.CardLast4)
			for _, key := range fraud.EntityKeys(nil, tx.DeviceID, card, tx.IPAddress, tx.ShippingAddress) {
				a := want[key]
				if a == nil {
					a = &acc{map[string]bool{}, map[string]bool{}, map[string]bool{}}
					want[key] = a
				}
				a.customers[tx.CustomerID], a.txs[tx.TransactionID] = true, true
				if card != "" {
					a.cards[card] = true
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	type counts struct{ customers, txs, cards int }
	got := map[string]counts{} // the latest counts stored per entity
	rows := map[string]int{}
	once := map[[2]string]int{}
	ents := s.st.(store.Entities)
	for p := range int32(partitions) {
		err := ents.EntityEvents(ctx, p, time.Time{}, func(e *store.EntityEvent) error {
			rows[e.Entity]++
			once[[2]string{e.Entity, e.TransactionID}]++
			if c := got[e.Entity]; e.Transactions > c.txs {
				got[e.Entity] = counts{e.Customers, e.Transactions, e.Cards}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	twice := 0
	for k, n := range once {
		if n > 1 {
			if twice++; twice <= 5 {
				t.Errorf("transaction %s stored %d times on entity %s", k[1], n, k[0])
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d entities stored, %d in the stored transactions", len(got), len(want))
	}
	bad := 0
	for k, a := range want {
		w := counts{len(a.customers), len(a.txs), len(a.cards)}
		if fraud.EntityKind(k) == fraud.EntityCard {
			w.cards = 1
		}
		if got[k] != w || rows[k] != w.txs {
			if bad++; bad <= 5 {
				t.Errorf("entity %s: stored %+v in %d rows, recomputed %+v", k, got[k], rows[k], w)
			}
		}
	}
	if bad > 0 || twice > 0 {
		t.Fatalf("%d of %d entities differ from the recomputation; %d (entity, transaction) pairs stored more than once", bad, len(want), twice)
	}
	t.Logf("%d entities, %d entity events, equal to the recomputation from the stored transactions", len(want), len(once))
}

// checkGeneratedRings finds every generated ring among the stored ones,
// with all its members, and checks that the outbox holds no ring alert
// twice: a ring is alerted when it appears or grows, once per size.
func checkGeneratedRings(t *testing.T, s *storeEnv, truth [][]string) {
	t.Helper()
	stored, err := s.st.(store.Entities).EntityRings(context.Background(), store.RingFilter{Limit: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]store.EntityRing{}
	for _, r := range stored {
		for _, m := range r.Members {
			in[m] = r
		}
	}
	for _, members := range truth {
		r, ok := in[members[0]]
		if !ok {
			t.Errorf("generated ring %v not stored", members)
			continue
		}
		for _, m := range members {
			if !slices.Contains(r.Members, m) {
				t.Errorf("generated ring %v stored as %q without %s", members, r.Reason, m)
				break
			}
		}
	}
	seen := map[string]int{}
	alerts := 0
	for _, m := range outboxAlerts(t, s, entitystage.RingAlertKind) {
		var a entitystage.RingAlert
		if err := json.Unmarshal(m, &a); err != nil {
			t.Fatalf("ring alert %s: %v", m, err)
		}
		alerts++
		key := fmt.Sprintf("%s with %d accounts and %d entities", a.Key, a.Accounts, len(a.Entities))
		if seen[key]++; seen[key] == 2 {
			t.Errorf("ring %s alerted twice", key)
		}
	}
	if alerts < len(stored) {
		t.Errorf("%d ring alerts queued for %d rings stored", alerts, len(stored))
	}
	if !t.Failed() {
		t.Logf("%d generated rings found whole among %d stored; %d ring alerts queued, none twice", len(truth), len(stored), alerts)
	}
}

// outboxAlerts returns the payloads of the outbox messages of kind for
// the alerts topic, in the order they were queued. The outbox keeps
// delivered messages, so it holds every one ever queued.
func outboxAlerts(t *testing.T, s *storeEnv, kind string) [][]byte {
	t.Helper()
	var out [][]byte
	err := s.query(context.Background(), "SELECT payload FROM outbox WHERE kind = 'kafka' AND target = '"+bus.TopicAlerts+"' ORDER BY id",
		func(scan func(...any) error) error {
			var p []byte
			if err := scan(&p); err != nil {
				return err
			}
			var k struct {
				Kind string `json:"kind"`
			}
			if err := json.Unmarshal(p, &k); err != nil {
				return fmt.Errorf("alert %s: %w", p, err)
			}
			if k.Kind == kind {
				out = append(out, p)
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkRaisedOnce checks that every decision the second step raised was
// applied once: the transaction and its one alert row carry the raised
// decision and each of the entity rules' reasons once; the alerts
// queued for it raise it step by step (approve to review to decline),
// never twice to the same decision, the last to the stored decision,
// and together name exactly the entity reasons stored; and no approved
// transaction has an alert row.
func checkRaisedOnce(t *testing.T, s *storeEnv) {
	t.Helper()
	ctx := context.Background()
	type row struct {
		decision string
		reasons  []json.RawMessage
	}
	read := func(sql string) map[string]row {
		out := map[string]row{}
		err := s.query(ctx, sql, func(scan func(...any) error) error {
			var id, decision, reasons string
			if err := scan(&id, &decision, &reasons); err != nil {
				return err
			}
			var rs []json.RawMessage
			if err := json.Unmarshal([]byte(reasons), &rs); err != nil {
				return fmt.Errorf("reasons of %s: %w", id, err)
			}
			out[id] = row{decision, rs}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	txs := read("SELECT transaction_id, decision, CAST(reasons AS TEXT) FROM transactions")
	alerts := read("SELECT transaction_id, decision, CAST(reasons AS TEXT) FROM alerts")
	// The entity rules' reasons, as compact JSON, of a list of reasons.
	stepTwo := func(rs []json.RawMessage) []string {
		var out []string
		for _, r := range rs {
			var v struct {
				Step int `json:"step"`
			}
			if json.Unmarshal(r, &v) == nil && v.Step == 2 {
				var b bytes.Buffer
				if err := json.Compact(&b, r); err != nil {
					t.Fatal(err)
				}
				out = append(out, b.String())
			}
		}
		slices.Sort(out)
		return out
	}
	raised := map[string][]entitystage.UpgradeAlert{}
	for _, m := range outboxAlerts(t, s, entitystage.UpgradeAlertKind) {
		var a entitystage.UpgradeAlert
		if err := json.Unmarshal(m, &a); err != nil {
			t.Fatalf("raise alert %s: %v", m, err)
		}
		raised[a.TransactionID] = append(raised[a.TransactionID], a)
	}
	var wrong []string
	bad := func(format string, args ...any) { wrong = append(wrong, fmt.Sprintf(format, args...)) }
	rank := map[string]int{"approve": 0, "review": 1, "decline": 2}
	upgraded, queued := 0, 0
	for id, tx := range txs {
		a, alerted := alerts[id]
		switch {
		case tx.decision == "approve" && alerted:
			bad("%s: approved, with an alert row", id)
		case tx.decision != "approve" && !alerted:
			bad("%s: %s without an alert row", id, tx.decision)
		case alerted && a.decision != tx.decision:
			bad("%s: %s, its alert row %s", id, tx.decision, a.decision)
		}
		reasons := stepTwo(tx.reasons)
		if alerted && !slices.Equal(stepTwo(a.reasons), reasons) {
			bad("%s: entity reasons %v, its alert row's %v", id, reasons, stepTwo(a.reasons))
		}
		if len(reasons) != len(slices.Compact(slices.Clone(reasons))) {
			bad("%s: an entity reason added twice: %v", id, reasons)
		}
		ups := raised[id]
		if len(reasons) > 0 {
			upgraded++
		}
		queued += len(ups)
		if len(reasons) > 0 && len(ups) == 0 {
			bad("%s: raised to %s by %v, no alert queued", id, tx.decision, reasons)
		}
		var named []string
		prev := -1
		for i, u := range ups {
			if rank[u.Decision] <= prev {
				bad("%s: alert %d of %d raises it to %s again (alerts %v)", id, i+1, len(ups), u.Decision, decisionsOf(ups))
			}
			prev = rank[u.Decision]
			var rs []json.RawMessage
			if err := json.Unmarshal(u.Reasons, &rs); err != nil {
				t.Fatal(err)
			}
			named = append(named, stepTwo(rs)...)
		}
		slices.Sort(named)
		if len(ups) > 0 && (ups[len(ups)-1].Decision != tx.decision || !slices.Equal(named, reasons)) {
			bad("%s: stored %s with entity reasons %v; alerts queued %v naming %v", id, tx.decision, reasons, decisionsOf(ups), named)
		}
	}
	for id := range alerts {
		if _, ok := txs[id]; !ok {
			bad("%s: an alert row without a transaction", id)
		}
	}
	if len(wrong) > 0 {
		slices.Sort(wrong)
		t.Errorf("%d raised decisions not applied once:\n%s", len(wrong), strings.Join(wrong[:min(len(wrong), 10)], "\n"))
	}
	if upgraded == 0 {
		t.Fatal("the second step raised no decision: the test proves nothing about its upgrades")
	}
	if !t.Failed() {
		t.Logf("%d transactions raised by the entity rules, each applied once; %d raise alerts queued, %d alert rows", upgraded, queued, len(alerts))
	}
}

func decisionsOf(ups []entitystage.UpgradeAlert) []string {
	var out []string
	for _, u := range ups {
		out = append(out, u.Decision)
	}
	return out
}
