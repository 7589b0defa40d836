package generate

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/shopstream/shopstream/internal/event"
)

// Header is one Kafka record header. It has the shape of franz-go's
// kgo.RecordHeader, so a Kafka sink converts it field by field.
type Header struct {
	Key   string
	Value []byte
}

// The out-of-band label headers. Evaluation reads them; the scorer must not.
const (
	HeaderLabel    = event.HeaderLabel
	HeaderScenario = event.HeaderScenario
	HeaderBad      = event.HeaderBad
)

// Headers returns the record's labels as Kafka headers, always all three
// in the same order (empty values where they do not apply).
func (r Record) Headers() []Header {
	return []Header{
		{Key: HeaderLabel, Value: []byte(r.Label())},
		{Key: HeaderScenario, Value: []byte(r.Scenario)},
		{Key: HeaderBad, Value: []byte(r.Bad)},
	}
}

// Sink receives generated records in order. Write may buffer; Flush must
// not return before everything written so far is stored or delivered.
type Sink interface {
	Write(ctx context.Context, r Record) error
	Flush(ctx context.Context) error
}

// LabelsHeader is the first line of a labels side file.
const LabelsHeader = "transaction_id,fraud,scenario,bad\n"

// NewFileSink writes each record's Value as one line to w (JSON lines;
// bad records never contain a newline), and, if labels is not nil, one
// CSV row per record to labels: transaction_id,fraud (1 or 0),scenario,bad,
// after the LabelsHeader line. Rows follow the records' order, so a
// duplicate_id row repeats an earlier row's transaction_id. Both are
// buffered until Flush.
func NewFileSink(w io.Writer, labels io.Writer) Sink {
	s := &fileSink{w: bufio.NewWriterSize(w, 1<<18)}
	if labels != nil {
		s.labels = bufio.NewWriterSize(labels, 1<<16)
		s.labels.WriteString(LabelsHeader)
	}
	return s
}

type fileSink struct {
	w      *bufio.Writer
	labels *bufio.Writer
	n      int64
	row    []byte
}

func (s *fileSink) Write(_ context.Context, r Record) error {
	s.n++
	s.w.Write(r.Value)
	if err := s.w.WriteByte('\n'); err != nil {
		return fmt.Errorf("writing record %d (%s): %w", s.n, r.TransactionID, err)
	}
	if s.labels == nil {
		return nil
	}
	b := append(s.row[:0], r.TransactionID...)
	b = append(b, ',')
	if r.Fraud {
		b = append(b, '1')
	} else {
		b = append(b, '0')
	}
	b = append(b, ',')
	b = append(b, r.Scenario...)
	b = append(b, ',')
	b = append(b, r.Bad...)
	b = append(b, '\n')
	s.row = b
	if _, err := s.labels.Write(b); err != nil {
		return fmt.Errorf("writing label of record %d (%s): %w", s.n, r.TransactionID, err)
	}
	return nil
}

func (s *fileSink) Flush(context.Context) error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("flushing records: %w", err)
	}
	if s.labels != nil {
		if err := s.labels.Flush(); err != nil {
			return fmt.Errorf("flushing labels: %w", err)
		}
	}
	return nil
}
