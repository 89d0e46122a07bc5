package jitter

import (
	"reflect"
	"testing"
	"time"
)

var t0 = time.Unix(1000, 0)

func pkt(seq uint16, atMs int) Packet {
	return Packet{Seq: seq, Payload: []byte{byte(seq)}, Arrived: t0.Add(time.Duration(atMs) * time.Millisecond)}
}

type released struct {
	Seq  uint16
	Lost int
	Byte byte
}

func collect(outs []Out) []released {
	r := []released{}
	for _, o := range outs {
		r = append(r, released{o.Seq, o.Lost, o.Payload[0]})
	}
	return r
}

func TestInOrderPacketsLeaveAtOnce(t *testing.T) {
	b := New(40 * time.Millisecond)
	for i := 0; i < 5; i++ {
		got := collect(b.Push(pkt(uint16(65533+i), i*20)))
		want := []released{{uint16(65533 + i), 0, byte(65533 + i)}}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("packet %d: got %v, want %v (across the wrap too)", i, got, want)
		}
	}
}

func TestReorderedPacketIsWaitedFor(t *testing.T) {
	b := New(40 * time.Millisecond)
	b.Push(pkt(10, 0))
	if got := b.Push(pkt(12, 20)); len(got) != 0 {
		t.Fatalf("12 must wait for 11, got %v", collect(got))
	}
	if waiting, until := b.Waiting(); !waiting || !until.Equal(t0.Add(60*time.Millisecond)) {
		t.Fatalf("Waiting() = %v %v", waiting, until)
	}
	got := collect(b.Push(pkt(11, 25)))
	want := []released{{11, 0, 11}, {12, 0, 12}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if s := b.Stats(); s.Lost != 0 || s.Late != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestHoleExpiresIntoConcealment(t *testing.T) {
	b := New(40 * time.Millisecond)
	b.Push(pkt(1, 0))
	b.Push(pkt(4, 60))
	b.Push(pkt(5, 80))
	if got := b.Expire(t0.Add(99 * time.Millisecond)); len(got) != 0 {
		t.Fatalf("expired early: %v", collect(got))
	}
	got := collect(b.Expire(t0.Add(100 * time.Millisecond)))
	want := []released{{4, 2, 4}, {5, 0, 5}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// The missing ones arrive after all: late, dropped.
	if got := b.Push(pkt(2, 110)); len(got) != 0 {
		t.Fatalf("late packet released: %v", collect(got))
	}
	if s := b.Stats(); s.Lost != 2 || s.Late != 1 {
		t.Fatalf("stats %+v, want 2 lost 1 late", s)
	}
}

func TestHeldPayloadIsCopied(t *testing.T) {
	b := New(40 * time.Millisecond)
	b.Push(pkt(1, 0))
	p := pkt(3, 40)
	b.Push(p)
	p.Payload[0] = 99 // the reader reuses its buffer
	got := collect(b.Push(pkt(2, 41)))
	if got[1].Byte != 3 {
		t.Fatalf("held payload was not copied: %v", got)
	}
}

func TestLargeJumpResyncsWithoutConcealment(t *testing.T) {
	b := New(40 * time.Millisecond)
	b.Push(pkt(1, 0))
	got := collect(b.Push(pkt(5000, 20)))
	if !reflect.DeepEqual(got, []released{{5000, 0, byte(5000 & 0xff)}}) {
		t.Fatalf("got %v", got)
	}
	if s := b.Stats(); s.Resyncs != 1 || s.Lost != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestGapBeyondCapacityIsConcealedUpToTheCap(t *testing.T) {
	b := New(40 * time.Millisecond)
	b.Push(pkt(1, 0))
	b.Push(pkt(3, 40)) // held, waiting for 2
	got := collect(b.Push(pkt(60, 60)))
	want := []released{{3, 1, 3}, {60, 5, 60}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if s := b.Stats(); s.Lost != 1+56 {
		t.Fatalf("lost %d, want 57", s.Lost)
	}
}

func TestDuplicatesAreDropped(t *testing.T) {
	b := New(40 * time.Millisecond)
	b.Push(pkt(1, 0))
	b.Push(pkt(3, 40))
	if got := b.Push(pkt(3, 41)); len(got) != 0 {
		t.Fatalf("duplicate released: %v", collect(got))
	}
	if got := b.Push(pkt(1, 42)); len(got) != 0 {
		t.Fatalf("old duplicate released: %v", collect(got))
	}
	if s := b.Stats(); s.Late != 2 {
		t.Fatalf("late %d, want 2", s.Late)
	}
}

func BenchmarkInOrder(b *testing.B) {
	buf := New(40 * time.Millisecond)
	p := Packet{Payload: make([]byte, 80), Arrived: t0}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p.Seq = uint16(i)
		buf.Push(p)
	}
}
