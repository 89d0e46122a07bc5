package g711

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// The engine compands exactly like phonebridge's TypeScript (both follow G.191): the
// vectors were produced by src/audio/g711.ts.
func TestMatchesTheTypeScriptEncoder(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		G711 struct {
			PCM      []int16 `json:"pcm"`
			MulawHex string  `json:"mulawHex"`
			AlawHex  string  `json:"alawHex"`
		} `json:"g711"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		law  Law
		want string
	}{{MuLaw, v.G711.MulawHex}, {ALaw, v.G711.AlawHex}} {
		out := make([]byte, len(v.G711.PCM))
		c.law.Encode(out, v.G711.PCM)
		if got := hex.EncodeToString(out); got != c.want {
			t.Fatalf("law %d differs from the TypeScript encoder", c.law)
		}
	}
}

func TestDecodeInvertsEncodeWithinOneStep(t *testing.T) {
	for _, law := range []Law{MuLaw, ALaw} {
		for code := 0; code < 256; code++ {
			var pcm [1]int16
			law.Decode(pcm[:], []byte{byte(code)})
			var back [1]byte
			law.Encode(back[:], pcm[:])
			// Both zero codes of μ-law (0x7F, 0xFF) decode to 0, which encodes as 0xFF.
			if back[0] != byte(code) && !(law == MuLaw && code == 0x7f) {
				t.Fatalf("law %d: code %#x decodes to %d, which encodes to %#x", law, code, pcm[0], back[0])
			}
		}
	}
}

func TestPeakAndSilence(t *testing.T) {
	pcm := []int16{0, -1000, 500, 32767, -32768}
	for _, law := range []Law{MuLaw, ALaw} {
		out := make([]byte, len(pcm))
		peak := law.Encode(out, pcm)
		if peak != 32768 {
			t.Fatalf("encode peak %d", peak)
		}
		// A-law has no zero code: its quietest level is ±8.
		silence := []byte{law.Silence(), law.Silence()}
		if p := law.Peak(silence); p > 8 {
			t.Fatalf("law %d silence byte decodes to ±%d", law, p)
		}
		if p := law.Peak(out[:3]); p < 900 || p > 1100 {
			t.Fatalf("law %d peak of a -1000 sample read as %d", law, p)
		}
	}
}

// The baseline for BenchmarkEncodeFrame: the reference algorithm run per sample.
func BenchmarkEncodeFrameReference(b *testing.B) {
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(i * 199)
	}
	out := make([]byte, 160)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for j, s := range pcm {
			out[j] = byte(ulawCompress(int(s)))
		}
	}
}

func BenchmarkEncodeFrame(b *testing.B) {
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(i * 199)
	}
	out := make([]byte, 160)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		MuLaw.Encode(out, pcm)
	}
}
