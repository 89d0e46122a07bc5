package bridge

import (
	"math"
	"testing"
	"time"

	"phonebridge/engine/internal/g711"
	"phonebridge/engine/internal/jitter"
	"phonebridge/engine/internal/opuscodec"
	"phonebridge/engine/internal/wire"
)

type sunk struct {
	frames    int
	concealed int
	peaks     []uint16
}

func opusPackets(t *testing.T, n, frameSamples int) [][]byte {
	t.Helper()
	enc, err := opuscodec.NewEncoder(48000, 1, 32000)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	buf := make([]byte, 1500)
	for i := 0; i < n; i++ {
		pcm := make([]int16, frameSamples)
		for j := range pcm {
			pcm[j] = int16(8000 * math.Sin(2*math.Pi*440*float64(i*frameSamples+j)/48000))
		}
		m, err := enc.Encode(pcm, buf)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append([]byte(nil), buf[:m]...))
	}
	return out
}

func newTestDecoder(t *testing.T, s *sunk) *agentDecoder {
	d, err := newAgentDecoder(g711.MuLaw, func(b []byte, peak, flags uint16, _ time.Duration) {
		if len(b) != wire.FrameBytes {
			t.Fatalf("frame of %d bytes", len(b))
		}
		s.frames++
		s.peaks = append(s.peaks, peak)
		if flags&wire.FlagConcealed != 0 {
			s.concealed++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestTenMillisecondPacketsBecomeTwentyMillisecondFrames(t *testing.T) {
	var s sunk
	d := newTestDecoder(t, &s)
	for i, p := range opusPackets(t, 20, 480) {
		d.decode([]jitter.Out{{Packet: jitter.Packet{Seq: uint16(i), Payload: p}}}, time.Now())
	}
	if s.frames != 10 {
		t.Fatalf("20 packets of 10 ms gave %d frames, want 10", s.frames)
	}
	if s.peaks[9] < 2000 {
		t.Fatalf("decoded tone peak %d, want a loud tone", s.peaks[9])
	}
}

func TestLostPacketsAreConcealed(t *testing.T) {
	var s sunk
	d := newTestDecoder(t, &s)
	ps := opusPackets(t, 10, 960)
	for i, p := range ps {
		if i == 4 || i == 5 {
			continue
		}
		lost := 0
		if i == 6 {
			lost = 2
		}
		d.decode([]jitter.Out{{Packet: jitter.Packet{Seq: uint16(i), Payload: p}, Lost: lost}}, time.Now())
	}
	if s.frames != 10 || s.concealed != 2 || d.concealed != 2 {
		t.Fatalf("frames %d concealed %d: want 10 frames, 2 of them concealed", s.frames, s.concealed)
	}
}

func TestGarbageIsCountedNotFatal(t *testing.T) {
	var s sunk
	d := newTestDecoder(t, &s)
	d.decode([]jitter.Out{{Packet: jitter.Packet{Payload: []byte{0x03, 0xff}}}}, time.Now())
	if d.decodeErrs != 1 || s.frames != 0 {
		t.Fatalf("decode errors %d frames %d", d.decodeErrs, s.frames)
	}
}

func BenchmarkAgentFrame(b *testing.B) {
	t := &testing.T{}
	var s sunk
	d, _ := newAgentDecoder(g711.MuLaw, func([]byte, uint16, uint16, time.Duration) { s.frames++ })
	ps := opusPackets(t, 50, 960)
	buf := jitter.New(40 * time.Millisecond)
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		outs := buf.Push(jitter.Packet{Seq: uint16(i), Payload: ps[i%len(ps)], Arrived: now})
		d.decode(outs, now)
	}
}
