package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Claim implements store.Store: one statement moves the group's epoch on
// (starting above any generation stored before the epochs existed), a
// second records it with the claimed partitions' offsets, in one
// transaction, so concurrent claims are serialised by the epoch row.
func (s *Store) Claim(ctx context.Context, group, topic, owner string, partitions []int32) (int32, error) {
	var epoch int32
	err := s.d.Tx(ctx, func(tx DB) error {
		err := tx.QueryRow(ctx, `INSERT INTO consumer_epochs (group_id, topic, epoch)
			SELECT $1, $2, coalesce(max(generation), 0) + 1 FROM consumer_offsets WHERE group_id = $1 AND topic = $2
			ON CONFLICT (group_id, topic) DO UPDATE SET epoch = consumer_epochs.epoch + 1
			RETURNING epoch`, group, topic).Scan(&epoch)
		if err != nil {
			return fmt.Errorf("moving the ownership epoch on: %w", err)
		}
		if len(partitions) == 0 {
			return nil
		}
		var in strings.Builder
		args := []any{epoch, owner, group, topic}
		for i, p := range partitions {
			if i > 0 {
				in.WriteString(", ")
			}
			args = append(args, p)
			in.WriteString("$" + strconv.Itoa(len(args)))
		}
		if _, err := tx.Exec(ctx, `UPDATE consumer_offsets SET generation = $1, owner = $2
			WHERE group_id = $3 AND topic = $4 AND partition IN (`+in.String()+`)`, args...); err != nil {
			return fmt.Errorf("recording the epoch with the offsets: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("claiming partitions %v of %s for %s: %w", partitions, topic, owner, err)
	}
	return epoch, nil
}
