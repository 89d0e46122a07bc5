#!/usr/bin/env python3
"""Splits a `perf script` dump of a node process into threads and main-thread categories.

    perf script -i server.data -F comm,tid,ip,sym,dso > server.txt
    python3 bench/perf-attribute.py server.txt

Native threads are reported by name (AudioEncoder = Opus encode, SyntheticAudioD = WebRTC's
10 ms audio device pump, network_thread, worker_thread, AudioSourceCapt = rtc AudioSource,
tokio-rt-worker = livekit-ffi runtime, livekit-audio = AudioStream resampler). Main-thread
samples are attributed to the first frame, leaf upwards, that matches a category, so time in
protobuf called from rtc-node counts as protobuf. Needs node run with
--perf-basic-prof-only-functions --interpreted-frames-native-stack. See bench/profile.sh.
"""
import re, sys, collections
cats=[('JSON.parse (Twilio messages)',r'JsonParse|JSON\.parse|JsonParser'),
('base64 (src/audio/base64.ts)',r'base64'),
('G.711 codec (src/audio/g711.ts)',r'g711|[Mm]ulaw|[Aa]law'),
('protobuf encode/decode of FFI messages (@bufbuild)',r'bufbuild'),
('rtc-node native calls on the main thread (napi)',r'rtc-node\.linux|rtc-ffi-bindings'),
('rtc-node JS (FfiClient dispatch, AudioSource, AudioStream, Room)',r'rtc-node/dist'),
('WebSocket framing (ws)',r'/ws/lib'),
('metrics (prom-client)',r'prom-client'),
('logging (pino)',r'pino'),
('HTTP, webhooks, TwiML (fastify, twilio, xmlbuilder)',r'fastify|xmlbuilder|twilio|find-my-way|avvio'),
('our bridge JS (src/bridge, src/server, other src)',r'/work/main/src/'),
('V8 GC',r'Scaveng|MarkCompact|Heap::|Sweep|ConcurrentMarking|GCTracer|MinorMC'),
('node core JS (streams, timers, net)',r'JS:.*node:'),
('kernel (scheduling, syscalls, IRQ) not under a JS frame',r'kernel|\[k\]|entry_SYSCALL|finish_task_switch'),
]
f=sys.argv[1]
samples=[]; cur=None
for line in open(f):
    if not line.startswith('\t') and line.strip():
        parts=line.split(); cur=[parts[0] if not parts[0].startswith('AudioEncoder') else parts[0], []]
        # comm may contain spaces: take everything before the last token (tid)
        toks=line.rstrip('\n').split(' ')
        tid=[t for t in toks if t.isdigit()]
        comm=line[:line.rfind(tid[-1])].strip() if tid else parts[0]
        cur=[comm,[]]; samples.append(cur)
    elif line.strip() and cur is not None:
        cur[1].append(line.strip())
total=len(samples)
bythread=collections.Counter(s[0] for s in samples)
main=collections.Counter()
for comm,stack in samples:
    if comm!='node': continue
    cat='other native (node, libuv, libc, V8 runtime)'
    for fr in stack:
        hit=None
        for name,rx in cats:
            if re.search(rx,fr): hit=name;break
        if hit: cat=hit;break
    main[cat]+=1
print(f'total samples {total}')
for k,v in bythread.most_common(): print(f'{100*v/total:6.1f}%  thread {k}')
print('--- main thread split')
for k,v in main.most_common(): print(f'{100*v/total:6.1f}%  {k}')
