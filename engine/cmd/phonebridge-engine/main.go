// Command phonebridge-engine is phonebridge's media engine. `bridge` (what
// `phonebridge serve` runs) carries the LiveKit leg of every call of one phonebridge
// instance, speaking docs/engine-protocol.md on stdin/stdout and logging JSON lines on
// stderr. `mirror` is the load-test agent that plays every caller back.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"golang.org/x/sys/unix"

	"phonebridge/engine/internal/bridge"
	"phonebridge/engine/internal/logx"
	"phonebridge/engine/internal/mirror"
	"phonebridge/engine/internal/wire"
)

// sourceHash is set at build time (-ldflags -X) to the hash of the engine's sources, so
// phonebridge can tell a stale cached binary from a current one.
var sourceHash = "dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		args = []string{"bridge"}
	}
	switch args[0] {
	case "version", "--version":
		fmt.Printf("phonebridge-engine %s protocol %d\n", sourceHash, wire.Version)
		return 0
	case "bridge":
		return runBridge(args[1:])
	case "mirror":
		return runMirror(args[1:])
	default:
		fmt.Fprintf(os.Stderr, "phonebridge-engine: unknown command %q (bridge, mirror, version)\n", args[0])
		return 2
	}
}

// dieWithParent makes the kernel kill us when the process that started us dies, however
// it dies: an engine must never outlive its phonebridge.
func dieWithParent() {
	parent := os.Getppid()
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
	if os.Getppid() != parent {
		os.Exit(1) // the parent died before the prctl took effect
	}
}

// startCPUProfile writes a Go CPU profile to $PHONEBRIDGE_ENGINE_CPU_PROFILE until the
// engine exits cleanly (SIGTERM, stdin closed): how BENCHMARKS.md profiles the engine.
func startCPUProfile(log *slog.Logger) func() {
	path := os.Getenv("PHONEBRIDGE_ENGINE_CPU_PROFILE")
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		log.Warn("Cannot write the CPU profile", "path", path, "err", err.Error())
		return nil
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
}

func runBridge(args []string) int {
	fs := flag.NewFlagSet("bridge", flag.ContinueOnError)
	level := fs.String("log-level", "info", "log level (debug, info, warn, error)")
	sdkLevel := fs.String("sdk-log-level", "warn", "lowest level of LiveKit SDK lines to keep")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	dieWithParent()
	log := logx.New(os.Stderr, logx.ParseLevel(*level))
	if stop := startCPUProfile(log); stop != nil {
		defer stop()
	}
	// pion's own logger is the SDK's package-level one, not the per-room one.
	lksdk.SetLogger(logx.ForSDK(log, logx.ParseLevel(*sdkLevel)))
	ctx, cancel := signalContext()
	defer cancel()
	srv := bridge.NewServer(log, os.Stdout, bridge.Options{SDKLogLevel: logx.ParseLevel(*sdkLevel), EngineVersion: sourceHash})
	if err := srv.Serve(ctx, os.Stdin); err != nil {
		log.Error("Media engine stopped: " + err.Error())
		return 1
	}
	return 0
}

func runMirror(args []string) int {
	fs := flag.NewFlagSet("mirror", flag.ContinueOnError)
	o := mirror.Options{}
	fs.StringVar(&o.URL, "url", os.Getenv("LIVEKIT_URL"), "LiveKit URL (LIVEKIT_URL)")
	fs.StringVar(&o.APIKey, "api-key", os.Getenv("LIVEKIT_API_KEY"), "API key (LIVEKIT_API_KEY)")
	fs.StringVar(&o.RoomPrefix, "room-prefix", "call-", "serve rooms whose names start with this")
	fs.DurationVar(&o.Poll, "poll", 250*time.Millisecond, "how often to look for new rooms")
	fs.DurationVar(&o.CallerTimeout, "caller-timeout", 30*time.Second, "leave a room whose caller publishes nothing by then")
	fs.IntVar(&o.Complexity, "complexity", 1, "Opus encoder complexity (0-10)")
	fs.IntVar(&o.Bitrate, "bitrate", 24000, "Opus bitrate, bits per second")
	level := fs.String("log-level", "info", "log level")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// The secret only from the environment: a command line is visible to every user.
	o.APISecret = os.Getenv("LIVEKIT_API_SECRET")
	var problems []string
	if o.URL == "" {
		problems = append(problems, "LIVEKIT_URL (or --url) is not set")
	}
	if o.APIKey == "" {
		problems = append(problems, "LIVEKIT_API_KEY (or --api-key) is not set")
	}
	if o.APISecret == "" {
		problems = append(problems, "LIVEKIT_API_SECRET is not set")
	}
	if o.Poll < 20*time.Millisecond || o.Complexity < 0 || o.Complexity > 10 || o.Bitrate < 6000 || o.Bitrate > 510000 {
		problems = append(problems, "--poll must be >= 20ms, --complexity 0-10, --bitrate 6000-510000")
	}
	if len(problems) > 0 {
		fmt.Fprintln(os.Stderr, "phonebridge-engine mirror: "+strings.Join(problems, "; "))
		return 2
	}
	dieWithParent()
	log := logx.New(os.Stderr, logx.ParseLevel(*level))
	o.SDKLogLevel = slog.LevelWarn
	lksdk.SetLogger(logx.ForSDK(log, o.SDKLogLevel))
	ctx, cancel := signalContext()
	defer cancel()
	if err := mirror.Run(ctx, log, o); err != nil {
		log.Error("Mirror stopped: " + err.Error())
		return 1
	}
	return 0
}
