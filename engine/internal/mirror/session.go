package mirror

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"phonebridge/engine/internal/g711"
	"phonebridge/engine/internal/logx"
	"phonebridge/engine/internal/onset"
	"phonebridge/engine/internal/opuscodec"
)

const (
	phoneFrame = 160 // 20 ms at 8 kHz
	opusFrame  = 960 // 20 ms at 48 kHz
	upsample   = opusFrame / phoneFrame
)

type session struct {
	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger
	opts   Options
	room   *lksdk.Room
	track  *lksdk.LocalTrack
	gen    atomic.Uint64
	heard  chan struct{}
	frames atomic.Uint64
	once   atomic.Bool
	// readers are the goroutines mirroring a subscribed track; serve waits for them.
	readers sync.WaitGroup
}

func serve(parent context.Context, log *slog.Logger, opts Options, room string) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	s := &session{ctx: ctx, cancel: cancel, log: log, opts: opts, heard: make(chan struct{})}
	yes := true
	token, err := auth.NewAccessToken(opts.APIKey, opts.APISecret).
		SetIdentity("mirror-" + room).
		SetName("phonebridge mirror").
		SetKind(livekit.ParticipantInfo_AGENT).
		SetValidFor(time.Hour).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room, CanPublish: &yes, CanSubscribe: &yes, CanUpdateOwnMetadata: &yes}).
		ToJWT()
	if err != nil {
		log.Error("Mirror could not mint its token", "err", err.Error())
		return
	}
	cb := &lksdk.RoomCallback{
		OnDisconnected: cancel,
		OnParticipantDisconnected: func(rp *lksdk.RemoteParticipant) {
			if rp.Kind() != lksdk.ParticipantAgent {
				cancel() // the caller is gone: so is the call
			}
		},
	}
	cb.OnTrackSubscribed = func(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
		if rp.Kind() == lksdk.ParticipantAgent || track.Kind() != webrtc.RTPCodecTypeAudio {
			return
		}
		gen := s.gen.Add(1)
		if s.once.CompareAndSwap(false, true) {
			close(s.heard)
		}
		s.readers.Add(1)
		go func() {
			defer s.readers.Done()
			s.mirror(track, gen)
		}()
	}
	s.room = lksdk.NewRoom(cb)
	// Disconnecting ends every track read; then the readers are waited for.
	defer s.readers.Wait()
	defer s.room.Disconnect()
	if err := s.room.JoinWithContextAndToken(ctx, opts.URL, token, lksdk.WithLogger(logx.ForSDK(log, opts.SDKLogLevel))); err != nil {
		if ctx.Err() == nil {
			log.Warn("Mirror could not join the room", "err", err.Error())
		}
		return
	}
	s.track, err = lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
	if err == nil {
		_, err = s.room.LocalParticipant.PublishTrack(s.track, &lksdk.TrackPublicationOptions{Name: "agent-audio", Source: livekit.TrackSource_MICROPHONE})
	}
	if err != nil {
		log.Warn("Mirror could not publish its track", "err", err.Error())
		return
	}
	s.room.LocalParticipant.SetAttributes(map[string]string{"lk.agent.state": "listening"})
	log.Debug("Mirror joined the room")
	select {
	case <-s.heard:
	case <-ctx.Done():
	case <-time.After(opts.CallerTimeout):
		log.Warn("Mirror leaving: no caller audio", "timeoutMs", opts.CallerTimeout.Milliseconds())
		return
	}
	<-ctx.Done()
	log.Debug("Mirror left the room", "frames", s.frames.Load())
}

// mirror decodes the caller's audio to 8 kHz PCM, upsamples it to 48 kHz and publishes
// it as Opus, 20 ms per packet, as each packet arrives: the caller's own pacing carries
// through, so the round trip measures the path, not a playout clock of ours.
func (s *session) mirror(track *webrtc.TrackRemote, gen uint64) {
	enc, err := opuscodec.NewEncoder(48000, s.opts.Complexity, s.opts.Bitrate)
	if err != nil {
		s.log.Error("Mirror could not create its encoder", "err", err.Error())
		return
	}
	decode := decoderFor(track.Codec().MimeType)
	if decode == nil {
		s.log.Warn("Mirror cannot decode the caller's codec", "mime", track.Codec().MimeType)
		return
	}
	s.room.LocalParticipant.SetAttributes(map[string]string{"lk.agent.state": "speaking"})
	var (
		pkt    rtp.Packet
		buf    = make([]byte, 1500)
		pcm    [960]int16
		carry  [phoneFrame + 960]int16
		nCarry int
		up     [opusFrame]int16
		out    = make([]byte, 1275)
		last   int16
		trace  onset.Detector
	)
	for s.ctx.Err() == nil && s.gen.Load() == gen {
		n, _, err := track.Read(buf)
		if err != nil {
			return
		}
		if pkt.Unmarshal(buf[:n]) != nil || len(pkt.Payload) == 0 {
			continue
		}
		got := decode(pkt.Payload, pcm[:])
		traced := onset.Enabled && trace.Feed(onset.Peak16(pcm[:got]))
		if traced {
			onset.Log(s.log, "mirror.in")
		}
		nCarry += copy(carry[nCarry:], pcm[:got])
		off := 0
		for nCarry-off >= phoneFrame {
			last = upsampleLinear(up[:], carry[off:off+phoneFrame], last)
			off += phoneFrame
			m, err := enc.Encode(up[:], out)
			if err != nil {
				continue
			}
			if s.track.WriteSample(media.Sample{Data: out[:m], Duration: 20 * time.Millisecond}, nil) == nil {
				s.frames.Add(1)
			}
			if traced {
				onset.Log(s.log, "mirror.out")
				traced = false
			}
		}
		nCarry = copy(carry[:], carry[off:nCarry])
	}
}

func decoderFor(mime string) func(payload []byte, pcm []int16) int {
	var law g711.Law
	switch strings.ToLower(mime) {
	case strings.ToLower(webrtc.MimeTypePCMU):
		law = g711.MuLaw
	case strings.ToLower(webrtc.MimeTypePCMA):
		law = g711.ALaw
	case strings.ToLower(webrtc.MimeTypeOpus):
		dec, err := opuscodec.NewDecoder(8000)
		if err != nil {
			return nil
		}
		return func(p []byte, pcm []int16) int {
			n, err := dec.Decode(p, pcm, false)
			if err != nil {
				return 0
			}
			return n
		}
	default:
		return nil
	}
	return func(p []byte, pcm []int16) int {
		n := min(len(p), len(pcm))
		law.Decode(pcm[:n], p[:n])
		return n
	}
}

// upsampleLinear writes 6 output samples per input sample, interpolating from the
// previous frame's last sample, and returns this frame's last sample. Crude but cheap:
// the bridge decodes to 8 kHz, which discards everything the interpolation images.
func upsampleLinear(dst []int16, src []int16, prev int16) int16 {
	for i, s := range src {
		a, b := int32(prev), int32(s)
		for k := 0; k < upsample; k++ {
			dst[i*upsample+k] = int16(a + (b-a)*int32(k+1)/upsample)
		}
		prev = s
	}
	return prev
}
