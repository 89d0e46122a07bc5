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

// callerPacer writes caller frames to the published track at real-time pace. A frame
// that is not early by more than lead is written at once, so WebSocket jitter passes
// straight through; a burst (audio phonebridge held while the room was not ready) is
// spread out at 20 ms a frame, so the room's timeline is never sped up.
type callerPacer struct {
	in   chan frame
	lead time.Duration
	// now is replaceable in tests.
	now func() time.Time

	received  atomic.Uint64
	written   atomic.Uint64
	dropped   atomic.Uint64
	maxQueued atomic.Uint64
}

func newCallerPacer(lead time.Duration) *callerPacer {
	return &callerPacer{in: make(chan frame, 64), lead: lead, now: time.Now}
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

func (p *callerPacer) run(ctx context.Context, w sampleWriter) {
	var (
		queue [maxCallerQueue]frame
		head  int
		n     int
		clock time.Time
	)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case f := <-p.in:
			if n == maxCallerQueue {
				head = (head + 1) % maxCallerQueue
				n--
				p.dropped.Add(1)
			}
			queue[(head+n)%maxCallerQueue] = f
			n++
			if uint64(n) > p.maxQueued.Load() {
				p.maxQueued.Store(uint64(n))
			}
		case <-timer.C:
		case <-ctx.Done():
			return
		}
		now := p.now()
		for n > 0 {
			if clock.Before(now) {
				clock = now
			}
			if clock.Sub(now) > p.lead {
				break
			}
			f := &queue[head]
			head = (head + 1) % maxCallerQueue
			n--
			if err := w.WriteSample(media.Sample{Data: f[:], Duration: frameDuration}, nil); err == nil {
				p.written.Add(1)
			}
			clock = clock.Add(frameDuration)
		}
		if n > 0 {
			timer.Reset(clock.Sub(now) - p.lead)
		}
	}
}
