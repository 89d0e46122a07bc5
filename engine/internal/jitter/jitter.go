// Package jitter orders the agent's RTP packets with as little delay as possible.
//
// It is a reorder buffer rather than a playout clock: the agent sends in real time and
// phonebridge paces towards Twilio itself, so a packet that arrives in order is released
// at once. Only a hole in the sequence makes it wait, for at most Wait, for the missing
// packet; after that the hole is reported as lost (the decoder conceals it) and what came
// after it is released. Timestamp jumps without a sequence hole (the agent paused, Opus
// DTX) are not loss and are never concealed.
package jitter

import "time"

// Packet is one RTP packet as the buffer needs it. Payload must stay valid while the
// buffer holds the packet: Push copies it when it has to keep it.
type Packet struct {
	Seq     uint16
	Payload []byte
	Arrived time.Time
}

// Out is one packet released in order. Lost counts the packets missing right before it
// (to conceal, capped at MaxConceal); Payload is only valid until the next call.
type Out struct {
	Packet
	Lost int
}

// Stats counts what the buffer saw.
type Stats struct {
	Packets    uint64
	Late       uint64
	Lost       uint64
	Resyncs    uint64
	Overflowed uint64
}

const (
	// MaxConceal bounds concealment of one hole (100 ms at 20 ms packets); beyond it the
	// decoder's output would be a fade to silence anyway.
	MaxConceal = 5
	// maxJump: a hole this large is a new stream (restart, SSRC reuse), not loss.
	maxJump = 100
	// capacity bounds what is held while waiting for a hole.
	capacity = 32
)

// Buffer is not safe for concurrent use; one goroutine reads one track.
type Buffer struct {
	wait    time.Duration
	started bool
	next    uint16
	held    [capacity]held
	nHeld   int
	since   time.Time
	out     []Out
	stats   Stats
}

type held struct {
	used bool
	pkt  Packet
	buf  []byte
}

// New makes a buffer that waits at most wait for a missing packet.
func New(wait time.Duration) *Buffer {
	return &Buffer{wait: wait, out: make([]Out, 0, capacity+1)}
}

// Stats returns the counters so far.
func (b *Buffer) Stats() Stats { return b.stats }

// Waiting reports whether a hole is being waited for, and until when.
func (b *Buffer) Waiting() (bool, time.Time) {
	if b.nHeld == 0 {
		return false, time.Time{}
	}
	return true, b.since.Add(b.wait)
}

// Push adds a packet and returns what can be released now, in order.
func (b *Buffer) Push(p Packet) []Out {
	b.out = b.out[:0]
	b.stats.Packets++
	b.push(p)
	return b.out
}

func (b *Buffer) push(p Packet) {
	if !b.started {
		b.started = true
		b.next = p.Seq
	}
	d := int(int16(p.Seq - b.next))
	switch {
	case d < 0:
		b.stats.Late++
		return
	case d == 0:
		b.release(p, 0)
		b.drainConsecutive()
		return
	case d > maxJump:
		b.stats.Resyncs++
		b.clear()
		b.next = p.Seq
		b.release(p, 0)
		return
	case d >= capacity:
		// Too far ahead to hold: what is held goes out, then this packet after its hole.
		for b.nHeld > 0 {
			b.skipHole()
		}
		gap := int(int16(p.Seq - b.next))
		if gap < 0 {
			b.stats.Late++
			return
		}
		b.stats.Lost += uint64(gap)
		b.release(p, min(gap, MaxConceal))
		return
	}
	slot := &b.held[p.Seq%capacity]
	if slot.used {
		if slot.pkt.Seq == p.Seq {
			b.stats.Late++ // duplicate of a packet already held
			return
		}
		// Holding more than the ring covers: give up on the hole now.
		b.stats.Overflowed++
		b.skipHole()
		b.push(p)
		return
	}
	if b.nHeld == 0 {
		b.since = p.Arrived
	}
	slot.used = true
	slot.buf = append(slot.buf[:0], p.Payload...)
	slot.pkt = Packet{Seq: p.Seq, Payload: slot.buf, Arrived: p.Arrived}
	b.nHeld++
}

// Expire gives up on a hole that has been waited for long enough (now past the deadline
// Waiting reported) and returns what that releases.
func (b *Buffer) Expire(now time.Time) []Out {
	b.out = b.out[:0]
	if b.nHeld == 0 || now.Before(b.since.Add(b.wait)) {
		return b.out
	}
	b.skipHole()
	return b.out
}

// skipHole releases the earliest held packet, counting the hole before it as lost.
func (b *Buffer) skipHole() {
	for gap := 1; gap < capacity; gap++ {
		seq := b.next + uint16(gap)
		slot := &b.held[seq%capacity]
		if slot.used && slot.pkt.Seq == seq {
			b.stats.Lost += uint64(gap)
			b.take(slot, min(gap, MaxConceal))
			b.drainConsecutive()
			if b.nHeld > 0 {
				b.since = b.earliestArrival()
			}
			return
		}
	}
	b.clear()
}

func (b *Buffer) drainConsecutive() {
	for b.nHeld > 0 {
		slot := &b.held[b.next%capacity]
		if !slot.used || slot.pkt.Seq != b.next {
			return
		}
		b.take(slot, 0)
	}
}

func (b *Buffer) take(slot *held, lost int) {
	slot.used = false
	b.nHeld--
	b.release(slot.pkt, lost)
}

func (b *Buffer) release(p Packet, lost int) {
	b.out = append(b.out, Out{Packet: p, Lost: lost})
	b.next = p.Seq + 1
}

func (b *Buffer) earliestArrival() time.Time {
	var t time.Time
	for i := range b.held {
		if b.held[i].used && (t.IsZero() || b.held[i].pkt.Arrived.Before(t)) {
			t = b.held[i].pkt.Arrived
		}
	}
	return t
}

func (b *Buffer) clear() {
	for i := range b.held {
		b.held[i].used = false
	}
	b.nHeld = 0
}
