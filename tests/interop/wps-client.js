// Drives the official Web PubSub clients against a negotiate endpoint, for
// the Web PubSub interop tests: fetches the negotiate answer, connects with
// @azure/web-pubsub-client (default), mqtt (mqtt) or socket.io-client
// (socketio) and exercises groups / topics / echo. Every step is bounded by a
// timeout; the process always exits 0 after ONE final JSON line on stdout:
//   {"negotiate":{"status":..,"keys":[..]},"connected":bool,"userId":..,
//    "joined":{group:bool,..},"received":[..],"error":".."}
//
// Usage: node wps-client.js <negotiateUrl> <default|mqtt|socketio>
// Env: NEGOTIATE_METHOD (default POST), NEGOTIATE_HEADERS (JSON object),
//      ALLOWED_GROUP, FORBIDDEN_GROUP, TOKEN_GROUP, TAMPER=1 (corrupt the
//      token's signature before connecting), STEP_TIMEOUT_MS (default 5000),
//      MQTT_VERSION (default 4; the aedes stand-in speaks 3.1.1 only),
//      MQTT_TOPIC (default ALLOWED_GROUP or "test").
'use strict';

const STEP_MS = Number(process.env.STEP_TIMEOUT_MS || 5000);
const result = { negotiate: null, connected: false, userId: null, joined: {}, received: [], error: null };
const cleanups = [];

let finished = false;
function finish(error) {
  if (finished) return;
  finished = true;
  if (error && !result.error) result.error = error.message || String(error);
  for (const f of cleanups) {
    try { f(); } catch (_) { /* closing anyway */ }
  }
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
}
process.on('uncaughtException', (e) => finish(e));
process.on('unhandledRejection', (e) => finish(e));

// Resolves p or rejects after STEP_MS naming the step.
function step(name, p) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout: ${name}`)), STEP_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

// Alters the JWT's signature (its first character, which always carries
// signature bits; the last one may only carry padding bits).
function tamper(token) {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[2]) return `${token}x`;
  const c = parts[2][0];
  parts[2] = (c === 'A' ? 'B' : 'A') + parts[2].slice(1);
  return parts.join('.');
}

function tamperUrl(url) {
  const u = new URL(url);
  const t = u.searchParams.get('access_token');
  if (t) u.searchParams.set('access_token', tamper(t));
  return u.toString();
}

function subOf(token) {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
    return payload.sub === undefined ? null : payload.sub;
  } catch (_) {
    return null;
  }
}

async function negotiate(url) {
  const headers = process.env.NEGOTIATE_HEADERS ? JSON.parse(process.env.NEGOTIATE_HEADERS) : {};
  const res = await step('negotiate', fetch(url, { method: process.env.NEGOTIATE_METHOD || 'POST', headers }));
  const text = await step('negotiate body', res.text());
  let body = null;
  try { body = JSON.parse(text); } catch (_) { /* not JSON */ }
  result.negotiate = { status: res.status, keys: body && typeof body === 'object' ? Object.keys(body) : [] };
  if (!res.ok) throw new Error(`negotiate answered ${res.status}: ${text.slice(0, 300)}`);
  if (!body || typeof body !== 'object') throw new Error('negotiate answer is not a JSON object');
  return body;
}

async function runDefault(answer) {
  const { WebPubSubClient } = require('@azure/web-pubsub-client');
  if (typeof answer.url !== 'string') throw new Error('negotiate answer has no url');
  const url = process.env.TAMPER === '1' ? tamperUrl(answer.url) : answer.url;
  const client = new WebPubSubClient(
    { getClientAccessUrl: async () => url },
    { autoReconnect: false, messageRetryOptions: { maxRetries: 0 } },
  );
  cleanups.push(() => { client.stop(); });
  const groupMessages = [];
  let onGroupMessage = () => {};
  client.on('group-message', (e) => {
    const m = e.message;
    groupMessages.push(m);
    result.received.push({ group: m.group, dataType: m.dataType, data: m.data, fromUserId: m.fromUserId });
    onGroupMessage(m);
  });
  const connected = new Promise((resolve) => {
    client.on('connected', (e) => {
      result.userId = e.userId === undefined ? null : e.userId;
      resolve(e);
    });
  });
  await step('start', client.start());
  await step('connected', connected);
  result.connected = true;
  const tryJoin = async (group) => {
    try {
      await step(`joinGroup ${group}`, client.joinGroup(group));
      result.joined[group] = true;
    } catch (e) {
      result.joined[group] = false;
    }
  };
  if (process.env.ALLOWED_GROUP) await tryJoin(process.env.ALLOWED_GROUP);
  if (process.env.FORBIDDEN_GROUP) await tryJoin(process.env.FORBIDDEN_GROUP);
  const tokenGroup = process.env.TOKEN_GROUP;
  if (tokenGroup) {
    const back = new Promise((resolve) => {
      onGroupMessage = (m) => { if (m.group === tokenGroup && m.data === 'hi') resolve(); };
      if (groupMessages.some((m) => m.group === tokenGroup && m.data === 'hi')) resolve();
    });
    await step(`sendToGroup ${tokenGroup}`, client.sendToGroup(tokenGroup, 'hi', 'text', { noEcho: false }));
    await step(`group message from ${tokenGroup}`, back);
  }
}

async function runMqtt(answer) {
  const mqtt = require('mqtt');
  if (typeof answer.url !== 'string') throw new Error('negotiate answer has no url');
  const url = process.env.TAMPER === '1' ? tamperUrl(answer.url) : answer.url;
  result.userId = subOf(new URL(url).searchParams.get('access_token') || '');
  const topic = process.env.MQTT_TOPIC || process.env.ALLOWED_GROUP || 'test';
  const client = mqtt.connect(url, {
    protocolVersion: Number(process.env.MQTT_VERSION || 4),
    clientId: `wps-client-${process.pid}`,
    reconnectPeriod: 0,
    connectTimeout: STEP_MS,
  });
  cleanups.push(() => client.end(true));
  await step('mqtt connect', new Promise((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
    client.once('close', () => reject(new Error('mqtt connection closed before CONNACK')));
  }));
  result.connected = true;
  client.removeAllListeners('close');
  const received = new Promise((resolve) => {
    client.on('message', (t, payload) => {
      result.received.push({ topic: t, data: payload.toString() });
      if (t === topic) resolve();
    });
  });
  const subscribe = async (t) => {
    let ok;
    try {
      const granted = await step(`subscribe ${t}`, client.subscribeAsync(t, { qos: 0 }));
      ok = granted.length > 0 && granted[0].qos < 128;
    } catch (e) {
      if (/^timeout/.test(e.message)) throw e;
      ok = false; // mqtt.js rejects a refused (0x80) subscription
    }
    result.joined[t] = ok;
    return ok;
  };
  const ok = await subscribe(topic);
  if (process.env.FORBIDDEN_GROUP) await subscribe(process.env.FORBIDDEN_GROUP);
  if (!ok) throw new Error(`subscribe ${topic} refused`);
  await step(`publish ${topic}`, client.publishAsync(topic, 'hi', { qos: 0 }));
  await step(`message on ${topic}`, received);
}

async function runSocketIO(answer) {
  const { io } = require('socket.io-client');
  for (const k of ['endpoint', 'path', 'token']) {
    if (typeof answer[k] !== 'string') throw new Error(`negotiate answer has no ${k}`);
  }
  const token = process.env.TAMPER === '1' ? tamper(answer.token) : answer.token;
  result.userId = subOf(token);
  const socket = io(answer.endpoint, {
    path: answer.path,
    query: { access_token: token },
    transports: ['websocket'],
    reconnection: false,
    timeout: STEP_MS,
  });
  cleanups.push(() => socket.close());
  await step('socket.io connect', new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', (e) => reject(new Error(`connect_error: ${e.message}`)));
  }));
  result.connected = true;
  const back = new Promise((resolve) => {
    socket.on('echo', (...args) => {
      result.received.push(args.length === 1 ? args[0] : args);
      resolve();
    });
  });
  socket.emit('echo', 'hi');
  await step('echo', back);
}

async function main() {
  const [negotiateUrl, protocol] = process.argv.slice(2);
  const run = { default: runDefault, mqtt: runMqtt, socketio: runSocketIO }[protocol];
  if (!negotiateUrl || !run) throw new Error('usage: node wps-client.js <negotiateUrl> <default|mqtt|socketio>');
  const answer = await negotiate(negotiateUrl);
  await run(answer);
}

main().then(() => finish(), (e) => finish(e));
