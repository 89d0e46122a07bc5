// Package onset finds where each tone burst of the load test's round-trip probe starts
// in a stream of 20 ms frames, so every stage can log when the same burst passed it
// (PHONEBRIDGE_TRACE_ONSETS=1; off, it costs one bool test per frame).
package onset

import (
	"log/slog"
	"os"
	"time"
)

// Enabled is read once at start.
var Enabled = os.Getenv("PHONEBRIDGE_TRACE_ONSETS") == "1" || os.Getenv("PHONEBRIDGE_TRACE_ONSETS") == "true"

const (
	// loudPeak: the probe's bursts peak at half scale (16384); speech and noise rarely
	// reach an eighth of it after long silence.
	loudPeak = 4096
	// quietFrames of silence before a loud frame make it an onset (the probe leaves 800 ms).
	quietFrames = 10
)

// Detector is fed one frame's peak at a time; not safe for concurrent use.
type Detector struct {
	quiet int
}

// Feed reports whether this frame starts a burst.
func (d *Detector) Feed(peak int) bool {
	if peak < loudPeak {
		d.quiet++
		return false
	}
	onset := d.quiet >= quietFrames
	d.quiet = 0
	return onset
}

// Log writes one onset line: the stage and the wall-clock time in microseconds.
func Log(log *slog.Logger, stage string) {
	log.Info("onset", "stage", stage, "atUs", time.Now().UnixMicro())
}

// Peak16 is the largest |sample| of pcm.
func Peak16(pcm []int16) int {
	p := 0
	for _, s := range pcm {
		v := int(s)
		if v < 0 {
			v = -v
		}
		p = max(p, v)
	}
	return p
}
