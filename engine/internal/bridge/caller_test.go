package bridge

import (
	"testing"
	"time"
)

var t0 = time.Unix(2000, 0)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func fr(b byte) *frame {
	var f frame
	f[0] = b
	return &f
}

func collector(out *[]byte) func(*frame) { return func(f *frame) { *out = append(*out, f[0]) } }

func TestSteadyFramesPassStraightThrough(t *testing.T) {
	q := &pacedQueue{lead: 40 * time.Millisecond}
	var out []byte
	for i := 0; i < 10; i++ {
		// Real-time arrival with a few ms of WebSocket jitter either way.
		q.add(fr(byte(i)))
		if wait := q.release(at(i*20+(i%3)*3), collector(&out)); wait != 0 {
			t.Fatalf("frame %d held for %v", i, wait)
		}
	}
	if len(out) != 10 {
		t.Fatalf("released %d of 10", len(out))
	}
}

func TestBurstIsSpreadAtRealTime(t *testing.T) {
	q := &pacedQueue{lead: 40 * time.Millisecond}
	var out []byte
	for i := 0; i < 10; i++ {
		q.add(fr(byte(i)))
	}
	wait := q.release(at(0), collector(&out))
	// 0, 20 and 40 ms ahead are within the lead; the fourth is due 20 ms later.
	if len(out) != 3 || wait != 20*time.Millisecond {
		t.Fatalf("released %d, next in %v; want 3 and 20ms", len(out), wait)
	}
	for ms := 20; len(out) < 10; ms += 20 {
		before := len(out)
		q.release(at(ms), collector(&out))
		if len(out) != before+1 {
			t.Fatalf("at %d ms released %d frames, want exactly 1", ms, len(out)-before)
		}
	}
	for i, b := range out {
		if b != byte(i) {
			t.Fatalf("order %v", out)
		}
	}
}

func TestAGapIsNotOwed(t *testing.T) {
	q := &pacedQueue{lead: 0}
	var out []byte
	q.add(fr(1))
	q.release(at(0), collector(&out))
	// Nothing for a second, then two frames: the first goes at once, not "late".
	q.add(fr(2))
	q.add(fr(3))
	wait := q.release(at(1000), collector(&out))
	if len(out) != 2 || wait != 20*time.Millisecond {
		t.Fatalf("released %d, next in %v", len(out), wait)
	}
}

func TestOverflowDropsTheOldest(t *testing.T) {
	q := &pacedQueue{lead: 0}
	for i := 0; i < maxCallerQueue+5; i++ {
		q.add(fr(byte(i)))
	}
	if q.dropped != 5 || q.n != maxCallerQueue || q.maxSeen != maxCallerQueue {
		t.Fatalf("dropped %d held %d", q.dropped, q.n)
	}
	var out []byte
	q.release(at(0), collector(&out))
	if out[0] != 5 {
		t.Fatalf("oldest kept is %d, want 5", out[0])
	}
}

func BenchmarkCallerFramePacing(b *testing.B) {
	q := &pacedQueue{lead: 40 * time.Millisecond}
	f := fr(1)
	n := 0
	write := func(*frame) { n++ }
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		q.add(f)
		q.release(at(i*20), write)
	}
}
