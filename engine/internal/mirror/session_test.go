package mirror

import (
	"testing"

	"github.com/pion/webrtc/v4"

	"phonebridge/engine/internal/g711"
)

func TestUpsampleIsContinuousAcrossFrames(t *testing.T) {
	dst := make([]int16, 12)
	last := upsampleLinear(dst, []int16{600, 1200}, 0)
	want := []int16{100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100, 1200}
	for i := range want {
		if dst[i] != want[i] {
			t.Fatalf("upsampled %v, want %v", dst, want)
		}
	}
	if last != 1200 {
		t.Fatalf("carried %d", last)
	}
}

func TestDecodesTheCallersCodecs(t *testing.T) {
	pcm := make([]int16, 160)
	ulaw := make([]byte, 160)
	src := make([]int16, 160)
	for i := range src {
		src[i] = int16(i * 100)
	}
	g711.MuLaw.Encode(ulaw, src)
	if n := decoderFor(webrtc.MimeTypePCMU)(ulaw, pcm); n != 160 || pcm[100] < 9000 || pcm[100] > 11000 {
		t.Fatalf("PCMU decoded %d samples, pcm[100]=%d", n, pcm[100])
	}
	if decoderFor("video/VP8") != nil {
		t.Fatal("a video codec must not be mirrored")
	}
	if decoderFor(webrtc.MimeTypeOpus) == nil || decoderFor(webrtc.MimeTypePCMA) == nil {
		t.Fatal("Opus and PCMA callers must be mirrored too")
	}
}
