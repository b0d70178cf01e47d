// Self-test of the Web PubSub interop harness (no Rust involved): starts
// wps-service.js, serves negotiate answers made with the official
// @azure/web-pubsub SDK from a tiny local HTTP server, runs wps-client.js for
// each protocol and checks that good tokens work and that tampered,
// wrong-audience and expired tokens are refused; also checks the REST
// generateToken stand-in. Exits non-zero on any failure.
//
// Usage: node wps-selftest.js
'use strict';

const http = require('http');
const path = require('path');
const crypto = require('crypto');
const readline = require('readline');
const { spawn, execFile } = require('child_process');
const jwt = require('jsonwebtoken');
const { WebPubSubServiceClient } = require('@azure/web-pubsub');

const KEY = `selftest-${crypto.randomBytes(12).toString('base64')}`;
const HUB = 'chat';
const ROLES = ['webpubsub.joinLeaveGroup.lobby', 'webpubsub.sendToGroup.lobby', 'webpubsub.sendToGroup.news'];
const GROUPS = ['news']; // joined at connect, never joined explicitly
const started = Date.now();
const failures = [];
const events = []; // the service's stdout events

function check(name, ok, detail) {
  console.error(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok ? '' : ` -- ${JSON.stringify(detail)}`}`);
  if (!ok) failures.push(name);
}

function startService() {
  const child = spawn(process.execPath, [path.join(__dirname, 'wps-service.js')], {
    env: { ...process.env, ACCESS_KEY: KEY, PORT: '0', SOCKETIO_HUBS: HUB },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      const e = JSON.parse(line);
      if ('port' in e && events.length === 0 && !child.port) {
        child.port = e.port;
        resolve(child);
      } else {
        events.push(e);
      }
    });
    child.on('exit', (code) => reject(new Error(`wps-service exited ${code}`)));
  });
}

// Negotiate answers: /negotiate/<protocol>/<case>; case ok | wronghub | expired.
function negotiateServer(port) {
  const connStr = `Endpoint=http://127.0.0.1:${port};AccessKey=${KEY};Version=1.0;`;
  const options = { userId: 'alice', roles: ROLES, groups: GROUPS };
  const server = http.createServer(async (req, res) => {
    try {
      const [, , protocol, kase] = req.url.split('/');
      const clientProtocol = protocol === 'default' ? undefined : protocol;
      const mine = await new WebPubSubServiceClient(connStr, HUB).getClientAccessToken({ ...options, clientProtocol });
      let { token } = mine;
      if (kase === 'wronghub') {
        token = (await new WebPubSubServiceClient(connStr, 'other').getClientAccessToken({ ...options, clientProtocol })).token;
      } else if (kase === 'expired') {
        const claims = jwt.decode(token);
        claims.iat -= 7200;
        claims.exp = claims.iat + 600; // an hour and 50 minutes ago
        token = jwt.sign(claims, KEY, { algorithm: 'HS256' }); // keeps the iat given
      }
      const url = new URL(mine.baseUrl);
      const body = protocol === 'socketio'
        ? { endpoint: url.origin.replace(/^ws/, 'http'), path: url.pathname, token }
        : { baseUrl: mine.baseUrl, url: `${mine.baseUrl}?access_token=${token}`, token };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    } catch (e) {
      res.writeHead(500);
      res.end(e.message);
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function runClient(url, protocol, env = {}) {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(__dirname, 'wps-client.js'), url, protocol], {
      env: { ...process.env, ALLOWED_GROUP: 'lobby', FORBIDDEN_GROUP: 'secret', TOKEN_GROUP: 'news', STEP_TIMEOUT_MS: '4000', ...env },
      timeout: 20000,
    }, (err, stdout, stderr) => {
      const lines = stdout.trim().split('\n');
      let out = null;
      try { out = JSON.parse(lines[lines.length - 1]); } catch (_) { /* reported below */ }
      resolve({ code: err ? err.code : 0, out, stderr });
    });
  });
}

async function checkRest(port) {
  const base = `http://127.0.0.1:${port}`;
  const health = await fetch(`${base}/api/health`, { method: 'HEAD' });
  check('health 200', health.status === 200, health.status);
  const missing = await fetch(`${base}/nope`);
  check('unknown path 404', missing.status === 404, missing.status);
  const q = 'api-version=2024-12-01&userId=bob&role=r1&role=r2&group=g1&minutesToExpire=5&clientType=MQTT';
  const noAuth = await fetch(`${base}/api/hubs/${HUB}/:generateToken?${q}`, { method: 'POST' });
  check('generateToken without bearer 401', noAuth.status === 401, noAuth.status);
  const bearer = jwt.sign({ aud: 'https://webpubsub.azure.com' }, 'whatever');
  const res = await fetch(`${base}/api/hubs/${HUB}/:generateToken?${q}`, { method: 'POST', headers: { authorization: `Bearer ${bearer}` } });
  const body = await res.json();
  let claims = null;
  try { claims = jwt.verify(body.token, Buffer.from(KEY, 'utf8'), { algorithms: ['HS256'] }); } catch (_) { /* below */ }
  check('generateToken 200 + token signed with the key', res.status === 200 && claims !== null, body);
  check('generateToken claims', claims && claims.sub === 'bob' && claims.role.join() === 'r1,r2'
    && claims['webpubsub.group'].join() === 'g1' && claims.exp - claims.iat === 300
    && claims.aud === `${base}/clients/mqtt/hubs/${HUB}`, claims);
  const logged = events.find((e) => e.event === 'generateToken' && e.status === 200);
  check('generateToken query logged', logged && Array.isArray(logged.query.role) && logged.query.role.length === 2
    && logged.query.clientType === 'MQTT' && logged.query['api-version'] === '2024-12-01', logged);
}

async function main() {
  const service = await startService();
  const negotiate = await negotiateServer(service.port);
  const nport = negotiate.address().port;
  try {
    await checkRest(service.port);
    const cases = [];
    for (const protocol of ['default', 'mqtt', 'socketio']) {
      const url = (kase) => `http://127.0.0.1:${nport}/negotiate/${protocol}/${kase}`;
      cases.push({ protocol, kase: 'ok', run: () => runClient(url('ok'), protocol) });
      cases.push({ protocol, kase: 'tampered', run: () => runClient(url('ok'), protocol, { TAMPER: '1' }) });
      cases.push({ protocol, kase: 'wronghub', run: () => runClient(url('wronghub'), protocol) });
      cases.push({ protocol, kase: 'expired', run: () => runClient(url('expired'), protocol) });
    }
    // Four at a time: the machine may be busy.
    const results = [];
    for (let i = 0; i < cases.length; i += 4) {
      const batch = cases.slice(i, i + 4);
      results.push(...await Promise.all(batch.map(async (c) => ({ ...c, ...(await c.run()) }))));
    }
    for (const r of results) {
      const name = `${r.protocol} ${r.kase}`;
      const o = r.out;
      if (!o) {
        check(`${name}: one JSON line, exit 0`, false, r.stderr.slice(-500));
        continue;
      }
      check(`${name}: exit 0, negotiate 200`, r.code === 0 && o.negotiate && o.negotiate.status === 200, o);
      if (r.kase === 'ok') {
        check(`${name}: connected as alice`, o.connected && o.userId === 'alice' && !o.error, o);
        if (r.protocol === 'default') {
          check(`${name}: join lobby ok, join secret refused`, o.joined.lobby === true && o.joined.secret === false, o.joined);
          check(`${name}: token group news joined at connect`, o.received.some((m) => m.group === 'news' && m.data === 'hi'), o.received);
        } else if (r.protocol === 'mqtt') {
          check(`${name}: subscribe lobby ok, secret refused`, o.joined.lobby === true && o.joined.secret === false, o.joined);
          check(`${name}: message received`, o.received.some((m) => m.topic === 'lobby' && m.data === 'hi'), o.received);
        } else {
          check(`${name}: echo received`, o.received.includes('hi'), o.received);
        }
      } else {
        check(`${name}: refused`, !o.connected && !!o.error, o);
      }
    }
    // The service says why it refused each.
    for (const protocol of ['default', 'mqtt', 'socketio']) {
      const reasons = events.filter((e) => e.event === 'refused' && e.protocol === protocol).map((e) => e.reason);
      check(`${protocol}: refusal reasons logged`, reasons.some((s) => /signature/.test(s))
        && reasons.some((s) => /audience/.test(s)) && reasons.some((s) => /expired/.test(s)), reasons);
      const conn = events.find((e) => e.event === 'connected' && e.protocol === protocol);
      check(`${protocol}: connection claims logged`, conn && conn.claims.sub === 'alice', conn);
    }
  } finally {
    negotiate.close();
    service.kill('SIGTERM');
  }
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (failures.length) {
    console.error(`${failures.length} FAILED (${secs} s): ${failures.join('; ')}`);
    process.exit(1);
  }
  console.error(`all passed (${secs} s)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
