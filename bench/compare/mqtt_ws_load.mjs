// cmpload's traffic for Mosquitto over WebSockets with client certificates
// (wss://, MQTT 3.1.1, QoS 0), on Node's mqtt package: the same modes,
// message layout (sequence number and due time in the first 16 bytes) and
// output line as bench/compare/cmpload.c, whose header describes them.
//
// usage: node mqtt_ws_load.mjs --pid N --port N --ca F --cert F --key F
//            --mode closed|open|idle [--pairs 2] [--size 1024] [--msgs N]
//            [--window 262144] [--rate N] [--open-ms 3000] [--idle 1000]
//            [--clk-tck 100]
// The mqtt package is found through NODE_PATH (deploy/install-bench-deps.sh
// installs it under build/node).
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const mqtt = require('mqtt');

const STALL_MS = 10000;

function parseArgs(argv) {
    const o = { pairs: 2, size: 1024, msgs: 100000, window: 262144, rate: 0,
                'open-ms': 3000, idle: 1000, 'clk-tck': 100, mode: 'closed' };
    for (let i = 2; i < argv.length; i += 2) {
        const k = argv[i].replace(/^--/, '');
        const v = argv[i + 1];
        if (v === undefined) throw new Error(`missing value for ${argv[i]}`);
        o[k] = ['ca', 'cert', 'key', 'mode'].includes(k) ? v : Number(v);
    }
    for (const k of ['pid', 'port', 'ca', 'cert', 'key'])
        if (!o[k]) throw new Error(`--${k} is required`);
    if (o.size < 16) throw new Error('--size must be at least 16');
    return o;
}

// User plus system CPU of the broker, microseconds.
function cpuUs(pid, tck) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 1e6 / tck;
}

function rssKib(pid) {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m[1]);
}

const nowNs = () => process.hrtime.bigint();

function connect(o, id) {
    return new Promise((resolve, reject) => {
        const c = mqtt.connect(`wss://127.0.0.1:${o.port}`, {
            ca: o.caPem, cert: o.certPem, key: o.keyPem, servername: 'localhost',
            rejectUnauthorized: true, protocolVersion: 4, clientId: id, clean: true,
            reconnectPeriod: 0, connectTimeout: 30000, keepalive: 600,
        });
        c.once('connect', () => resolve(c));
        c.once('error', reject);
    });
}

function subscribe(c, topic) {
    return new Promise((resolve, reject) =>
        c.subscribe(topic, { qos: 0 }, (err) => (err ? reject(err) : resolve())));
}

async function runFlow(o) {
    const lanes = [];
    const payload = randomBytes(o.size);
    for (let i = 0; i < o.pairs; i++) {
        const l = { topic: `bench.${i}`, received: 0, expect: 0n, lat: [], failed: null,
                    rate: o.mode === 'open' ? Math.floor(o.rate / o.pairs) : 0 };
        l.frames = l.rate ? Math.floor(l.rate * o['open-ms'] / 1000) : o.msgs;
        l.sub = await connect(o, `wsub-${i}-${process.pid}`);
        l.sub.on('message', (topic, msg) => {
            const seq = msg.readBigUInt64LE(0), due = msg.readBigUInt64LE(8);
            if (msg.length !== o.size || seq !== l.expect)
                l.failed = `${l.topic}: seq ${seq}, expected ${l.expect}, ${msg.length} bytes`;
            l.expect = seq + 1n;
            if (l.rate) l.lat.push(Number(nowNs() - due) / 1e3);
            l.received++;
            l.last = Date.now();
            if (l.wake) { const w = l.wake; l.wake = null; w(); }
        });
        await subscribe(l.sub, l.topic);
        l.pub = await connect(o, `wpub-${i}-${process.pid}`);
        lanes.push(l);
    }
    const allowed = Math.max(1, Math.floor(o.window / o.size));
    const c0 = cpuUs(o.pid, o['clk-tck']);
    const t0 = nowNs();
    const senders = lanes.map(async (l) => {
        const buf = Buffer.from(payload);
        for (let k = 0; k < l.frames && !l.failed; k++) {
            let due = nowNs();
            if (l.rate) {
                due = t0 + BigInt(Math.floor(k * 1e9 / l.rate));
                const wait = Number(due - nowNs()) / 1e6;
                if (wait > 1) await new Promise((r) => setTimeout(r, wait));
            } else {
                while (k - l.received >= allowed && !l.failed)
                    await new Promise((r) => { l.wake = r; });
            }
            buf.writeBigUInt64LE(BigInt(k), 0);
            buf.writeBigUInt64LE(due, 8);
            l.pub.publish(l.topic, Buffer.from(buf), { qos: 0 });
            // Let the socket and the subscriber's reads run.
            if (k % 64 === 63) await new Promise((r) => setImmediate(r));
        }
    });
    for (const l of lanes) l.last = Date.now();
    await Promise.all(senders);
    await new Promise((resolve) => {
        const check = () => {
            const stalled = lanes.find((l) => Date.now() - l.last > STALL_MS);
            if (stalled) stalled.failed = stalled.failed || `${stalled.topic}: stalled`;
            if (lanes.every((l) => l.received >= l.frames || l.failed)) resolve();
            else setTimeout(check, 1);
        };
        check();
    });
    const t1 = nowNs();
    const c1 = cpuUs(o.pid, o['clk-tck']);
    const failed = lanes.find((l) => l.failed);
    for (const l of lanes) { l.pub.end(true); l.sub.end(true); }
    if (failed) throw new Error(failed.failed);
    const n = lanes.reduce((s, l) => s + l.frames, 0);
    const wall = Number(t1 - t0) / 1e9;
    let line = `cmp: broker=mosquitto-ws mode=${o.mode} size=${o.size} msgs=${n} ` +
        `wall_s=${wall.toFixed(3)} msgs_per_s=${(n / wall).toFixed(0)} ` +
        `broker_cpu_us_per_msg=${((c1 - c0) / n).toFixed(3)}`;
    if (o.mode === 'open') {
        const all = lanes.flatMap((l) => l.lat).sort((a, b) => a - b);
        const pct = (q) => all[Math.min(all.length - 1, Math.floor(q * all.length))].toFixed(0);
        line += ` p50_us=${pct(0.5)} p99_us=${pct(0.99)} p999_us=${pct(0.999)}`;
    }
    console.log(line);
}

async function runIdle(o) {
    const conns = [];
    const rss0 = rssKib(o.pid);
    const c0 = cpuUs(o.pid, o['clk-tck']);
    const t0 = nowNs();
    const workers = 8;
    await Promise.all(Array.from({ length: workers }, async (_, w) => {
        for (let i = w; i < o.idle; i += workers)
            conns.push(await connect(o, `widle-${i}-${process.pid}`));
    }));
    const wall = Number(nowNs() - t0) / 1e9;
    const c1 = cpuUs(o.pid, o['clk-tck']);
    await new Promise((r) => setTimeout(r, 1000));
    const rss1 = rssKib(o.pid);
    console.log(`cmp: broker=mosquitto-ws mode=idle conns=${o.idle} ` +
        `hs_per_s=${(o.idle / wall).toFixed(0)} ` +
        `broker_cpu_us_per_hs=${((c1 - c0) / o.idle).toFixed(1)} ` +
        `rss_kib_per_conn=${((rss1 - rss0) / o.idle).toFixed(2)}`);
    for (const c of conns) c.end(true);
}

const o = parseArgs(process.argv);
o.caPem = readFileSync(o.ca);
o.certPem = readFileSync(o.cert);
o.keyPem = readFileSync(o.key);
try {
    await (o.mode === 'idle' ? runIdle(o) : runFlow(o));
    process.exit(0);
} catch (e) {
    console.error(`mqtt_ws_load: FAILED: ${e.message}`);
    process.exit(1);
}
