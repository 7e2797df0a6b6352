package harvester

import (
	"math"
	"runtime"
	"sync"
	"time"
)

// Scheduler runs the harvesters of every task on a few worker goroutines
// instead of one goroutine per file. A harvester is a state machine whose
// step reads what is new and says when it wants to look again; the
// scheduler runs a step when that time has come or, for a file at rest,
// when the harvester's nxadm/tail watcher reported a change.
//
// Why: with 1,000 slowly written files a goroutine per file meant 1,000
// parked stacks for the garbage collector to scan on every cycle and a
// goroutine wake-up per file per poll (see BENCHMARKS.md, agent-many).
// Here a tick looks at every harvester's due time and its watcher's
// channels without blocking, and the harvesters that are due queue for the
// workers.
type Scheduler struct {
	tick time.Duration
	dirs dirHub // its tasks' directory watch: one inotify instance per agent

	epoch time.Time // due times are durations since then

	mu   sync.Mutex
	cond sync.Cond // signalled when queue grows or the scheduler closes
	// members[i] runs by itself at dueAt[i] (math.MaxInt64 while queued, on
	// its own timer or running) and, when watched[i], when its watcher saw a
	// change. The due times and flags are kept apart from the harvesters so
	// that a tick reads two small arrays rather than 1,000 scattered structs.
	members []*harvester
	dueAt   []time.Duration
	watched []bool
	queue   []*harvester // queue[head:] wait for a worker, oldest first
	head    int
	closed  bool
	wg      sync.WaitGroup
	stop    chan struct{}

	// Workers: base of them always; more, up to maxWorkers, while no step
	// has ended for stuckAfter and harvesters wait (see due).
	base, workers, maxWorkers int
	idle                      int       // workers waiting for work
	lastEnd                   time.Time // when a step last ended
}

// stuckAfter is how long harvesters wait, with every worker in a step and
// no step ending, before the scheduler starts another worker: a read that
// hangs (a network filesystem whose server is gone) or Kafka's
// backpressure must not hold every other file for longer.
const stuckAfter = time.Second

// schedTick is how often the scheduler looks at its harvesters: a due time
// is met up to this late. Shorter waits (a busy file's hotPoll) get a timer
// of their own. Each tick that finds work wakes a worker or more, so ticks
// are not free: 20 ms cost a tenth more CPU than 50 ms with 1,000 files.
const schedTick = 50 * time.Millisecond

// NewScheduler starts a scheduler with workers goroutines (0: two per
// CPU, at least four), and up to 16 times as many while steps are stuck
// (stuckAfter). poll is the harvesters' PollInterval: the scheduler looks
// at them every poll or schedTick, whichever is shorter.
func NewScheduler(workers int, poll time.Duration) *Scheduler {
	if workers <= 0 {
		workers = max(4, 2*runtime.GOMAXPROCS(0))
	}
	tick := schedTick
	if poll > 0 {
		tick = min(tick, poll)
	}
	s := &Scheduler{tick: tick, epoch: time.Now(), stop: make(chan struct{}), base: workers, workers: workers, maxWorkers: 16 * workers, lastEnd: time.Now()}
	s.cond.L = &s.mu
	s.wg.Add(1 + workers)
	go s.loop()
	for range workers {
		go s.work()
	}
	return s
}

// Close stops the scheduler once every task using it has stopped.
func (s *Scheduler) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.cond.Broadcast()
	s.mu.Unlock()
	close(s.stop)
	s.wg.Wait()
}

// add schedules h to run at once.
func (s *Scheduler) add(h *harvester) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h.slot = len(s.members)
	s.members = append(s.members, h)
	s.dueAt = append(s.dueAt, 0)
	s.watched = append(s.watched, false)
	s.enqueue(h)
	s.cond.Signal()
}

// drop takes the harvesters of a stopped task (its context is cancelled)
// out of the schedule and finishes them, without waiting for a worker:
// every worker may be blocked on Kafka's backpressure by other tasks' files.
// One in a step is finished by its worker when the step returns.
func (s *Scheduler) drop(hs []*harvester) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range hs {
		if h.slot >= 0 && !h.running {
			s.remove(h) // if queued, workers skip it
			go h.finish()
		}
	}
}

// enqueue puts h at the end of the queue; s.mu is held. Until its step
// has run, neither its due time nor its watcher queues it again. The caller
// wakes the workers: once per tick, not once per harvester.
func (s *Scheduler) enqueue(h *harvester) {
	s.dueAt[h.slot] = math.MaxInt64
	s.watched[h.slot] = false
	s.queue = append(s.queue, h)
}

func (s *Scheduler) loop() {
	defer s.wg.Done()
	t := time.NewTicker(s.tick)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.due(now)
		}
	}
}

// due queues every harvester whose time has come or whose watcher saw a
// change. A harvester that is queued or running is skipped: its watcher's
// channels keep the news (they hold one value each) for the next tick.
func (s *Scheduler) due(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.queue)
	at := now.Sub(s.epoch)
	for i, due := range s.dueAt {
		if due <= at || s.watched[i] && s.members[i].w.changed(&s.members[i].lost) {
			s.enqueue(s.members[i])
		}
	}
	if len(s.queue) > n {
		s.cond.Broadcast()
	}
	if s.head < len(s.queue) && s.idle == 0 && now.Sub(s.lastEnd) >= stuckAfter && s.workers < s.maxWorkers {
		// Harvesters wait, every worker is in a step, and none has ended
		// for stuckAfter: one more worker (one per stuckAfter). It leaves
		// again once it finds nothing waiting.
		s.workers++
		s.lastEnd = now
		s.wg.Add(1)
		go s.work()
	}
}

func (s *Scheduler) work() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		for s.head == len(s.queue) && !s.closed {
			if s.workers > s.base {
				s.workers-- // an extra worker, no longer needed
				s.mu.Unlock()
				return
			}
			s.idle++
			s.cond.Wait()
			s.idle--
		}
		if s.closed {
			s.mu.Unlock()
			return
		}
		h := s.queue[s.head]
		s.queue[s.head] = nil
		if s.head++; s.head == len(s.queue) {
			s.queue, s.head = s.queue[:0], 0
		}
		if h.slot < 0 { // dropped while queued
			s.mu.Unlock()
			continue
		}
		if h.running {
			panic("harvester: queued while its step runs") // two workers would read one file at once
		}
		h.running = true
		lost := h.lost
		s.mu.Unlock()

		wait, done := h.step(lost)
		s.mu.Lock()
		s.lastEnd = time.Now()
		h.running = false
		if done || h.ctx.Err() != nil { // a task stopped during the step was not dropped: finish it here
			s.remove(h)
			s.mu.Unlock()
			go h.finish()
			continue
		}
		switch {
		case wait <= 0:
			s.enqueue(h) // more to read: behind the others, so one busy file cannot starve them
			s.cond.Signal()
		case wait < 2*s.tick:
			// A busy file (hotPoll): a timer of its own, so its lines do
			// not also wait for the next tick.
			s.dueAt[h.slot] = math.MaxInt64
			time.AfterFunc(wait, func() { s.fire(h) })
		default:
			s.dueAt[h.slot] = time.Since(s.epoch) + wait
			s.watched[h.slot] = h.w != nil
		}
		s.mu.Unlock()
	}
}

// fire queues h, whose own timer ran out, unless its task dropped it
// meanwhile. Nothing else queues a harvester waiting on its timer: its due
// time is math.MaxInt64 and it is not watched.
func (s *Scheduler) fire(h *harvester) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.slot >= 0 {
		s.enqueue(h)
		s.cond.Signal()
	}
}

// remove drops h from the members; s.mu is held.
func (s *Scheduler) remove(h *harvester) {
	last := len(s.members) - 1
	s.members[h.slot] = s.members[last]
	s.dueAt[h.slot] = s.dueAt[last]
	s.watched[h.slot] = s.watched[last]
	s.members[h.slot].slot = h.slot
	s.members[last] = nil
	s.members, s.dueAt, s.watched = s.members[:last], s.dueAt[:last], s.watched[:last]
	h.slot = -1
}
