package generate

import (
	"strconv"

	"github.com/shopstream/shopstream/internal/event"
)

// line is one order line in compact form.
type line struct {
	product uint32
	qty     int32
	price   int64 // cents
}

// txn is the transaction being built, in compact form, plus the defects a
// bad record must carry. It is reused for every record.
type txn struct {
	seq      uint64
	cust     uint32
	ms       int64
	n        int
	lines    [maxLines]line
	total    int64
	payment  uint8
	hasCard  bool
	bin      uint32
	last4    uint16
	device   uint64
	addr     uint64 // shipping address (address.go), 0 for none
	ip       uint32
	channel  uint8
	bill     string
	ship     string
	currency string
	omit     field     // missing_field: the field left out
	wrong    wrongKind // wrong_type: the field written with the wrong type
	honest   Honest    // the honest behaviours that make it look odd
}

// field names a field a missing_field record leaves out.
type field uint8

const (
	fNone field = iota
	fSchema
	fID
	fCustomer
	fTime
	fItems
	fCurrency
	fPayment
	fChannel
	fBilling
	fShipping
	fProduct
	nFields
)

// wrongKind names a wrong_type defect, each a mistake seen in real feeds.
type wrongKind uint8

const (
	wNone           wrongKind = iota
	wSchemaString             // "schema_version":"1"
	wTotalString              // "total_amount":"12.34"
	wQuantityString           // "quantity":"2"
	wPriceString              // "unit_price":"9.99"
	wTimeFormat               // "event_time":"2026-01-01 10:00:00"
	wItemsObject              // "items":{...}, one line not in a list
	wCardString               // "card":"414712******1234"
	nWrong
)

const hexDigits = "0123456789abcdef"

// appendKey writes a field name given with its quotes and colon, with the
// separating comma unless the field opens an object.
func appendKey(b []byte, k string) []byte {
	if c := b[len(b)-1]; c != '{' && c != '[' {
		b = append(b, ',')
	}
	return append(b, k...)
}

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendPadded writes v in decimal with at least width digits, straight
// into b's spare capacity, two digits at a time.
func appendPadded(b []byte, v uint64, width int) []byte {
	d := 1
	for x := v; x >= 10; x /= 10 {
		d++
	}
	d = max(d, width)
	n := len(b)
	b = append(b, make([]byte, d)...)
	i := n + d
	for v >= 100 {
		q := v / 100
		j := (v - q*100) * 2
		i -= 2
		b[i], b[i+1] = digitPairs[j], digitPairs[j+1]
		v = q
	}
	for i > n {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

func appendCustomerID(b []byte, id uint32) []byte {
	b = append(b, 'c')
	return appendPadded(b, uint64(id), 8)
}

func appendProductID(b []byte, p uint32) []byte {
	b = append(b, 'p')
	return appendPadded(b, uint64(p)+1, 6)
}

func appendHex(b []byte, v uint64, digits int) []byte {
	for i := digits - 1; i >= 0; i-- {
		b = append(b, hexDigits[(v>>(4*uint(i)))&0xf])
	}
	return b
}

// appendTxID writes the transaction ID of sequence number seq: a bijective
// scramble of the counter, unique within a run and unlike other seeds' IDs.
func (g *Generator) appendTxID(b []byte, seq uint64) []byte {
	b = append(b, "tx_"...)
	return appendHex(b, mix64(seq+g.idKey), 16)
}

func appendIP(b []byte, ip uint32) []byte {
	b = strconv.AppendUint(b, uint64(ip>>24), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(ip>>16&0xff), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(ip>>8&0xff), 10)
	b = append(b, '.')
	return strconv.AppendUint(b, uint64(ip&0xff), 10)
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

// appendTime writes ms as RFC 3339 in UTC with milliseconds, the form Go's
// time package parses back to the same instant.
func appendTime(b []byte, ms int64, wrongFormat bool) []byte {
	day := floorDiv(ms, msPerDay)
	rem := ms - day*msPerDay
	y, m, d := civil(day)
	b = appendPadded(b, uint64(y), 4)
	b = append(b, '-')
	b = append2(b, m)
	b = append(b, '-')
	b = append2(b, d)
	if wrongFormat {
		b = append(b, ' ')
	} else {
		b = append(b, 'T')
	}
	b = append2(b, int(rem/msPerHour))
	b = append(b, ':')
	b = append2(b, int(rem/60_000%60))
	b = append(b, ':')
	b = append2(b, int(rem/1000%60))
	if wrongFormat {
		return b
	}
	b = append(b, '.')
	b = appendPadded(b, uint64(rem%1000), 3)
	return append(b, 'Z')
}

// encode appends t as a version-1 event (or with its defects) and returns
// where the customer and transaction IDs lie, for the record to share.
func (g *Generator) encode(b []byte, t *txn) (out []byte, ks, ke, is, ie int) {
	b = append(b, '{')
	if t.omit != fSchema {
		b = appendKey(b, `"schema_version":`)
		if t.wrong == wSchemaString {
			b = append(b, `"1"`...)
		} else {
			b = strconv.AppendInt(b, event.SchemaVersion, 10)
		}
	}
	if t.omit != fID {
		b = appendKey(b, `"transaction_id":`)
		b = append(b, '"')
		is = len(b)
		b = g.appendTxID(b, t.seq)
		ie = len(b)
		b = append(b, '"')
	}
	if t.omit != fCustomer {
		b = appendKey(b, `"customer_id":`)
		b = append(b, '"')
		ks = len(b)
		b = appendCustomerID(b, t.cust)
		ke = len(b)
		b = append(b, '"')
	}
	if t.omit != fTime {
		b = appendKey(b, `"event_time":`)
		b = append(b, '"')
		b = appendTime(b, t.ms, t.wrong == wTimeFormat)
		b = append(b, '"')
	}
	b = appendKey(b, `"items":`)
	n := t.n
	if t.omit == fItems {
		n = 0
	}
	if t.wrong == wItemsObject {
		n = 1
	} else {
		b = append(b, '[')
	}
	for i := 0; i < n; i++ {
		l := &t.lines[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		if !(t.omit == fProduct && i == n-1) {
			b = appendKey(b, `"product_id":`)
			b = append(b, '"')
			b = appendProductID(b, l.product)
			b = append(b, '"')
		}
		b = appendKey(b, `"category":`)
		b = appendString(b, categoryTable[g.cat.cat[l.product]].name)
		b = appendKey(b, `"quantity":`)
		if t.wrong == wQuantityString && i == 0 {
			b = append(b, '"')
			b = strconv.AppendInt(b, int64(l.qty), 10)
			b = append(b, '"')
		} else {
			b = strconv.AppendInt(b, int64(l.qty), 10)
		}
		b = appendKey(b, `"unit_price":`)
		if t.wrong == wPriceString && i == 0 {
			b = append(b, '"')
			b = event.Cents(l.price).AppendJSON(b)
			b = append(b, '"')
		} else {
			b = event.Cents(l.price).AppendJSON(b)
		}
		b = append(b, '}')
	}
	if t.wrong != wItemsObject {
		b = append(b, ']')
	}
	b = appendKey(b, `"total_amount":`)
	if t.wrong == wTotalString {
		b = append(b, '"')
		b = event.Cents(t.total).AppendJSON(b)
		b = append(b, '"')
	} else {
		b = event.Cents(t.total).AppendJSON(b)
	}
	if t.omit != fCurrency {
		b = appendKey(b, `"currency":`)
		b = appendString(b, t.currency)
	}
	if t.omit != fPayment {
		b = appendKey(b, `"payment_method":`)
		b = appendString(b, paymentMethods[t.payment])
	}
	b = appendKey(b, `"card":`)
	switch {
	case t.wrong == wCardString:
		b = append(b, '"')
		if t.hasCard {
			b = appendPadded(b, uint64(g.plan.bin(t.bin)), 6)
			b = append(b, "******"...)
			b = appendPadded(b, uint64(t.last4), 4)
		}
		b = append(b, '"')
	case t.hasCard:
		b = append(b, `{"bin":"`...)
		b = appendPadded(b, uint64(g.plan.bin(t.bin)), 6)
		b = append(b, `","last4":"`...)
		b = appendPadded(b, uint64(t.last4), 4)
		b = append(b, `"}`...)
	default:
		b = append(b, `{"bin":"","last4":""}`...)
	}
	b = appendKey(b, `"device_id":`)
	b = append(b, `"d`...)
	b = appendHex(b, t.device, 12)
	b = append(b, '"')
	b = appendKey(b, `"ip_address":`)
	b = append(b, '"')
	b = appendIP(b, g.plan.ip(t.ip))
	b = append(b, '"')
	if t.omit != fBilling {
		b = appendKey(b, `"billing_country":`)
		b = appendString(b, t.bill)
	}
	if t.omit != fShipping {
		b = appendKey(b, `"shipping_country":`)
		b = appendString(b, t.ship)
	}
	if t.omit != fChannel {
		b = appendKey(b, `"channel":`)
		b = appendString(b, channels[t.channel])
	}
	if t.addr != 0 {
		b = appendKey(b, `"shipping_address":"`)
		b = appendAddress(b, t.addr, g.addrVariant(t.seq))
		b = append(b, '"')
	}
	b = append(b, '}')
	return b, ks, ke, is, ie
}

// event converts t to the event type, for tests of the encoding.
func (g *Generator) event(t *txn) event.Transaction {
	e := event.Transaction{
		SchemaVersion:   event.SchemaVersion,
		TransactionID:   string(g.appendTxID(nil, t.seq)),
		CustomerID:      string(appendCustomerID(nil, t.cust)),
		EventTime:       timeOfMs(t.ms),
		TotalCents:      event.Cents(t.total),
		Currency:        t.currency,
		PaymentMethod:   paymentMethods[t.payment],
		DeviceID:        "d" + string(appendHex(nil, t.device, 12)),
		IPAddress:       string(appendIP(nil, g.plan.ip(t.ip))),
		BillingCountry:  t.bill,
		ShippingCountry: t.ship,
		Channel:         channels[t.channel],
	}
	if t.addr != 0 {
		e.ShippingAddress = string(appendAddress(nil, t.addr, g.addrVariant(t.seq)))
	}
	if t.hasCard {
		e.Card = event.Card{BIN: string(appendPadded(nil, uint64(g.plan.bin(t.bin)), 6)), Last4: string(appendPadded(nil, uint64(t.last4), 4))}
	}
	for i := 0; i < t.n; i++ {
		l := t.lines[i]
		e.Items = append(e.Items, event.Item{
			ProductID:      string(appendProductID(nil, l.product)),
			Category:       categoryTable[g.cat.cat[l.product]].name,
			Quantity:       int(l.qty),
			UnitPriceCents: event.Cents(l.price),
		})
	}
	return e
}
