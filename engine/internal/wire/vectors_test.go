package wire

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"reflect"
	"testing"
)

type vector struct {
	Name       string          `json:"name"`
	Hex        string          `json:"hex"`
	Version    uint16          `json:"version"`
	Type       byte            `json:"type"`
	CallID     uint32          `json:"callId"`
	JSON       json.RawMessage `json:"json"`
	PayloadHex string          `json:"payloadHex"`
	Code       byte            `json:"code"`
	Digit      string          `json:"digit"`
	Peak       uint16          `json:"peak"`
	Flags      uint16          `json:"flags"`
	AgeMicros  uint32          `json:"ageMicros"`
}

type vectorFile struct {
	Version    uint16   `json:"version"`
	ToEngine   []vector `json:"toEngine"`
	FromEngine []vector `json:"fromEngine"`
}

func loadVectors(t *testing.T) vectorFile {
	t.Helper()
	raw, err := os.ReadFile("../../testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectorFile
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if v.Version != Version {
		t.Fatalf("vectors are for protocol v%d, this is v%d", v.Version, Version)
	}
	return v
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameJSON(t *testing.T, name string, got []byte, want json.RawMessage) {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatalf("%s: body is not JSON: %v", name, err)
	}
	_ = json.Unmarshal(want, &b)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("%s: JSON %s, want %s", name, got, want)
	}
}

// What phonebridge sends, as phonebridge's encoders produce it, parses here.
func TestFramesFromPhonebridge(t *testing.T) {
	for _, v := range loadVectors(t).ToEngine {
		r := NewReader(bytes.NewReader(unhex(t, v.Hex)))
		f, err := r.ReadFrame()
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		if _, err := r.ReadFrame(); err != io.EOF {
			t.Fatalf("%s: trailing bytes after the frame (%v)", v.Name, err)
		}
		if v.Name == "hello" {
			ver, info, err := ParseHello(f.Body)
			if err != nil || ver != v.Version || f.Type != TypeHello {
				t.Fatalf("hello: version %d type %x err %v", ver, f.Type, err)
			}
			sameJSON(t, v.Name, info, v.JSON)
			continue
		}
		if f.Type != v.Type {
			t.Fatalf("%s: type %x, want %x", v.Name, f.Type, v.Type)
		}
		id, rest, err := CallID(f.Body)
		if err != nil || id != v.CallID {
			t.Fatalf("%s: call id %d err %v", v.Name, id, err)
		}
		switch v.Name {
		case "callerAudio":
			if !bytes.Equal(rest, unhex(t, v.PayloadHex)) {
				t.Fatal("callerAudio: payload differs")
			}
		case "dtmf":
			if len(rest) != 2 || rest[0] != v.Code || string(rest[1:]) != v.Digit {
				t.Fatalf("dtmf: body %x", rest)
			}
		case "leave":
			if len(rest) != 0 {
				t.Fatalf("leave: body %x", rest)
			}
		case "join":
			var j Join
			if err := DecodeJSON(rest, &j); err != nil {
				t.Fatal(err)
			}
			if err := j.Validate(); err != nil {
				t.Fatalf("join vector does not validate: %v", err)
			}
			sameJSON(t, v.Name, rest, v.JSON)
		default:
			sameJSON(t, v.Name, rest, v.JSON)
		}
	}
}

// What the engine sends is byte for byte what phonebridge's decoders were tested on.
func TestFramesToPhonebridge(t *testing.T) {
	for _, v := range loadVectors(t).FromEngine {
		var got []byte
		switch v.Name {
		case "hello":
			var compact bytes.Buffer
			_ = json.Compact(&compact, v.JSON)
			got = AppendHello(nil, compact.Bytes())
		case "agentAudio":
			got = AppendAgentAudio(nil, AgentAudioHeader{CallID: v.CallID, Peak: v.Peak, Flags: v.Flags, AgeMicros: v.AgeMicros}, unhex(t, v.PayloadHex))
		case "event":
			var ev Event
			if err := json.Unmarshal(v.JSON, &ev); err != nil {
				t.Fatal(err)
			}
			body, _ := json.Marshal(ev)
			got = AppendCallFrame(nil, TypeEvent, v.CallID, body)
		default:
			t.Fatalf("no encoder for vector %s", v.Name)
		}
		if hex.EncodeToString(got) != v.Hex {
			t.Fatalf("%s:\n got %x\nwant %s", v.Name, got, v.Hex)
		}
	}
}

func TestReaderRefusesAnOutOfStepLength(t *testing.T) {
	for _, n := range []uint32{0, MaxFrame + 1} {
		var b bytes.Buffer
		b.Write([]byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)})
		if _, err := NewReader(&b).ReadFrame(); err == nil {
			t.Fatalf("length %d accepted", n)
		}
	}
}

func TestReaderReportsATruncatedFrame(t *testing.T) {
	b := bytes.NewReader([]byte{10, 0, 0, 0, TypeLeave, 1})
	if _, err := NewReader(b).ReadFrame(); err != io.ErrUnexpectedEOF {
		t.Fatalf("err = %v, want unexpected EOF", err)
	}
}

func TestJoinValidation(t *testing.T) {
	bad := Join{CallSid: "", URL: "ftp://x", Token: "", Codec: "opus", TrackName: "", CallerLeadMs: -1, JitterMs: 5000}
	err := bad.Validate()
	if err == nil {
		t.Fatal("bad join accepted")
	}
	for _, want := range []string{"callSid", "url", "token", "codec", "trackName", "callerLeadMs", "jitterMs"} {
		if !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Fatalf("error %q does not name %s", err, want)
		}
	}
	var j Join
	if err := DecodeJSON([]byte(`{"callSid":"CA1","surprise":1}`), &j); err == nil {
		t.Fatal("unknown field accepted")
	}
}

func BenchmarkAppendAgentAudio(b *testing.B) {
	g := make([]byte, FrameBytes)
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendAgentAudio(buf[:0], AgentAudioHeader{CallID: 7, Peak: 1000}, g)
	}
}

func BenchmarkReadCallerAudio(b *testing.B) {
	frame := AppendCallFrame(nil, TypeCallerAudio, 7, make([]byte, FrameBytes))
	stream := bytes.Repeat(frame, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 1024 {
		r := NewReader(bytes.NewReader(stream))
		for j := 0; j < 1024; j++ {
			if _, err := r.ReadFrame(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
