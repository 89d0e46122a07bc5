package bridge

import (
	"context"
	"sync/atomic"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4/pkg/media"

	"phonebridge/engine/internal/wire"
)

const (
	frameDuration = 20 * time.Millisecond
	// maxCallerQueue bounds caller audio waiting to be paced out (3 s); phonebridge holds
	// and catches up on its side, so reaching this means it sent far ahead of real time.
	maxCallerQueue = 150
)

type frame = [wire.FrameBytes]byte

// sampleWriter is what the pacer needs of a LiveKit track.
type sampleWriter interface {
	WriteSample(media.Sample, *lksdk.SampleWriteOptions) error
}

// pacedQueue decides when caller frames go out. A frame that is not early by more than
// lead is released at once, so WebSocket jitter passes straight through; a burst (audio
// phonebridge held while the room was not ready) is spread out at 20 ms a frame, so the
// room's timeline is never sped up. Pure: the caller supplies the time.
type pacedQueue struct {
	lead    time.Duration
	frames  [maxCallerQueue]frame
	head, n int
	clock   time.Time
	dropped uint64
	maxSeen int
}

// add queues f, dropping the oldest frame when the queue is full.
func (q *pacedQueue) add(f *frame) {
	if q.n == maxCallerQueue {
		q.head = (q.head + 1) % maxCallerQueue
		q.n--
		q.dropped++
	}
	q.frames[(q.head+q.n)%maxCallerQueue] = *f
	q.n++
	q.maxSeen = max(q.maxSeen, q.n)
}

// release writes every frame due at now and returns how long until the next one is due
// (0 when the queue is empty).
func (q *pacedQueue) release(now time.Time, write func(*frame)) time.Duration {
	for q.n > 0 {
		if q.clock.Before(now) {
			q.clock = now
		}
		if q.clock.Sub(now) > q.lead {
			return q.clock.Sub(now) - q.lead
		}
		f := &q.frames[q.head]
		q.head = (q.head + 1) % maxCallerQueue
		q.n--
		write(f)
		q.clock = q.clock.Add(frameDuration)
	}
	return 0
}

// callerPacer runs a pacedQueue for one call's published track.
type callerPacer struct {
	in   chan frame
	lead time.Duration

	received  atomic.Uint64
	written   atomic.Uint64
	dropped   atomic.Uint64
	maxQueued atomic.Uint64
}

func newCallerPacer(lead time.Duration) *callerPacer {
	return &callerPacer{in: make(chan frame, 64), lead: lead}
}

// push hands one frame over without blocking the dispatcher; a full hand-over channel
// (the call's goroutine is stuck) drops the frame and counts it.
func (p *callerPacer) push(b []byte) {
	var f frame
	copy(f[:], b)
	p.received.Add(1)
	select {
	case p.in <- f:
	default:
		p.dropped.Add(1)
	}
}

// run paces frames out to w; traced (may be nil) sees each frame as it is written.
func (p *callerPacer) run(ctx context.Context, w sampleWriter, traced func(*frame)) {
	q := &pacedQueue{lead: p.lead}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	write := func(f *frame) {
		if err := w.WriteSample(media.Sample{Data: f[:], Duration: frameDuration}, nil); err == nil {
			p.written.Add(1)
		}
		if traced != nil {
			traced(f)
		}
	}
	for {
		select {
		case f := <-p.in:
			dropped := q.dropped
			q.add(&f)
			if q.dropped != dropped {
				p.dropped.Add(1)
			}
			p.maxQueued.Store(uint64(q.maxSeen))
		case <-timer.C:
		case <-ctx.Done():
			return
		}
		if wait := q.release(time.Now(), write); wait > 0 {
			timer.Reset(wait)
		}
	}
}
