package bridge

import (
	"strings"

	"phonebridge/engine/internal/wire"
)

// The bridge's commands to one call, checked here as they arrive: a bad one is dropped and
// logged once per kind, never trusted.

func (c *Call) callerAudio(body []byte) {
	if len(body) != wire.FrameBytes {
		c.stats.callerBadFrames.Add(1)
		c.problem("caller_frame_size", "Caller frame of the wrong size dropped", "bytes", len(body), "want", wire.FrameBytes)
		return
	}
	c.caller.push(body)
}

const dtmfDigits = "0123456789*#ABCD"

func (c *Call) dtmf(body []byte) {
	if len(body) != 2 || body[0] > 15 || !strings.ContainsRune(dtmfDigits, rune(body[1])) || dtmfDigits[body[0]] != body[1] {
		c.problem("dtmf", "Malformed DTMF command dropped", "bytes", len(body))
		return
	}
	c.mu.Lock()
	room := c.room
	c.mu.Unlock()
	if room == nil {
		return
	}
	if err := room.LocalParticipant.PublishDTMF(uint32(body[0]), string(body[1:2])); err != nil {
		c.log.Warn("Could not publish DTMF to the room", "err", err.Error())
	}
}

func (c *Call) setAttributes(attrs map[string]string) {
	if len(attrs) == 0 || len(attrs) > 16 {
		c.problem("attrs", "Set-attributes with 0 or more than 16 attributes dropped", "count", len(attrs))
		return
	}
	for k, v := range attrs {
		if k == "" || len(k) > 64 || len(v) > 1024 {
			c.problem("attrs", "Set-attributes with an oversized attribute dropped", "key", k)
			return
		}
	}
	c.mu.Lock()
	room := c.room
	c.mu.Unlock()
	if room != nil {
		room.LocalParticipant.SetAttributes(attrs)
	}
}
