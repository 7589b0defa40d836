package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/shopstream/shopstream/internal/store"
)

// EraseCustomer implements store.Privacy.
func (s *Store) EraseCustomer(ctx context.Context, customerID, actor string) (*store.Erasure, error) {
	if customerID == "" {
		return nil, errors.New("erasing a customer: the customer id is empty")
	}
	e := &store.Erasure{Key: store.ErasureKey(customerID), Actor: actor, ErasedAt: s.now().UTC(), Rows: map[string]int64{}}
	quoted, _ := json.Marshal(customerID)
	err := s.d.Tx(ctx, func(tx DB) error {
		if err := s.d.LockErasures(ctx, tx, true); err != nil {
			return fmt.Errorf("locking erasures: %w", err)
		}
		err := tx.QueryRow(ctx, "SELECT id, pseudonym FROM erasures WHERE key = $1", e.Key).Scan(&e.ID, &e.Pseudonym)
		switch {
		case err == nil:
			e.Again = true
		case errors.Is(err, ErrNoRows):
			e.Pseudonym = store.NewPseudonym()
		default:
			return fmt.Errorf("reading erasures: %w", err)
		}
		id, ps := customerID, e.Pseudonym
		steps := []struct {
			table string
			sql   string
		}{
			{"transactions", `UPDATE transactions SET customer_id = $2, device_id = '', ip_address = '', card_bin = '', card_last4 = '',
				shipping_address = ''
				WHERE customer_id = $1`},
			{"alerts", `UPDATE alerts SET customer_id = $2 WHERE customer_id = $1`},
			// The customer's totals move to the pseudonym (added to what
			// it has, for a customer erased before).
			{"", `INSERT INTO customers (customer_id, first_seen, last_seen, orders, revenue_cents)
				SELECT $2, first_seen, last_seen, orders, revenue_cents FROM customers WHERE customer_id = $1
				ON CONFLICT (customer_id) DO UPDATE SET
					first_seen = CASE WHEN excluded.first_seen < customers.first_seen THEN excluded.first_seen ELSE customers.first_seen END,
					last_seen = CASE WHEN excluded.last_seen > customers.last_seen THEN excluded.last_seen ELSE customers.last_seen END,
					orders = customers.orders + excluded.orders,
					revenue_cents = customers.revenue_cents + excluded.revenue_cents`},
			{"customers", `DELETE FROM customers WHERE customer_id = $1`},
			// Recomputed under the pseudonym by the next refresh.
			{"customer_analytics", `DELETE FROM customer_analytics WHERE customer_id = $1`},
			{"experiment_exposures", `UPDATE experiment_exposures SET customer_id = $2 WHERE customer_id = $1 AND NOT EXISTS
				(SELECT 1 FROM experiment_exposures x WHERE x.experiment = experiment_exposures.experiment AND x.customer_id = $2)`},
			{"experiment_exposures", `DELETE FROM experiment_exposures WHERE customer_id = $1`},
			// The entity stage's rows of the customer carry their device,
			// card and address: gone; the rings they joined keep their
			// size and name the pseudonym instead.
			{"entity_events", `DELETE FROM entity_events WHERE customer_id = $1`},
		}
		for _, st := range steps {
			args := []any{id, ps}
			if !strings.Contains(st.sql, "$2") {
				args = args[:1]
			}
			n, err := tx.Exec(ctx, st.sql, args...)
			if err != nil {
				return fmt.Errorf("erasing from %s: %w", st.table, err)
			}
			if st.table != "" {
				e.Rows[st.table] += n
			}
		}
		n, err := s.scrubRings(ctx, tx, id, ps)
		if err != nil {
			return fmt.Errorf("erasing from entity_rings: %w", err)
		}
		e.Rows["entity_rings"] = n
		// Raw records and queued messages: scrubbed where they hold the
		// id as a JSON string.
		for _, b := range []struct{ table, col, extra string }{
			{"quarantine", "raw", ""},
			{"outbox", "payload", " OR msg_key = $2"},
			{"alert_deliveries", "payload", ""},
		} {
			n, err := s.scrubBlobs(ctx, tx, b.table, b.col, b.extra, string(quoted), id, ps)
			if err != nil {
				return fmt.Errorf("erasing from %s: %w", b.table, err)
			}
			e.Rows[b.table] = n
		}
		// Text that names the customer among other words: the routed
		// alerts' summaries ("... of customer c-1 ...") and the audit
		// trail's before and after (a labelled alert, whole).
		for _, c := range []struct{ table, col string }{
			{"alert_deliveries", "summary"},
			{"audit", "before"},
			{"audit", "after"},
		} {
			n, err := s.scrubText(ctx, tx, c.table, c.col, id, ps)
			if err != nil {
				return fmt.Errorf("erasing from %s: %w", c.table, err)
			}
			if c.table == "audit" {
				e.Rows["audit"] += n
			}
		}
		rows, _ := json.Marshal(e.Rows)
		if e.Again {
			return nil
		}
		return tx.QueryRow(ctx, "INSERT INTO erasures (key, pseudonym, erased_at, actor, rows) VALUES ($1, $2, $3, $4, $5) RETURNING id",
			e.Key, e.Pseudonym, e.ErasedAt, actor, string(rows)).Scan(&e.ID)
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// scrubBlobs rewrites, with store.ScrubJSON, the binary column col of the
// rows of table that hold quoted (the id as a JSON string), and returns
// how many it changed. The blob's bytes are compared, so records that are
// not valid UTF-8 are found too.
func (s *Store) scrubBlobs(ctx context.Context, tx DB, table, col, extra, quoted, id, ps string) (int64, error) {
	type hit struct {
		id   int64
		blob []byte
		key  []byte
	}
	var hits []hit
	keyCol := "NULL"
	if table == "outbox" {
		keyCol = "msg_key"
	}
	args := []any{quoted}
	if extra != "" {
		args = append(args, []byte(id))
	}
	err := each(ctx, tx, "SELECT id, "+col+", "+keyCol+" FROM "+table+" WHERE "+fmt.Sprintf(s.q.BlobContains, col)+extra, args, func(r Rows) error {
		var h hit
		if err := r.Scan(&h.id, &h.blob, &h.key); err != nil {
			return err
		}
		hits = append(hits, h)
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, h := range hits {
		blob, _ := store.ScrubJSON(h.blob, id, ps)
		key := h.key
		if string(key) == id {
			key = []byte(ps)
		}
		q := "UPDATE " + table + " SET " + col + " = $1 WHERE id = $2"
		a := []any{blob, h.id}
		if table == "outbox" {
			q = "UPDATE outbox SET payload = $1, msg_key = $3 WHERE id = $2"
			a = append(a, key)
		}
		if _, err := tx.Exec(ctx, q, a...); err != nil {
			return 0, err
		}
	}
	return int64(len(hits)), nil
}

// scrubText puts ps in place of id where it stands alone in the text
// column col of table, and returns how many rows it changed.
func (s *Store) scrubText(ctx context.Context, tx DB, table, col, id, ps string) (int64, error) {
	type hit struct {
		id   int64
		text string
	}
	var hits []hit
	err := each(ctx, tx, "SELECT id, "+col+" FROM "+table+" WHERE "+col+" LIKE $1", []any{"%" + id + "%"}, func(r Rows) error {
		var h hit
		if err := r.Scan(&h.id, &h.text); err != nil {
			return err
		}
		hits = append(hits, h)
		return nil
	})
	if err != nil {
		return 0, err
	}
	var n int64
	for _, h := range hits {
		text := replaceID(h.text, id, ps)
		if text == h.text { // id was part of a longer one
			continue
		}
		if _, err := tx.Exec(ctx, "UPDATE "+table+" SET "+col+" = $1 WHERE id = $2", text, h.id); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Erasures implements store.Privacy.
func (s *Store) Erasures(ctx context.Context, afterID int64, limit int) ([]store.Erasure, error) {
	if limit <= 0 {
		limit = 1000
	}
	return s.erasuresAfter(ctx, s.d.DB(), afterID, limit)
}

func (s *Store) erasuresAfter(ctx context.Context, db DB, afterID int64, limit int) ([]store.Erasure, error) {
	var out []store.Erasure
	err := each(ctx, db, "SELECT id, key, pseudonym, erased_at, actor, rows FROM erasures WHERE id > $1 ORDER BY id LIMIT $2",
		[]any{afterID, limit}, func(r Rows) error {
			var e store.Erasure
			var rows string
			if err := r.Scan(&e.ID, &e.Key, &e.Pseudonym, &e.ErasedAt, &e.Actor, &rows); err != nil {
				return err
			}
			e.ErasedAt = e.ErasedAt.UTC()
			if err := json.Unmarshal([]byte(rows), &e.Rows); err != nil {
				return fmt.Errorf("erasure %d: counts: %w", e.ID, err)
			}
			out = append(out, e)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("reading erasures: %w", err)
	}
	return out, nil
}

// applyErasures pseudonymises b against the erasures recorded after
// b.ErasedUpTo, under the shared erasure lock (see store.Batch), and
// returns how many of its transactions it changed.
func (s *Store) applyErasures(ctx context.Context, tx DB, b *store.Batch) (int, error) {
	if err := s.d.LockErasures(ctx, tx, false); err != nil {
		return 0, fmt.Errorf("locking erasures: %w", err)
	}
	var last int64
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(id), 0) FROM erasures").Scan(&last); err != nil {
		return 0, fmt.Errorf("reading erasures: %w", err)
	}
	if last <= b.ErasedUpTo {
		return 0, nil
	}
	list := map[string]string{}
	for after := b.ErasedUpTo; after < last; {
		es, err := s.erasuresAfter(ctx, tx, after, 10000)
		if err != nil {
			return 0, err
		}
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			list[e.Key] = e.Pseudonym
		}
		after = es[len(es)-1].ID
	}
	n := store.Pseudonymise(b, list)
	b.ErasedUpTo = last
	return n, nil
}

var _ store.Privacy = (*Store)(nil)

// scrubRings puts ps in place of id in the member lists (JSON arrays of
// ids) and reasons of the entity stage's rings id belongs to, and returns
// how many it changed.
func (s *Store) scrubRings(ctx context.Context, tx DB, id, ps string) (int64, error) {
	type ring struct {
		key, members, reason string
	}
	quoted, _ := json.Marshal(id)
	var hits []ring
	err := each(ctx, tx, "SELECT ring_key, CAST(members AS TEXT), reason FROM entity_rings WHERE CAST(members AS TEXT) LIKE $1",
		[]any{"%" + string(quoted) + "%"}, func(r Rows) error {
			var g ring
			if err := r.Scan(&g.key, &g.members, &g.reason); err != nil {
				return err
			}
			hits = append(hits, g)
			return nil
		})
	if err != nil {
		return 0, err
	}
	var n int64
	for _, g := range hits {
		var members []string
		if err := json.Unmarshal([]byte(g.members), &members); err != nil {
			return n, fmt.Errorf("ring %s: members: %w", g.key, err)
		}
		found := false
		for i, m := range members {
			if m == id {
				members[i], found = ps, true
			}
		}
		if !found { // LIKE's _ and % matched another id
			continue
		}
		b, _ := json.Marshal(members)
		if _, err := tx.Exec(ctx, "UPDATE entity_rings SET members = $1, reason = $2 WHERE ring_key = $3",
			string(b), replaceID(g.reason, id, ps), g.key); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// replaceID replaces id in text where it stands alone, not as part of a
// longer id ("c-1" in "c-1," but not in "c-12").
func replaceID(text, id, ps string) string {
	idChar := func(c byte) bool {
		return c == '-' || c == '_' || c == '.' || c == ':' || '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'z'
	}
	var b strings.Builder
	for {
		i := strings.Index(text, id)
		if i < 0 || id == "" {
			b.WriteString(text)
			return b.String()
		}
		end := i + len(id)
		alone := (i == 0 || !idChar(text[i-1])) && (end == len(text) || !idChar(text[end]))
		b.WriteString(text[:i])
		if alone {
			b.WriteString(ps)
		} else {
			b.WriteString(id)
		}
		text = text[end:]
	}
}
