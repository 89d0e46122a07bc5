package onset

import "testing"

func TestFeedFindsOnlyBurstStarts(t *testing.T) {
	var d Detector
	var got []int
	peaks := make([]int, 0, 60)
	for i := 0; i < 60; i++ {
		switch {
		case i >= 20 && i < 30, i >= 35 && i < 38, i >= 50:
			peaks = append(peaks, 16000)
		default:
			peaks = append(peaks, 10)
		}
	}
	for i, p := range peaks {
		if d.Feed(p) {
			got = append(got, i)
		}
	}
	// 35 follows only 5 quiet frames: part of the same burst train, not a new onset.
	if len(got) != 2 || got[0] != 20 || got[1] != 50 {
		t.Fatalf("onsets at %v, want [20 50]", got)
	}
}
