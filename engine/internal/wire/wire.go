// Package wire is the framing between phonebridge (TypeScript) and this engine: one
// message per frame on stdin/stdout, `u32 length (little-endian) | u8 type | body`,
// where length counts the type byte and the body. Audio travels as fixed binary bodies;
// control messages carry a small JSON object. docs/engine-protocol.md is the contract,
// and testdata/vectors.json holds byte-exact examples both sides test against.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Version is bumped whenever a message changes shape; each side refuses another version.
const Version uint16 = 2

// MaxFrame bounds a frame's length field. Nothing legitimate comes close (JSON control
// messages are under a few KiB); a larger value means the stream is out of step.
const MaxFrame = 64 * 1024

// FrameBytes is one 20 ms G.711 frame at 8 kHz.
const FrameBytes = 160

// Message types. Values below 0x20 flow from TypeScript to the engine, 0x20 and above
// from the engine to TypeScript (Hello goes both ways).
const (
	TypeHello       byte = 0x01
	TypeJoin        byte = 0x10
	TypeCallerAudio byte = 0x11
	TypeDTMF        byte = 0x12
	TypeLeave       byte = 0x13
	TypeRPCReply    byte = 0x14
	TypeSetAttrs    byte = 0x15
	TypeEvent       byte = 0x20
	TypeAgentAudio  byte = 0x21
	TypeStats       byte = 0x22
)

// AgentAudio flags.
const (
	// FlagConcealed marks a frame the decoder synthesised for a lost packet.
	FlagConcealed uint16 = 1 << 0
)

// ErrDesync means the byte stream can no longer be split into frames.
var ErrDesync = errors.New("wire: frame length out of range (stream out of step)")

// Frame is one message: its type and body (the body aliases the reader's buffer until
// the next ReadFrame).
type Frame struct {
	Type byte
	Body []byte
}

// Reader splits a byte stream into frames, reusing one buffer.
type Reader struct {
	r   io.Reader
	hdr [4]byte
	buf []byte
}

// NewReader reads frames from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: r, buf: make([]byte, 4096)}
}

// ReadFrame returns the next frame. io.EOF means the peer closed cleanly between frames;
// ErrDesync and io.ErrUnexpectedEOF are fatal for the stream.
func (r *Reader) ReadFrame() (Frame, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		return Frame{}, err
	}
	n := binary.LittleEndian.Uint32(r.hdr[:])
	if n < 1 || n > MaxFrame {
		return Frame{}, fmt.Errorf("%w: %d", ErrDesync, n)
	}
	if int(n) > cap(r.buf) {
		r.buf = make([]byte, n)
	}
	b := r.buf[:n]
	if _, err := io.ReadFull(r.r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
	return Frame{Type: b[0], Body: b[1:]}, nil
}

// Append appends one encoded frame (header, type, body parts) to dst.
func Append(dst []byte, typ byte, parts ...[]byte) []byte {
	n := 1
	for _, p := range parts {
		n += len(p)
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	dst = append(dst, typ)
	for _, p := range parts {
		dst = append(dst, p...)
	}
	return dst
}

// CallID reads the u32 call id that starts every per-call body.
func CallID(body []byte) (uint32, []byte, error) {
	if len(body) < 4 {
		return 0, nil, errors.New("wire: body too short for a call id")
	}
	return binary.LittleEndian.Uint32(body), body[4:], nil
}

// AgentAudioHeader is the fixed part of an AgentAudio body, before the G.711 bytes.
type AgentAudioHeader struct {
	CallID uint32
	// Peak is the frame's largest absolute PCM sample before companding.
	Peak uint16
	// Flags is a set of Flag* bits.
	Flags uint16
	// AgeMicros is how long the audio spent in the engine: from the RTP packet's arrival
	// to this frame being queued for TypeScript.
	AgeMicros uint32
}

// AgentAudioBodyBytes is the size of an AgentAudio body.
const AgentAudioBodyBytes = 12 + FrameBytes

// AppendAgentAudio appends one AgentAudio frame carrying exactly FrameBytes of G.711.
func AppendAgentAudio(dst []byte, h AgentAudioHeader, g711 []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(1+AgentAudioBodyBytes))
	dst = append(dst, TypeAgentAudio)
	dst = binary.LittleEndian.AppendUint32(dst, h.CallID)
	dst = binary.LittleEndian.AppendUint16(dst, h.Peak)
	dst = binary.LittleEndian.AppendUint16(dst, h.Flags)
	dst = binary.LittleEndian.AppendUint32(dst, h.AgeMicros)
	return append(dst, g711...)
}

// AppendCallFrame appends a frame whose body is a call id followed by rest.
func AppendCallFrame(dst []byte, typ byte, callID uint32, rest []byte) []byte {
	var id [4]byte
	binary.LittleEndian.PutUint32(id[:], callID)
	return Append(dst, typ, id[:], rest)
}

// AppendHello appends a Hello frame: the protocol version, then a JSON object.
func AppendHello(dst []byte, info []byte) []byte {
	var v [2]byte
	binary.LittleEndian.PutUint16(v[:], Version)
	return Append(dst, TypeHello, v[:], info)
}

// ParseHello splits a Hello body into the peer's version and its JSON.
func ParseHello(body []byte) (uint16, []byte, error) {
	if len(body) < 2 {
		return 0, nil, errors.New("wire: hello too short")
	}
	return binary.LittleEndian.Uint16(body), body[2:], nil
}
