package opuscodec

import (
	"fmt"
	"math"
	"testing"

	"layeh.com/gopus"
)

func sine(freq float64, rate, n int, amp float64, phase int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i+phase)/float64(rate)))
	}
	return out
}

// The shims reach libopus through a pointer read from gopus's struct; if gopus changed
// its layout, setting the bitrate through our pointer would not be seen through gopus.
func TestStateLayout(t *testing.T) {
	enc, err := NewEncoder(48000, 1, 20000)
	if err != nil {
		t.Fatal(err)
	}
	if got := enc.Bitrate(); got != 20000 {
		t.Fatalf("bitrate through gopus = %d, want 20000 (state pointer does not match gopus's)", got)
	}
}

func TestRoundTripDecodesAt8k(t *testing.T) {
	enc, err := NewEncoder(48000, 1, 32000)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder(8000)
	if err != nil {
		t.Fatal(err)
	}
	packet := make([]byte, 1500)
	pcm := make([]int16, 960)
	var energy, energyAt1k float64
	for f := 0; f < 50; f++ {
		in := sine(1000, 48000, 960, 8000, f*960)
		n, err := enc.Encode(in, packet)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dec.Decode(packet[:n], pcm, false)
		if err != nil {
			t.Fatal(err)
		}
		if got != 160 {
			t.Fatalf("decoded %d samples, want 160 (20 ms at 8 kHz)", got)
		}
		if f < 10 {
			continue // encoder warm-up
		}
		var re, im float64
		for i, s := range pcm[:got] {
			v := float64(s)
			energy += v * v
			w := 2 * math.Pi * 1000 * float64(i) / 8000
			re += v * math.Cos(w)
			im += v * math.Sin(w)
		}
		energyAt1k += 2 * (re*re + im*im) / float64(got)
	}
	if energy == 0 || energyAt1k/energy < 0.9 {
		t.Fatalf("1 kHz carries %.2f of the decoded energy, want > 0.9", energyAt1k/energy)
	}
}

func TestConcealmentFillsTheRequestedLength(t *testing.T) {
	dec, err := NewDecoder(8000)
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, 160)
	n, err := dec.Decode(nil, pcm, false)
	if err != nil || n != 160 {
		t.Fatalf("PLC: n=%d err=%v, want 160 samples", n, err)
	}
}

func TestRejectsGarbage(t *testing.T) {
	dec, err := NewDecoder(8000)
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, 960)
	// A TOC byte announcing code 3 with an impossible frame count.
	if _, err := dec.Decode([]byte{0x03, 0xff}, pcm, false); err == nil {
		t.Fatal("want an error for a malformed packet")
	}
}

func BenchmarkDecode20msAt8k(b *testing.B) {
	enc, _ := NewEncoder(48000, 5, 32000)
	dec, _ := NewDecoder(8000)
	packet := make([]byte, 1500)
	n, _ := enc.Encode(sine(440, 48000, 960, 8000, 0), packet)
	pcm := make([]int16, 960)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := dec.Decode(packet[:n], pcm, false); err != nil {
			b.Fatal(err)
		}
	}
}

// The baseline for BenchmarkDecode20msAt8k: gopus's own Decode, which allocates its output.
func BenchmarkGopusDecode20msAt8k(b *testing.B) {
	enc, _ := NewEncoder(48000, 5, 32000)
	dec, _ := gopus.NewDecoder(8000, 1)
	packet := make([]byte, 1500)
	n, _ := enc.Encode(sine(440, 48000, 960, 8000, 0), packet)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := dec.Decode(packet[:n], 960, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode20msAt48k(b *testing.B) {
	for _, complexity := range []int{1, 5, 10} {
		b.Run(fmt.Sprintf("complexity%d", complexity), func(b *testing.B) {
			enc, _ := NewEncoder(48000, complexity, 32000)
			in := sine(440, 48000, 960, 8000, 0)
			packet := make([]byte, 1500)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := enc.Encode(in, packet); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
