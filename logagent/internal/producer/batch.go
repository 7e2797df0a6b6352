package producer

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/logcollect/logcollect/pkg/backoff"
)

// The producer builds Kafka record batches itself and sends them with
// sarama's Broker.AsyncProduce, instead of handing every record to sarama's
// AsyncProducer. That one moves each record through four goroutines and
// channels before it is encoded (40 % of the agent's CPU at full speed, see
// BENCHMARKS.md); here a record costs one channel send into the sink and an
// append to its partition's batch.
//
// Ordering and retries: a partition has up to maxInFlight batches in flight
// (Kafka's max.in.flight: pipelining is what lets one busy file go faster
// than one round trip per batch). After a retryable failure the partition
// sends nothing new: once its in-flight batches have come back, the failed
// ones are resent as they were (same records, same sequence numbers when
// idempotent), oldest first and one at a time, then new batches follow. So
// records of one file reach Kafka in file order across broker outages; the
// exception is a batch that fails while a later one in flight succeeds
// (a timeout on one request only), which only idempotence rules out
// (idempotent = true, with one batch in flight). A batch rejected
// permanently (too large, invalid) is resent one record per batch to find
// the records at fault, which are dead-lettered; the others are delivered.

const (
	// recordOverhead bounds the bytes a v2 record adds to its key and
	// value: five varints of up to 5 bytes (length, timestamp delta, key
	// and value lengths, header count), one of up to 10 (offset delta) and
	// the attributes byte.
	recordOverhead = 5*5 + 10 + 1
	// batchOverhead is a v2 record batch's fixed header.
	batchOverhead = 61
)

// recordSize bounds what m adds to a record batch.
func recordSize(m *Message) int { return len(m.Key) + len(m.Value) + recordOverhead }

// retryBackoff paces reconnects and resends: a broker that is down costs a
// few attempts per interval, not a busy loop.
func retryBackoff() backoff.Backoff {
	return backoff.Backoff{Min: 250 * time.Millisecond, Max: 10 * time.Second}
}

// batch is a run of one partition's records sent as one record batch.
type batch struct {
	part     *partState
	no       uint64 // position in the partition's send order (retries sort by it)
	msgs     []*Message
	ts       time.Time // the batch's FirstTimestamp, kept for resends
	firstSeq int32     // idempotent sequence number; -1 until first sent
	resend   bool      // failed once: sent alone, in order
}

// splitRoom spaces batch numbers so that the records of a batch that is
// split for resending (at most max_message_bytes / recordOverhead of them)
// fit between it and the next batch.
const splitRoom = 1 << 20

// recordBatch is b as sarama encodes it. Its records are taken from recs,
// the sender's scratch (see sender.request): sarama encodes a request
// before AsyncProduce returns and never reads its records again, so the
// same scratch serves every request, where an array per batch was 8 % of
// the bytes the agent allocated (and scanned by the GC, as records hold
// pointers).
func (b *batch) recordBatch(p *producer, recs *[]sarama.Record, ptrs *[]*sarama.Record) *sarama.RecordBatch {
	from := len(*recs)
	for i, m := range b.msgs {
		*recs = append(*recs, sarama.Record{OffsetDelta: int64(i), Key: m.Key, Value: m.Value})
	}
	// Pointers only once recs is not grown any more for this batch.
	rs := (*recs)[from:]
	pfrom := len(*ptrs)
	for i := range rs {
		*ptrs = append(*ptrs, &rs[i])
	}
	rb := &sarama.RecordBatch{
		Version: 2, Codec: p.conf.Producer.Compression, CompressionLevel: p.conf.Producer.CompressionLevel,
		FirstTimestamp: b.ts, MaxTimestamp: b.ts, LastOffsetDelta: int32(len(b.msgs) - 1), Records: (*ptrs)[pfrom:len(*ptrs):len(*ptrs)],
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
	}
	if p.producerID >= 0 {
		rb.ProducerID, rb.ProducerEpoch, rb.FirstSequence = p.producerID, p.producerEpoch, b.firstSeq
	}
	return rb
}

// partState is the producer's view of one topic partition.
type partState struct {
	topic    *topicState
	id       int32
	pending  []*Message // not yet in a batch, in arrival order
	bytes    int        // encoded size of pending
	firstAt  time.Time  // when the oldest pending record arrived
	retry    []*batch   // failed batches to resend first, sorted by no
	inFlight int        // batches sent and not yet answered
	sentTo   int32      // broker id of the batches in flight
	nextNo   uint64
	waitTil  time.Time // retry backoff
	bo       backoff.Backoff
	nextSeq  int32
}

// topicState maps keys to partitions once the topic's partition count is
// known; records wait in waiting until then.
type topicState struct {
	name      string
	parts     []*partState
	keys      map[string]*keyState // keys with records in the producer
	hasher    sarama.Partitioner
	waiting   []*Message
	resolving bool
	waitTil   time.Time
	bo        backoff.Backoff
	// resolvedAt is the last lookup of the partition count: it is looked
	// up again every Metadata.RefreshFrequency, so that partitions added
	// to the topic get records (keys map anew).
	resolvedAt time.Time
}

// keyState pins a key to the partition its records in the producer went to.
// When partitions are added the hash of a key may change; its records still
// pending, in flight or waiting for a resend must not be overtaken by newer
// ones in another partition, so the key keeps its partition until none of
// its records is left. Then the key is forgotten: the map holds only keys in
// flight (a long-lived agent sees a new key per file and truncation), and the
// next record of the key is hashed afresh, which is safe since everything
// before it was acknowledged.
type keyState struct {
	part  int32
	count int // records placed and not yet delivered or dead-lettered
}

// producer is owned by the sink's run goroutine; other goroutines talk to
// it through post.
type producer struct {
	k           *Kafka
	conf        *sarama.Config
	client      sarama.Client
	reqVersion  int16
	batchMax    int // bytes of records in one batch (max_message_bytes)
	maxInFlight int // batches in flight per partition
	flushBytes  int // send a partition's batch once it holds this much
	linger      time.Duration

	producerID    int64 // -1 unless idempotent
	producerEpoch int16

	topics  map[string]*topicState
	parts   []*partState
	senders map[*sarama.Broker]*sender
	wg      sync.WaitGroup // senders and topic lookups

	inboxMu sync.Mutex
	inbox   []func()
	wake    chan struct{} // cap 1: inbox is not empty

	scan    bool      // something changed that dispatch must look at
	nextDue time.Time // earliest linger or backoff deadline
}

func newProducer(k *Kafka, client sarama.Client) *producer {
	p := &producer{
		k: k, conf: k.scfg, client: client, reqVersion: produceVersion(k.scfg.Version),
		batchMax: k.scfg.Producer.MaxMessageBytes, flushBytes: k.scfg.Producer.Flush.Bytes, linger: k.scfg.Producer.Flush.Frequency,
		producerID: -1,
		topics:     map[string]*topicState{}, senders: map[*sarama.Broker]*sender{},
		wake: make(chan struct{}, 1),
	}
	p.flushBytes = min(p.flushBytes, p.batchMax)
	p.maxInFlight = max(1, k.scfg.Net.MaxOpenRequests)
	if k.scfg.Producer.Idempotent {
		p.maxInFlight = 1 // sequence numbers are reassigned when a rejected batch is split
	}
	return p
}

// produceVersions are the Produce API versions sarama's own producer uses
// from each Kafka version on, newest first (record batches need 3 or newer).
var produceVersions = []struct {
	kafka sarama.KafkaVersion
	api   int16
}{
	{sarama.V3_7_0_0, 10}, {sarama.V2_8_0_0, 9}, {sarama.V2_4_0_0, 8}, {sarama.V2_1_0_0, 7},
	{sarama.V2_0_0_0, 6}, {sarama.V1_0_0_0, 5},
}

func produceVersion(v sarama.KafkaVersion) int16 {
	for _, pv := range produceVersions {
		if v.IsAtLeast(pv.kafka) {
			return pv.api
		}
	}
	return 3
}

// post runs f on the run goroutine; it never blocks, so sarama's response
// goroutines can call it.
func (p *producer) post(f func()) {
	p.inboxMu.Lock()
	p.inbox = append(p.inbox, f)
	p.inboxMu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *producer) runInbox() {
	p.inboxMu.Lock()
	fs := p.inbox
	p.inbox = nil
	p.inboxMu.Unlock()
	for _, f := range fs {
		f()
	}
	p.scan = true
}

// run is the sink's loop once connected: it takes records, batches them per
// partition and dispatches batches to the brokers' senders.
func (p *producer) run() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	armed := time.Time{}
	for {
		select {
		case ms := <-p.k.in:
			p.addAll(ms)
			// Take what else is queued before looking at batches: one
			// dispatch for many records.
			for i := 0; i < 512; i++ {
				select {
				case ms := <-p.k.in:
					p.addAll(ms)
					continue
				default:
				}
				break
			}
		case <-p.wake:
			p.runInbox()
		case <-timer.C:
			armed = time.Time{}
			p.scan = true
		case <-p.k.ctx.Done():
			return
		}
		now := time.Now()
		if !p.nextDue.IsZero() && !now.Before(p.nextDue) {
			p.scan = true
		}
		if p.scan {
			p.dispatch(now)
		}
		if !p.nextDue.IsZero() && (armed.IsZero() || p.nextDue.Before(armed)) {
			timer.Reset(p.nextDue.Sub(now))
			armed = p.nextDue
		}
	}
}

func (p *producer) addAll(ms []*Message) {
	for _, m := range ms {
		p.add(m)
	}
}

// add puts a record into its partition's pending batch, or makes it wait for
// its topic's partitions.
func (p *producer) add(m *Message) {
	size := recordSize(m)
	if size+batchOverhead > p.batchMax {
		err := fmt.Errorf("record of %d bytes is larger than max_message_bytes (%d); raise [kafka] max_message_bytes (and the topic's max.message.bytes) to accept it, or lower the input's max_line_bytes", size+batchOverhead, p.batchMax)
		p.k.deadLetter(m, err)
		return
	}
	t := p.topics[m.Topic]
	if t == nil {
		t = &topicState{name: m.Topic, keys: map[string]*keyState{}, hasher: sarama.NewHashPartitioner(m.Topic),
			bo: retryBackoff()}
		p.topics[m.Topic] = t
		p.resolve(t)
	}
	if t.parts == nil {
		t.waiting = append(t.waiting, m)
		return
	}
	p.place(t, m)
}

func (p *producer) place(t *topicState, m *Message) {
	var ks *keyState
	if m.Key != nil {
		ks = t.keys[string(m.Key)]
	}
	if ks == nil {
		id, err := t.hasher.Partition(&sarama.ProducerMessage{Topic: t.name, Key: sarama.ByteEncoder(m.Key)}, int32(len(t.parts)))
		if err != nil || id < 0 || int(id) >= len(t.parts) {
			id = 0
		}
		ks = &keyState{part: id}
		if m.Key != nil { // a nil key is spread over partitions: nothing to keep in order
			t.keys[string(m.Key)] = ks
		}
	}
	ks.count++
	part := t.parts[ks.part]
	if len(part.pending) == 0 {
		part.firstAt = time.Now()
		p.scan = true // a linger deadline to arm
	}
	part.pending = append(part.pending, m)
	part.bytes += recordSize(m)
	if part.bytes >= p.flushBytes && part.inFlight < p.maxInFlight {
		p.scan = true
	}
}

// resolve looks up the topic's partitions in the background (it may block
// on the network while Kafka is down).
func (p *producer) resolve(t *topicState) {
	t.resolving = true
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		err := p.client.RefreshMetadata(t.name)
		var ids []int32
		if err == nil {
			ids, err = p.client.Partitions(t.name)
		}
		if err == nil && len(ids) == 0 {
			err = fmt.Errorf("topic %q has no partitions", t.name)
		}
		p.post(func() { p.resolved(t, len(ids), err) })
	}()
}

func (p *producer) resolved(t *topicState, n int, err error) {
	t.resolving = false
	t.resolvedAt = time.Now()
	if err != nil {
		if Classify(err) == ClassPermanent && t.parts == nil {
			// An invalid topic name: nothing will ever accept these.
			for _, m := range t.waiting {
				p.k.deadLetter(m, fmt.Errorf("topic %q: %w", t.name, err))
			}
			t.waiting = nil
		}
		t.waitTil = time.Now().Add(t.bo.Next())
		p.due(t.waitTil)
		p.k.retryable(err, t.name, len(t.waiting))
		return
	}
	t.bo.Reset()
	if n != len(t.parts) {
		// New topic, or partitions were added: keys with records in
		// the producer keep their partition (keyState), others are
		// hashed over the new count.
		for i := len(t.parts); i < n; i++ {
			part := &partState{topic: t, id: int32(i), bo: retryBackoff()}
			t.parts = append(t.parts, part)
			p.parts = append(p.parts, part)
		}
	}
	waiting := t.waiting
	t.waiting = nil
	for _, m := range waiting {
		p.place(t, m)
	}
}

// dispatch sends every partition's batch that is due and not blocked by one
// in flight, grouped into one request per leader broker.
func (p *producer) dispatch(now time.Time) {
	p.scan = false
	p.nextDue = time.Time{}
	due := p.due
	for _, t := range p.topics {
		if len(t.waiting) > 0 && !t.resolving {
			if now.Before(t.waitTil) {
				due(t.waitTil)
			} else {
				p.resolve(t)
			}
		}
		if every := p.conf.Metadata.RefreshFrequency; every > 0 && t.parts != nil && !t.resolving {
			if next := t.resolvedAt.Add(every); now.Before(next) {
				due(next)
			} else {
				p.resolve(t)
			}
		}
	}
	// out[leader][i] holds the i-th batch each partition sends now: a
	// request carries at most one batch per partition.
	var out map[*sarama.Broker][][]*batch
	for _, part := range p.parts {
		if len(part.retry) == 0 && len(part.pending) == 0 {
			continue
		}
		if now.Before(part.waitTil) {
			due(part.waitTil)
			continue
		}
		var leader *sarama.Broker
		for round := 0; ; round++ {
			var b *batch
			switch {
			case len(part.retry) > 0:
				if part.inFlight > 0 {
					break // resend only once everything sent before is answered
				}
				b = part.retry[0]
				part.retry = part.retry[1:]
			case part.inFlight >= p.maxInFlight:
			case len(part.pending) == 0:
				// Sealed in an earlier round (firstAt is stale): no
				// empty batch, each a request of its own.
			case part.inFlight > 0 && !p.leaderIs(part, part.sentTo):
				// The leader moved while batches are in flight to the
				// old one, which will refuse them (NOT_LEADER): a batch
				// sent to the new leader now would be written before
				// they are resent. New batches wait for their answers.
			case part.bytes >= p.flushBytes || !now.Before(part.firstAt.Add(p.linger)):
				b = p.seal(part, now)
			default:
				due(part.firstAt.Add(p.linger))
			}
			if b == nil {
				break
			}
			if leader == nil {
				var err error
				if leader, err = p.client.Leader(part.topic.name, part.id); err != nil {
					p.failed(b, err)
					break
				}
			}
			if b.firstSeq < 0 && p.producerID >= 0 {
				b.firstSeq = part.nextSeq
				part.nextSeq += int32(len(b.msgs))
			}
			part.inFlight++
			part.sentTo = leader.ID()
			if out == nil {
				out = map[*sarama.Broker][][]*batch{}
			}
			if len(out[leader]) <= round {
				out[leader] = append(out[leader], nil)
			}
			out[leader][round] = append(out[leader][round], b)
			if b.resend {
				break // a resent batch goes alone
			}
		}
	}
	for leader, rounds := range out {
		for _, bs := range rounds {
			p.sender(leader).push(sendJob{batches: bs})
		}
	}
}

// leaderIs reports whether broker id leads part, as far as the client's
// metadata knows (a lookup in its cache).
func (p *producer) leaderIs(part *partState, id int32) bool {
	l, err := p.client.Leader(part.topic.name, part.id)
	return err == nil && l.ID() == id
}

// due makes the run loop look again at t at the latest.
func (p *producer) due(t time.Time) {
	if p.nextDue.IsZero() || t.Before(p.nextDue) {
		p.nextDue = t
	}
}

// seal takes up to flushBytes (128 KiB) of the partition's pending records:
// a backlog goes out as several such batches rather than batches of up to
// max_message_bytes, whose encoded copies made the agent's peak RSS during
// the burst benchmark's catch-up 55-64 MB instead of 54-56 MB.
func (p *producer) seal(part *partState, now time.Time) *batch {
	n, size := 0, batchOverhead
	for n < len(part.pending) {
		s := recordSize(part.pending[n])
		if n > 0 && size+s > p.flushBytes {
			break
		}
		size += s
		n++
	}
	b := &batch{part: part, no: part.nextNo, msgs: part.pending[:n:n], ts: now.Truncate(time.Millisecond), firstSeq: -1}
	part.nextNo += splitRoom
	part.pending = part.pending[n:]
	part.bytes -= size - batchOverhead
	if len(part.pending) == 0 {
		part.pending = nil // let the backing array go
		part.bytes = 0
	} else {
		part.firstAt = now
	}
	return b
}

// finished handles a batch's outcome on the run goroutine.
func (p *producer) finished(b *batch, err error) {
	part := b.part
	part.inFlight--
	if err == nil {
		part.bo.Reset()
		p.forget(part.topic, b.msgs)
		return
	}
	switch Classify(err) {
	case ClassPermanent:
		p.k.m.ProducerErrors.WithLabelValues("permanent").Add(float64(len(b.msgs)))
		if p.producerID >= 0 {
			part.nextSeq = b.firstSeq // a rejected batch uses no sequence numbers
		}
		if len(b.msgs) == 1 {
			p.k.deadLetter(b.msgs[0], err)
			p.forget(part.topic, b.msgs)
			return
		}
		// Resend one record per batch to find the ones at fault.
		single := make([]*batch, len(b.msgs))
		for i := range b.msgs {
			single[i] = &batch{part: part, no: b.no + uint64(i), msgs: b.msgs[i : i+1 : i+1], ts: b.ts, firstSeq: -1, resend: true}
		}
		for _, sb := range single {
			p.requeue(sb)
		}
	default:
		p.failed(b, err)
	}
}

// failed queues b to be resent first after the partition's backoff.
func (p *producer) failed(b *batch, err error) {
	part := b.part
	if p.k.ctx.Err() != nil {
		p.k.release(b.msgs...) // closing: not delivered, resent after restart
		return
	}
	b.resend = true
	p.requeue(b)
	part.waitTil = time.Now().Add(part.bo.Next())
	p.due(part.waitTil)
	var kerr sarama.KError
	if !errors.As(err, &kerr) || kerr == sarama.ErrNotLeaderForPartition || kerr == sarama.ErrLeaderNotAvailable ||
		kerr == sarama.ErrUnknownTopicOrPartition || kerr == sarama.ErrNotEnoughReplicas {
		// The leader may have moved or the connection broke: look again.
		go func() { _ = p.client.RefreshMetadata(part.topic.name) }()
	}
	p.k.m.ProducerErrors.WithLabelValues("retryable").Add(float64(len(b.msgs)))
	p.k.retryable(err, part.topic.name, len(b.msgs))
}

// forget counts msgs, placed in topic t, as done (delivered or
// dead-lettered) and forgets the keys none of whose records is left.
func (p *producer) forget(t *topicState, msgs []*Message) {
	for i := 0; i < len(msgs); {
		key, n := msgs[i].Key, 1
		for i+n < len(msgs) && bytes.Equal(msgs[i+n].Key, key) && (msgs[i+n].Key == nil) == (key == nil) {
			n++
		}
		i += n
		if key == nil {
			continue
		}
		if ks := t.keys[string(key)]; ks != nil {
			if ks.count -= n; ks.count <= 0 {
				delete(t.keys, string(key))
			}
		}
	}
}

// requeue inserts b among the partition's batches to resend, in send order.
func (p *producer) requeue(b *batch) {
	part := b.part
	i := sort.Search(len(part.retry), func(i int) bool { return part.retry[i].no > b.no })
	part.retry = slices.Insert(part.retry, i, b)
}

func (p *producer) sender(b *sarama.Broker) *sender {
	s := p.senders[b]
	if s == nil {
		s = &sender{p: p, broker: b, wake: make(chan struct{}, 1)}
		p.senders[b] = s
		p.wg.Add(1)
		go s.run()
	}
	return s
}

// close waits for the senders and background lookups after the sink's
// context is cancelled; batches still queued are released undelivered.
func (p *producer) close() {
	p.wg.Wait()
	// A sender that was past its check when Close began may have
	// reconnected: close again, which also waits for its responses.
	for b := range p.senders {
		_ = b.Close()
	}
}

type sendJob struct {
	batches []*batch // one request: at most one batch per partition
	gen     int      // the sender's connection generation it was sent on
}

// sender writes one broker's requests. AsyncProduce encodes and writes on
// the caller's goroutine and blocks while the broker has MaxOpenRequests in
// flight, so it runs here, not on the producer's loop.
type sender struct {
	p      *producer
	broker *sarama.Broker
	mu     sync.Mutex
	queue  []sendJob
	reset  int // close the connection if it is still generation reset-1
	wake   chan struct{}
	gen    int // owned by run
	// Scratch for the records of the request being encoded (owned by run;
	// see recordBatch).
	recs []sarama.Record
	ptrs []*sarama.Record
}

func (s *sender) push(j sendJob) {
	s.mu.Lock()
	s.queue = append(s.queue, j)
	s.mu.Unlock()
	s.signal()
}

func (s *sender) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// abandon asks for the connection a failed request went out on to be
// closed, so that the next Leader lookup connects afresh. A failure that
// arrives after a reconnect must not close the new connection: hence the
// generation.
func (s *sender) abandon(gen int) {
	s.mu.Lock()
	s.reset = gen + 1
	s.mu.Unlock()
	s.signal()
}

func (s *sender) run() {
	defer s.p.wg.Done()
	for {
		select {
		case <-s.wake:
		case <-s.p.k.ctx.Done():
		}
		s.mu.Lock()
		jobs, reset := s.queue, s.reset
		s.queue, s.reset = nil, 0
		s.mu.Unlock()
		if s.p.k.ctx.Err() != nil {
			// Closing: nothing more is sent (and no connection reopened
			// behind the closed client); queued records stay undelivered.
			for _, j := range jobs {
				for _, b := range j.batches {
					s.p.k.release(b.msgs...)
				}
			}
			return
		}
		if reset == s.gen+1 {
			// Close waits for the response goroutine, which only posts.
			_ = s.broker.Close()
			_ = s.broker.Open(s.p.conf) // connects in the background; sends wait for it
			s.gen++
		}
		for _, j := range jobs {
			j.gen = s.gen
			s.send(j)
		}
	}
}

func (s *sender) send(j sendJob) {
	p := s.p
	req := &sarama.ProduceRequest{RequiredAcks: p.conf.Producer.RequiredAcks, Timeout: int32(p.conf.Producer.Timeout / time.Millisecond), Version: p.reqVersion}
	n := 0
	for _, b := range j.batches {
		n += len(b.msgs)
	}
	if cap(s.recs) < n {
		s.recs, s.ptrs = make([]sarama.Record, 0, n), make([]*sarama.Record, 0, n)
	}
	for _, b := range j.batches {
		req.AddBatch(b.part.topic.name, b.part.id, b.recordBatch(p, &s.recs, &s.ptrs))
	}
	// Encoded by the time AsyncProduce returns: the scratch is free again,
	// and cleared so that it holds no values alive.
	defer func() {
		clear(s.recs)
		clear(s.ptrs)
		s.recs, s.ptrs = s.recs[:0], s.ptrs[:0]
	}()
	if req.RequiredAcks == sarama.NoResponse {
		err := s.broker.AsyncProduce(req, nil)
		s.done(j, nil, err)
		return
	}
	batches, gen := j.batches, j.gen
	err := s.broker.AsyncProduce(req, func(res *sarama.ProduceResponse, err error) {
		s.done(sendJob{batches: batches, gen: gen}, res, err)
	})
	if err != nil {
		s.done(j, nil, err)
	}
}

// done reports each batch of a request. Deliveries are acknowledged here, on
// sarama's response goroutine, in parallel with the producer's loop.
func (s *sender) done(j sendJob, res *sarama.ProduceResponse, err error) {
	if err != nil && isConnError(err) {
		s.abandon(j.gen)
	}
	for _, b := range j.batches {
		berr := err
		if berr == nil && res != nil {
			blk := res.GetBlock(b.part.topic.name, b.part.id)
			switch {
			case blk == nil:
				berr = fmt.Errorf("kafka answered without partition %s/%d", b.part.topic.name, b.part.id)
			case blk.Err == sarama.ErrNoError, blk.Err == sarama.ErrDuplicateSequenceNumber:
			default:
				berr = blk.Err
			}
		}
		if berr == nil {
			s.p.k.delivered(b.msgs)
		}
		b := b
		s.p.post(func() { s.p.finished(b, berr) })
	}
}

// isConnError reports whether err means the connection failed rather than
// the request being refused: anything but a Kafka error code or a request
// that could not be encoded.
func isConnError(err error) bool {
	var kerr sarama.KError
	var perr sarama.PacketEncodingError
	return !errors.As(err, &kerr) && !errors.As(err, &perr)
}
