// Package opuscodec wraps libopus as built by layeh.com/gopus (it compiles libopus 1.1.2
// from its own sources with cgo, so no system library is needed). gopus owns the codec
// state; the per-frame calls go straight to libopus through the small C shims below,
// writing into caller-owned buffers: gopus's own Decode allocates a slice per frame,
// which at 50 frames a second per call is garbage for nothing.
package opuscodec

/*
#include <stdint.h>
typedef struct OpusDecoder OpusDecoder;
typedef struct OpusEncoder OpusEncoder;
extern int opus_decode(OpusDecoder *st, const unsigned char *data, int32_t len, int16_t *pcm, int frame_size, int decode_fec);
extern int opus_encode(OpusEncoder *st, const int16_t *pcm, int frame_size, unsigned char *data, int32_t max_data_bytes);
extern int opus_encoder_ctl(OpusEncoder *st, int request, ...);
extern const char *opus_strerror(int error);

// OPUS_SET_COMPLEXITY_REQUEST, OPUS_SET_BITRATE_REQUEST (opus_defines.h); variadic calls
// cannot be made from Go, hence the wrappers.
static int pb_set_complexity(void *st, int c) { return opus_encoder_ctl((OpusEncoder *)st, 4010, c); }
static int pb_set_bitrate(void *st, int b) { return opus_encoder_ctl((OpusEncoder *)st, 4002, b); }
static int pb_decode(void *st, const unsigned char *data, int32_t len, int16_t *pcm, int frame_size, int fec) {
	return opus_decode((OpusDecoder *)st, data, len, pcm, frame_size, fec);
}
static int pb_encode(void *st, const int16_t *pcm, int frame_size, unsigned char *data, int32_t max) {
	return opus_encode((OpusEncoder *)st, pcm, frame_size, data, max);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"layeh.com/gopus"
)

// gopusState mirrors the layout of gopus.Encoder and gopus.Decoder, whose first field is
// the byte slice holding the libopus state (the C struct lives at &data[0]). Checked by
// TestStateLayout, so a gopus release that changes it fails loudly, not silently.
type gopusState struct {
	data []byte
}

func statePtr(p unsafe.Pointer) unsafe.Pointer {
	s := (*gopusState)(p)
	return unsafe.Pointer(&s.data[0])
}

// Decoder decodes one Opus stream to mono PCM16 at the rate it was created with.
type Decoder struct {
	dec  *gopus.Decoder
	st   unsafe.Pointer
	rate int
}

// NewDecoder makes a mono decoder at sampleRate (8000 for phone audio: libopus resamples
// internally, no resampler of ours is involved).
func NewDecoder(sampleRate int) (*Decoder, error) {
	d, err := gopus.NewDecoder(sampleRate, 1)
	if err != nil {
		return nil, fmt.Errorf("opus decoder: %w", err)
	}
	return &Decoder{dec: d, st: statePtr(unsafe.Pointer(d)), rate: sampleRate}, nil
}

// Decode decodes packet into pcm and returns the number of samples. An empty packet
// asks for packet-loss concealment of len(pcm) samples; with fec the packet's in-band
// redundancy is used to rebuild the one before it.
func (d *Decoder) Decode(packet []byte, pcm []int16, fec bool) (int, error) {
	if len(pcm) == 0 {
		return 0, errors.New("opus decode: empty output buffer")
	}
	var data *C.uchar
	if len(packet) > 0 {
		data = (*C.uchar)(unsafe.Pointer(&packet[0]))
	}
	f := C.int(0)
	if fec {
		f = 1
	}
	n := C.pb_decode(d.st, data, C.int32_t(len(packet)), (*C.int16_t)(unsafe.Pointer(&pcm[0])), C.int(len(pcm)), f)
	if n < 0 {
		return 0, fmt.Errorf("opus decode: %s", C.GoString(C.opus_strerror(n)))
	}
	return int(n), nil
}

// Encoder encodes mono PCM16 to Opus.
type Encoder struct {
	enc *gopus.Encoder
	st  unsafe.Pointer
}

// NewEncoder makes a mono VoIP encoder at sampleRate with the given complexity (0-10)
// and bitrate (bits per second).
func NewEncoder(sampleRate, complexity, bitrate int) (*Encoder, error) {
	// VoIP, as libwebrtc publishes speech (SILK/hybrid): what the bridge decodes is what a
	// real agent sends.
	e, err := gopus.NewEncoder(sampleRate, 1, gopus.Voip)
	if err != nil {
		return nil, fmt.Errorf("opus encoder: %w", err)
	}
	enc := &Encoder{enc: e, st: statePtr(unsafe.Pointer(e))}
	if rc := C.pb_set_complexity(enc.st, C.int(complexity)); rc != 0 {
		return nil, fmt.Errorf("opus complexity %d: %s", complexity, C.GoString(C.opus_strerror(rc)))
	}
	if rc := C.pb_set_bitrate(enc.st, C.int(bitrate)); rc != 0 {
		return nil, fmt.Errorf("opus bitrate %d: %s", bitrate, C.GoString(C.opus_strerror(rc)))
	}
	return enc, nil
}

// Encode encodes one frame of pcm into out and returns the packet's length.
func (e *Encoder) Encode(pcm []int16, out []byte) (int, error) {
	if len(pcm) == 0 || len(out) == 0 {
		return 0, errors.New("opus encode: empty buffer")
	}
	n := C.pb_encode(e.st, (*C.int16_t)(unsafe.Pointer(&pcm[0])), C.int(len(pcm)), (*C.uchar)(unsafe.Pointer(&out[0])), C.int32_t(len(out)))
	if n < 0 {
		return 0, fmt.Errorf("opus encode: %s", C.GoString(C.opus_strerror(n)))
	}
	return int(n), nil
}

// Bitrate reads the encoder's bitrate back through gopus (used by the layout test).
func (e *Encoder) Bitrate() int { return e.enc.Bitrate() }
