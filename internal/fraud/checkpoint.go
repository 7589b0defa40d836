package fraud

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"sync"
)

// A State's checkpoint lets a partition's new owner start from the state
// as it was at an offset and replay only the records after it, instead of
// replaying a day or more of stored history. The encoding is versioned and
// compact; a state encodes to the same bytes as the state restored from
// them.
//
// Layout of version 3, all integers little-endian or unsigned varints
// (uv), signed differences zig-zag varints (zz):
//
//	"SSFS" 0x03                    magic and version
//	gN gMeanLog gVarLog gMeanAmt    float64 bits, 8 bytes each
//	customers, devices, cards, IPs: uv count, then per record in the
//	  table's slot order: its key (8 bytes), uv last, then the record
//	  with event times as zz(last - time)
//	crc32c                         of everything before it, 4 bytes
//
// Version 2 wrote the records in ascending order of key, each key as a uv
// delta from the one before; it is still read. Sorting by key read the
// records in random order, a cache miss each in tables of hundreds of
// megabytes: at a million customers a partition's 12 MB checkpoint took
// 109 ms to encode on the partition's goroutine, which its batch waited
// for. In slot order the tables are read front to back.
//
// The configuration (lookups, idle time) is not part of the checkpoint:
// restore into a State made with the same StateConfig. Version 2 added
// each customer's shipping addresses (new_ship_address); a version 1
// checkpoint is refused, so the partition is rebuilt by replaying its
// stored transactions, which carry the addresses' keys, rather than
// restored without them (every known customer's next address would look
// new for a day).

// checkpointMagic starts every encoded State; the byte after it is the
// version.
const checkpointMagic = "SSFS"

// CheckpointVersion is the version of the encoding AppendBinary writes.
const CheckpointVersion = 3

// checkpointSortedVersion is the version whose records are sorted by key
// and whose keys are deltas (see above); UnmarshalBinary reads it too.
const checkpointSortedVersion = 2

// stateCRC is the checksum table of the encoding (CRC-32C).
var stateCRC = crc32.MakeTable(crc32.Castagnoli)

// ErrBadCheckpoint is wrapped by every error about bytes that are not a
// valid encoded State.
var ErrBadCheckpoint = errors.New("invalid fraud state checkpoint")

// MarshalBinary encodes the state; see AppendBinary.
func (s *State) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(nil)
}

// AppendBinary appends the state's encoding to b. It never fails; the
// error is there for encoding.BinaryAppender.
//
// A large state is encoded in two halves at once, the second on a
// goroutine of its own into a buffer of its own, appended after the
// first: the same bytes in about half the time when a core is free. A
// partition's processor encodes its checkpoint on the partition's
// goroutine and the whole batch waits for it, while the other
// partitions' goroutines, done with the batch, leave a core idle. The
// halves are cut where the last encoding's bytes per record of each
// table put half the bytes (before a first encoding, those of a typical
// checkpoint).
func (s *State) AppendBinary(b []byte) ([]byte, error) {
	return s.appendBinary(b, parallelEncodeMin), nil
}

// parallelEncodeMin is the fewest records (customers, devices, cards and
// IP addresses together) from which AppendBinary encodes in two halves.
const parallelEncodeMin = 1 << 15

// appendBinary is AppendBinary, encoding in two halves from parallelMin
// records.
func (s *State) appendBinary(b []byte, parallelMin int) []byte {
	start := len(b)
	b = append(b, checkpointMagic...)
	b = append(b, CheckpointVersion)
	for _, f := range [...]float64{s.gN, s.gMeanLog, s.gVarLog, s.gMeanAmt} {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	}
	ts := s.encTables()
	var sizes [len(ts)]int
	k, j, half, ok := s.halfway(&ts, parallelMin)
	if !ok {
		b = appendTables(b, &ts, 0, 0, len(ts), 0, &sizes)
	} else {
		var tail []byte
		var tailSizes [len(ts)]int
		var wg sync.WaitGroup
		wg.Go(func() {
			tail = appendTables(make([]byte, 0, half+half/8), &ts, k, j, len(ts), 0, &tailSizes)
		})
		b = appendTables(b, &ts, 0, 0, k, j, &sizes)
		wg.Wait()
		b = append(b, tail...)
		for i := range sizes {
			sizes[i] += tailSizes[i]
		}
	}
	for i, t := range ts {
		if t.n > 0 {
			s.recBytes[i] = float64(sizes[i]) / float64(t.n)
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], stateCRC))
}

// encTable is one of the State's tables as its encoding sees it: its
// records, its slots, and the encoding of the records of slots [from, to).
type encTable struct {
	n, slots int
	live     []bool
	slotsOf  func(b []byte, from, to int) []byte
}

// encTables are the State's tables in the order of the encoding:
// customers, devices, cards, IP addresses.
func (s *State) encTables() [4]encTable {
	return [4]encTable{
		tableOf(&s.custs, appendCustomer),
		tableOf(&s.devices, func(b []byte, d *device) []byte { return s.devRings.appendEntity(b, d, &devCodec) }),
		tableOf(&s.cards, func(b []byte, c *card) []byte { return s.cardRings.appendEntity(b, c, &cardCodec) }),
		tableOf(&s.ips, func(b []byte, n *network) []byte { return s.ipRings.appendEntity(b, n, &ipCodec) }),
	}
}

func tableOf[T any](t *table[T], rec func([]byte, *T) []byte) encTable {
	return encTable{n: t.len(), slots: len(t.live), live: t.live, slotsOf: func(b []byte, from, to int) []byte {
		for i := from; i < to; i++ {
			if t.live[i] {
				b = binary.LittleEndian.AppendUint64(b, t.keys[i])
				b = rec(b, t.vals.at(i))
			}
		}
		return b
	}}
}

// appendTables appends the encoding from slot j0 of table k0 to slot j1
// of table k1 (k1 = len(ts): the end): a table's count comes before its
// slot 0. sizes gets the bytes each table took.
func appendTables(b []byte, ts *[4]encTable, k0, j0, k1, j1 int, sizes *[4]int) []byte {
	for k := k0; k <= k1 && k < len(ts); k++ {
		at := len(b)
		from, to := 0, ts[k].slots
		if k == k0 {
			from = j0
		}
		if k == k1 {
			to = j1
		}
		if from == 0 && (k < k1 || to > 0) {
			b = binary.AppendUvarint(b, uint64(ts[k].n))
		}
		b = ts[k].slotsOf(b, from, to)
		sizes[k] += len(b) - at
	}
	return b
}

// defaultRecBytes are the bytes per record of each table in a
// partition's checkpoint of a paced run over a million customers (400,000
// transactions, four partitions): what halfway assumes of a table not
// encoded before.
var defaultRecBytes = [4]float64{74, 26, 26, 24}

// halfway is where the encoding is cut in two halves of about the same
// bytes, by the last encoding's bytes per record of each table: the
// second half starts at slot j of table k and takes about half bytes. ok
// is false below parallelMin records.
func (s *State) halfway(ts *[4]encTable, parallelMin int) (k, j, half int, ok bool) {
	var per [4]float64
	var total float64
	n := 0
	for i, t := range ts {
		if per[i] = s.recBytes[i]; per[i] == 0 {
			per[i] = defaultRecBytes[i]
		}
		total += per[i] * float64(t.n)
		n += t.n
	}
	if n < parallelMin {
		return 0, 0, 0, false
	}
	half = int(total / 2)
	var acc float64
	for k, t := range ts {
		w := per[k] * float64(t.n)
		if acc+w < total/2 || t.n == 0 {
			acc += w
			continue
		}
		need := int((total/2 - acc) / per[k])
		seen := 0
		for j := range t.slots {
			if seen >= need {
				return k, j, half, true
			}
			if t.live[j] {
				seen++
			}
		}
		return k, t.slots, half, true
	}
	return len(ts), 0, half, true
}

func appendCustomer(b []byte, c *customer) []byte {
	b = binary.AppendUvarint(b, uint64(c.last))
	b = binary.AppendVarint(b, int64(c.last)-int64(c.first))
	b = binary.AppendUvarint(b, uint64(c.n))
	for _, f := range [...]float32{c.meanLog, c.varLog, c.meanAmt} {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	for _, list := range [...]*[knownKeys]known{&c.devices, &c.cards} {
		for _, k := range list {
			if k == (known{}) {
				b = append(b, 0)
				continue
			}
			b = binary.AppendUvarint(b, uint64(k.fp)+1)
			b = binary.AppendVarint(b, int64(c.last)-int64(k.first))
		}
	}
	for _, k := range c.ships {
		if k == (knownCC{}) {
			b = append(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(k.cc)+1)
		b = binary.AppendVarint(b, int64(c.last)-int64(k.first))
	}
	for _, k := range c.addrs {
		if k == (known{}) {
			b = append(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(k.fp)+1)
		b = binary.AppendVarint(b, int64(c.last)-int64(k.first))
	}
	for _, e := range c.ring {
		if e == (custEvent{}) {
			b = append(b, 0)
			continue
		}
		b = appendSec(b, c.last, e.sec)
		b = binary.AppendUvarint(b, uint64(e.cents))
		b = binary.AppendUvarint(b, uint64(e.card))
		b = binary.AppendUvarint(b, uint64(e.dev))
	}
	return b
}

// eventCodec is how a checkpoint writes and reads the fields of one kind
// of entity event besides its time (see appendSec), in that order.
type eventCodec[E any] struct {
	sec  func(*E) *uint32
	put  func([]byte, *E) []byte
	read func(*reader, *E)
}

var (
	devCodec = eventCodec[devEvent]{
		sec: func(e *devEvent) *uint32 { return &e.sec },
		put: func(b []byte, e *devEvent) []byte {
			return binary.AppendUvarint(binary.AppendUvarint(b, uint64(e.card)), uint64(e.cust))
		},
		read: func(r *reader, e *devEvent) { e.card, e.cust = r.u16(), r.u16() },
	}
	cardCodec = eventCodec[cardEvent]{
		sec: func(e *cardEvent) *uint32 { return &e.sec },
		put: func(b []byte, e *cardEvent) []byte {
			return binary.AppendUvarint(binary.AppendUvarint(b, uint64(e.cents)), uint64(e.cust))
		},
		read: func(r *reader, e *cardEvent) { e.cents, e.cust = r.u32(), r.u16() },
	}
	ipCodec = eventCodec[ipEvent]{
		sec:  func(e *ipEvent) *uint32 { return &e.sec },
		put:  func(b []byte, e *ipEvent) []byte { return binary.AppendUvarint(b, uint64(e.cust)) },
		read: func(r *reader, e *ipEvent) { e.cust = r.u16() },
	}
)

// appendSec writes a ring event's time as its distance from the record's
// latest time, plus one so that 0 can mark an empty slot.
func appendSec(b []byte, last, sec uint32) []byte {
	d := int64(last) - int64(sec)
	return binary.AppendUvarint(b, uint64(d<<1^d>>63)+1)
}

// UnmarshalBinary replaces the state's contents by the encoded state in
// data. On error the state is left as it was. The State keeps its own
// configuration.
func (s *State) UnmarshalBinary(data []byte) error {
	if len(data) < len(checkpointMagic)+1+4 || string(data[:len(checkpointMagic)]) != checkpointMagic {
		return fmt.Errorf("%w: no fraud state header", ErrBadCheckpoint)
	}
	v := data[len(checkpointMagic)]
	if v != CheckpointVersion && v != checkpointSortedVersion {
		return fmt.Errorf("%w: version %d, this build reads versions %d and %d", ErrBadCheckpoint, v, checkpointSortedVersion, CheckpointVersion)
	}
	sorted := v == checkpointSortedVersion
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if got := crc32.Checksum(body, stateCRC); got != sum {
		return fmt.Errorf("%w: checksum %08x, want %08x", ErrBadCheckpoint, got, sum)
	}
	r := &reader{b: body[len(checkpointMagic)+1:]}
	var g [4]float64
	for i := range g {
		g[i] = math.Float64frombits(r.u64())
	}
	var n State
	readTable(r, sorted, &n.custs, "customer", readCustomer)
	readTable(r, sorted, &n.devices, "device", func(r *reader, d *device) { n.devRings.readEntity(r, d, &devCodec) })
	readTable(r, sorted, &n.cards, "card", func(r *reader, c *card) { n.cardRings.readEntity(r, c, &cardCodec) })
	readTable(r, sorted, &n.ips, "IP address", func(r *reader, ip *network) { n.ipRings.readEntity(r, ip, &ipCodec) })
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d bytes after the last record", len(r.b))
	}
	if r.err != nil {
		return r.err
	}
	n.cfg = s.cfg
	n.hook()
	n.bound() // a checkpoint of a state with wider bounds is cut to this one's
	s.custs, s.devices, s.cards, s.ips = n.custs, n.devices, n.cards, n.ips
	s.devRings, s.cardRings, s.ipRings = n.devRings, n.cardRings, n.ipRings
	s.hook()
	s.gN, s.gMeanLog, s.gVarLog, s.gMeanAmt = g[0], g[1], g[2], g[3]
	return nil
}

// readCustomer reads a customer's record as appendCustomer wrote it.
func readCustomer(r *reader, c *customer) {
	c.last = r.u32()
	c.first = r.rel(c.last)
	c.n = r.u32()
	c.meanLog, c.varLog, c.meanAmt = r.f32(), r.f32(), r.f32()
	for _, list := range [...]*[knownKeys]known{&c.devices, &c.cards} {
		for i := range list {
			if fp := r.uv(); fp != 0 {
				list[i] = known{fp: r.check32(fp - 1), first: r.rel(c.last)}
			}
		}
	}
	for i := range c.ships {
		if cc := r.uv(); cc != 0 {
			c.ships[i] = knownCC{cc: r.check16(cc - 1), first: r.rel(c.last)}
		}
	}
	for i := range c.addrs {
		if fp := r.uv(); fp != 0 {
			c.addrs[i] = known{fp: r.check32(fp - 1), first: r.rel(c.last)}
		}
	}
	for i := range c.ring {
		if r.sec(c.last, &c.ring[i].sec) {
			c.ring[i].cents, c.ring[i].card, c.ring[i].dev = r.u32(), r.u16(), r.u16()
		}
	}
}

// readTable reads a table's records into slots in the order written;
// sorted: the keys ascend and are written as deltas (version 2), else each
// is its 8 bytes.
func readTable[T any](r *reader, sorted bool, t *table[T], what string, rec func(*reader, *T)) {
	n := r.uv()
	// Every record takes more than one byte, so a count beyond the bytes
	// left is corrupt; checking first keeps a bad count from allocating.
	if r.err != nil || n > uint64(len(r.b)) {
		r.fail("%d %s records in %d bytes", n, what, len(r.b))
		return
	}
	t.idx = make(map[uint64]uint32, n)
	t.vals, t.keys, t.live = makeSlab[T](int(n), 0), make([]uint64, n), make([]bool, n)
	key := uint64(0)
	for i := range int(n) {
		if sorted {
			d := r.uv()
			if i > 0 && d == 0 {
				r.fail("%s key repeated", what)
			}
			if key+d < key {
				r.fail("%s key overflows", what)
			}
			key += d
		} else {
			key = r.u64()
		}
		if _, dup := t.idx[key]; dup && r.err == nil {
			r.fail("%s key repeated", what)
		}
		rec(r, t.vals.at(i))
		if r.err != nil {
			return
		}
		t.idx[key] = uint32(i)
		t.keys[i], t.live[i] = key, true
	}
}

// reader decodes a checkpoint; the first error sticks and later reads
// return zeros.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrBadCheckpoint, fmt.Sprintf(format, args...))
	}
	r.b = nil
}

func (r *reader) uv() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("truncated or overlong varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) zz() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("truncated or overlong varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) u64() uint64 {
	if r.err == nil && len(r.b) < 8 {
		r.fail("truncated")
	}
	if r.err != nil {
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) f32() float32 {
	if r.err == nil && len(r.b) < 4 {
		r.fail("truncated")
	}
	if r.err != nil {
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return math.Float32frombits(v)
}

func (r *reader) check32(v uint64) uint32 {
	if v > math.MaxUint32 {
		r.fail("value %d out of range", v)
		return 0
	}
	return uint32(v)
}

func (r *reader) check16(v uint64) uint16 {
	if v > math.MaxUint16 {
		r.fail("value %d out of range", v)
		return 0
	}
	return uint16(v)
}

func (r *reader) u32() uint32 { return r.check32(r.uv()) }

func (r *reader) u16() uint16 { return r.check16(r.uv()) }

// rel reads a time written as its signed distance from last.
func (r *reader) rel(last uint32) uint32 {
	d := r.zz()
	t := int64(last) - d
	if d < -math.MaxUint32 || d > math.MaxUint32 || t < 0 || t > math.MaxUint32 {
		r.fail("time out of range")
		return 0
	}
	return uint32(t)
}

// sec reads a ring slot's time (see appendSec) into *sec and reports
// whether the slot holds an event, whose other fields follow.
func (r *reader) sec(last uint32, sec *uint32) bool {
	v := r.uv()
	if v == 0 || r.err != nil {
		return false
	}
	v--
	if v>>1 > math.MaxUint32 {
		r.fail("time out of range")
		return false
	}
	d := int64(v>>1) ^ -int64(v&1)
	t := int64(last) - d
	if t < 0 || t > math.MaxUint32 {
		r.fail("time out of range")
		return false
	}
	*sec = uint32(t)
	return true
}

func crc32Checksum(b []byte) uint32 { return crc32.Checksum(b, stateCRC) }
