package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/shopstream/shopstream/internal/store"
)

// The transactions are the one table written a row per record, so their
// COPY is encoded here, straight from store.Tx into PostgreSQL's binary
// COPY format, rather than by pgx.CopyFrom, which boxes every value in an
// interface and looks up its encode plan per value: over a million-record
// deployed run that was 14% of the processor's CPU.

// pgEpochMicros is 2000-01-01 00:00:00 UTC, PostgreSQL's timestamp epoch,
// in Unix microseconds.
const pgEpochMicros = 946_684_800_000_000

// float4OID is the type of the elements of features (real[]).
const float4OID = 700

// copyHeader starts a binary COPY stream: the signature, no flags, no
// header extension.
var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// txCopy is the binary COPY stream of the parts' transactions, encoded a
// chunk at a time as it is read.
type txCopy struct {
	parts   []store.Part
	i, j    int
	buf     []byte
	off     int
	started bool
	done    bool
}

// copyChunk is about how many bytes txCopy encodes ahead of the reader.
const copyChunk = 64 << 10

func (c *txCopy) Read(p []byte) (int, error) {
	if c.off == len(c.buf) {
		if c.done {
			return 0, io.EOF
		}
		c.fill()
	}
	n := copy(p, c.buf[c.off:])
	c.off += n
	return n, nil
}

// fill encodes the next rows (the header first, the trailer last) into
// the emptied buffer.
func (c *txCopy) fill() {
	c.buf, c.off = c.buf[:0], 0
	if !c.started {
		c.buf = append(c.buf, copyHeader...)
		c.started = true
	}
	for len(c.buf) < copyChunk {
		if c.i == len(c.parts) {
			c.buf = binary.BigEndian.AppendUint16(c.buf, 0xffff) // the trailer: -1 fields
			c.done = true
			return
		}
		if c.j == len(c.parts[c.i].Txs) {
			c.i, c.j = c.i+1, 0
			continue
		}
		c.buf = appendTxRow(c.buf, &c.parts[c.i].Txs[c.j])
		c.j++
	}
}

// appendTxRow appends t as a binary COPY row of txColumns, in their order.
func appendTxRow(b []byte, t *store.Tx) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(txColumns)))
	b = appendText(b, t.TransactionID)
	b = appendText(b, t.CustomerID)
	b = appendTime(b, t.EventTime.UnixMicro())
	b = appendInt8(b, t.TotalCents)
	b = appendText(b, t.Currency)
	b = appendText(b, t.PaymentMethod)
	b = appendText(b, t.Channel)
	b = appendText(b, t.CardBIN)
	b = appendText(b, t.CardLast4)
	b = appendText(b, t.DeviceID)
	b = appendText(b, t.IPAddress)
	b = appendText(b, t.BillingCountry)
	b = appendText(b, t.ShippingCountry)
	b = appendBytes(b, t.ItemsJSON) // json's binary form is its text
	b = appendInt4(b, t.Partition)
	b = appendInt8(b, t.Offset)
	b = appendFloat4(b, float32(t.Risk))
	b = appendText(b, t.Decision)
	b = appendBytes(b, t.ReasonsJSON)
	if t.HasShadow {
		b = appendFloat4(b, float32(t.ShadowRisk))
	} else {
		b = appendNull(b)
	}
	b = appendFloat4Array(b, t.Features)
	b = appendTime(b, t.ProducedAt.UnixMicro())
	b = appendText(b, t.IPCountry)
	var hosting byte
	if t.IPHosting {
		hosting = 1
	}
	b = binary.BigEndian.AppendUint32(b, 1)
	b = append(b, hosting)
	return appendText(b, t.ShippingAddress)
}

func appendNull(b []byte) []byte { return binary.BigEndian.AppendUint32(b, math.MaxUint32) } // length -1

func appendText(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendBytes(b, s []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendInt4(b []byte, v int32) []byte {
	b = binary.BigEndian.AppendUint32(b, 4)
	return binary.BigEndian.AppendUint32(b, uint32(v))
}

func appendInt8(b []byte, v int64) []byte {
	b = binary.BigEndian.AppendUint32(b, 8)
	return binary.BigEndian.AppendUint64(b, uint64(v))
}

func appendTime(b []byte, unixMicro int64) []byte { return appendInt8(b, unixMicro-pgEpochMicros) }

func appendFloat4(b []byte, v float32) []byte {
	b = binary.BigEndian.AppendUint32(b, 4)
	return binary.BigEndian.AppendUint32(b, math.Float32bits(v))
}

// appendFloat4Array appends fs as a real[]: NULL when nil, an array of no
// dimension when empty (as '{}' reads), else one dimension from 1.
func appendFloat4Array(b []byte, fs []float32) []byte {
	if fs == nil {
		return appendNull(b)
	}
	ndim := uint32(1)
	size := 12 + 8 + 8*len(fs)
	if len(fs) == 0 {
		ndim, size = 0, 12
	}
	b = binary.BigEndian.AppendUint32(b, uint32(size))
	b = binary.BigEndian.AppendUint32(b, ndim)
	b = binary.BigEndian.AppendUint32(b, 0) // no NULL element
	b = binary.BigEndian.AppendUint32(b, float4OID)
	if ndim == 0 {
		return b
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(fs)))
	b = binary.BigEndian.AppendUint32(b, 1) // lower bound
	for _, f := range fs {
		b = binary.BigEndian.AppendUint32(b, 4)
		b = binary.BigEndian.AppendUint32(b, math.Float32bits(f))
	}
	return b
}

// appendIDRow appends t's row of transaction_ids (idColumns): its id and
// where its row of transactions is, each value encoded as appendTxRow
// encodes it, so that the two tables join on equal values.
func appendIDRow(b []byte, t *store.Tx) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(idColumns)))
	b = appendText(b, t.TransactionID)
	b = appendTime(b, t.EventTime.UnixMicro())
	b = appendInt4(b, t.Partition)
	return appendInt8(b, t.Offset)
}

// copyIDsInto copies the rows of transaction_ids (or the benchmark's copy
// of it, table) of txs in one binary COPY, in their order.
func copyIDsInto(ctx context.Context, tx pgx.Tx, table string, txs []*store.Tx) error {
	b := make([]byte, 0, len(copyHeader)+64*len(txs)+2)
	b = append(b, copyHeader...)
	for _, t := range txs {
		b = appendIDRow(b, t)
	}
	b = binary.BigEndian.AppendUint16(b, 0xffff) // the trailer
	sql := "COPY " + pgx.Identifier{table}.Sanitize() + " (" + strings.Join(idColumns, ", ") + ") FROM STDIN BINARY"
	_, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(b), sql)
	return err
}

// copyTxsInto copies the parts' transactions into table (transactions, or
// the benchmark's copy of it) in one binary COPY.
func copyTxsInto(ctx context.Context, tx pgx.Tx, table string, parts []store.Part) error {
	n := 0
	for i := range parts {
		n += len(parts[i].Txs)
	}
	if n == 0 {
		return nil
	}
	sql := "COPY " + pgx.Identifier{table}.Sanitize() + " (" + strings.Join(txColumns, ", ") + ") FROM STDIN BINARY"
	_, err := tx.Conn().PgConn().CopyFrom(ctx, &txCopy{parts: parts}, sql)
	return err
}
