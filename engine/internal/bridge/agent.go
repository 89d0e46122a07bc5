package bridge

import (
	"errors"
	"net"
	"os"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"phonebridge/engine/internal/g711"
	"phonebridge/engine/internal/jitter"
	"phonebridge/engine/internal/onset"
	"phonebridge/engine/internal/opuscodec"
	"phonebridge/engine/internal/wire"
)

const (
	phoneRate = 8000
	// maxOpusFrame is the longest Opus packet (120 ms) at 8 kHz.
	maxOpusFrame = 960
)

// frameSink receives 20 ms frames of decoded agent audio.
type frameSink func(g711 []byte, peak uint16, flags uint16, age time.Duration)

// agentDecoder turns the agent's Opus packets, in order with holes marked, into 20 ms
// G.711 frames. Packets carry 10-60 ms; output is re-chunked to exactly 160 samples.
type agentDecoder struct {
	dec    *opuscodec.Decoder
	law    g711.Law
	sink   frameSink
	pcm    [maxOpusFrame]int16
	carry  [maxOpusFrame + wire.FrameBytes]int16
	nCarry int
	out    [wire.FrameBytes]byte
	// lastSamples is the duration of the last decoded packet, used to size concealment.
	lastSamples int
	concealed   uint64
	decodeErrs  uint64
}

func newAgentDecoder(law g711.Law, sink frameSink) (*agentDecoder, error) {
	dec, err := opuscodec.NewDecoder(phoneRate)
	if err != nil {
		return nil, err
	}
	return &agentDecoder{dec: dec, law: law, sink: sink, lastSamples: wire.FrameBytes}, nil
}

// decode handles packets released by the jitter buffer at time now.
func (d *agentDecoder) decode(outs []jitter.Out, now time.Time) {
	for _, o := range outs {
		age := now.Sub(o.Arrived)
		for i := 0; i < o.Lost; i++ {
			// The packet after a hole often carries the last lost one as in-band FEC.
			n, err := d.dec.Decode(fecSource(o, i), d.pcm[:d.lastSamples], i == o.Lost-1)
			if err != nil {
				n, err = d.dec.Decode(nil, d.pcm[:d.lastSamples], false)
			}
			if err == nil {
				d.concealed++
				d.push(d.pcm[:n], wire.FlagConcealed, age)
			}
		}
		n, err := d.dec.Decode(o.Payload, d.pcm[:], false)
		if err != nil {
			d.decodeErrs++
			continue
		}
		if n > 0 {
			d.lastSamples = n
		}
		d.push(d.pcm[:n], 0, age)
	}
}

func fecSource(o jitter.Out, i int) []byte {
	if i == o.Lost-1 {
		return o.Payload
	}
	return nil
}

func (d *agentDecoder) push(pcm []int16, flags uint16, age time.Duration) {
	n := copy(d.carry[d.nCarry:], pcm)
	d.nCarry += n
	off := 0
	for d.nCarry-off >= wire.FrameBytes {
		chunk := d.carry[off : off+wire.FrameBytes]
		peak := d.law.Encode(d.out[:], chunk)
		d.sink(d.out[:], peak, flags, age)
		off += wire.FrameBytes
	}
	if off > 0 {
		d.nCarry = copy(d.carry[:], d.carry[off:d.nCarry])
	}
}

// readAgent reads one subscribed agent track until it ends or a newer one replaces it.
func (c *Call) readAgent(track *webrtc.TrackRemote, gen uint64) {
	var trace onset.Detector
	dec, err := newAgentDecoder(c.law, func(b []byte, peak, flags uint16, age time.Duration) {
		if c.agentGen.Load() != gen {
			return
		}
		if onset.Enabled && trace.Feed(int(peak)) {
			onset.Log(c.log, "engine.agent_decoded")
		}
		h := wire.AgentAudioHeader{CallID: c.id, Peak: peak, Flags: flags, AgeMicros: uint32(age.Microseconds())}
		if c.srv.out.Enqueue(true, func(dst []byte) []byte { return wire.AppendAgentAudio(dst, h, b) }) {
			c.stats.agentFrames.Add(1)
		} else {
			c.stats.agentDropped.Add(1)
		}
	})
	if err != nil {
		c.log.Error("Could not create the Opus decoder", "err", err.Error())
		return
	}
	jb := jitter.New(time.Duration(c.join.JitterMs) * time.Millisecond)
	defer func() {
		s := jb.Stats()
		c.stats.agentPackets.Add(s.Packets)
		c.stats.agentLost.Add(s.Lost)
		c.stats.agentLate.Add(s.Late)
		c.stats.agentConcealed.Add(dec.concealed)
		c.stats.agentDecodeError.Add(dec.decodeErrs)
	}()
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	deadlineSet := false
	for c.ctx.Err() == nil && c.agentGen.Load() == gen {
		if waiting, until := jb.Waiting(); waiting {
			_ = track.SetReadDeadline(until)
			deadlineSet = true
		} else if deadlineSet {
			_ = track.SetReadDeadline(time.Time{})
			deadlineSet = false
		}
		n, _, err := track.Read(buf)
		now := time.Now()
		if err != nil {
			if isTimeout(err) {
				dec.decode(jb.Expire(now), now)
				continue
			}
			return
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil || len(pkt.Payload) == 0 {
			continue
		}
		dec.decode(jb.Push(jitter.Packet{Seq: pkt.SequenceNumber, Payload: pkt.Payload, Arrived: now}), now)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
