// Stand-in for the Azure Web PubSub service, on loopback, for the Web PubSub
// interop tests. It checks client access tokens the way the service does
// (HS256 over the UTF-8 bytes of ACCESS_KEY, the exact audience of the client
// endpoint, times) and serves just enough of each client endpoint for the
// official clients to work against it:
//   WS   /client/hubs/{hub}?access_token=...   Web PubSub JSON (reliable) subprotocol
//   WS   /clients/mqtt/hubs/{hub}              MQTT over WebSocket (aedes broker per hub)
//   S.IO /clients/socketio/hubs/{hub}/         Socket.IO, hubs from SOCKETIO_HUBS
//   POST /api/hubs/{hub}/:generateToken        the REST token API (Entra ID path of the SDKs)
//   HEAD|GET /api/health
//
// Env: ACCESS_KEY (required), PORT (default 0 = any free port),
//      ENDPOINT (the endpoint the instance believes it has; default
//      http://127.0.0.1:{port}; audiences are `${ENDPOINT}/<client path>`),
//      SOCKETIO_HUBS (comma list, default "chat"),
//      ENTRA_RESOURCE (if set, the `aud` the generateToken bearer must carry).
// Stdout: first line {"port":N}; then one JSON line per event ("connected",
// "refused", "generateToken", "joinGroup", "sendToGroup", ...). Stderr: noise.
'use strict';

const http = require('http');
const crypto = require('crypto');
const jwt = require('jsonwebtoken');
const { WebSocketServer, createWebSocketStream } = require('ws');
const { Server: SocketIOServer } = require('socket.io');
const aedesFactory = require('aedes');

const ACCESS_KEY = process.env.ACCESS_KEY;
if (!ACCESS_KEY) {
  console.error('ACCESS_KEY is required');
  process.exit(2);
}
const SECRET = Buffer.from(ACCESS_KEY, 'utf8'); // as written, not base64-decoded
const SKEW = 60; // seconds allowed for nbf / iat in the future
const SOCKETIO_HUBS = (process.env.SOCKETIO_HUBS || 'chat').split(',').map((s) => s.trim()).filter(Boolean);
const ENTRA_RESOURCE = process.env.ENTRA_RESOURCE;
let ENDPOINT = process.env.ENDPOINT ? process.env.ENDPOINT.replace(/\/+$/, '') : null;

const RELIABLE = 'json.reliable.webpubsub.azure.v1';
const JSON_PROTOCOL = 'json.webpubsub.azure.v1';

const nowSeconds = () => Math.floor(Date.now() / 1000);
const emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
const asList = (v) => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);

// Verifies a client access token for the client path `path` (e.g.
// "client/hubs/chat"). Returns the claims or throws with the reason.
function verifyClientToken(token, path) {
  if (!token) throw new Error('no access token');
  const audience = `${ENDPOINT}/${path}`;
  let header;
  try {
    header = jwt.decode(token, { complete: true });
  } catch (_) { /* reported below */ }
  if (!header) throw new Error('access token is not a JWT');
  if (header.header.alg !== 'HS256') throw new Error(`alg ${header.header.alg} not accepted`);
  let claims;
  try {
    claims = jwt.verify(token, SECRET, { algorithms: ['HS256'], ignoreExpiration: true, ignoreNotBefore: true });
  } catch (e) {
    throw new Error(`token rejected: ${e.message}`);
  }
  const aud = claims.aud;
  if (!(aud === audience || (Array.isArray(aud) && aud.includes(audience)))) {
    throw new Error(`audience mismatch: expected ${JSON.stringify(audience)}, token has ${JSON.stringify(aud)}`);
  }
  const now = nowSeconds();
  if (typeof claims.exp !== 'number') throw new Error('exp missing');
  if (claims.exp <= now) throw new Error(`token expired (exp ${claims.exp}, now ${now})`);
  if (typeof claims.nbf === 'number' && claims.nbf > now + SKEW) throw new Error('nbf is in the future');
  if (typeof claims.iat === 'number' && claims.iat > now + SKEW) throw new Error('iat is in the future');
  return claims;
}

// Permission check of the service: "webpubsub.<perm>" or "webpubsub.<perm>.<group>".
function permitted(claims, perm, group) {
  return asList(claims.role).some((r) => r === `webpubsub.${perm}` || r === `webpubsub.${perm}.${group}`);
}

function refuseUpgrade(socket, status, text) {
  socket.write(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  socket.destroy();
}

const queryToken = (url) => url.searchParams.get('access_token');
const bearer = (req) => {
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization || '');
  return m ? m[1].trim() : null;
};

// ---------------------------------------------------------------- default --
// group name -> Set of connections; a connection is { ws, id, userId, claims, reliable, seq, groups }
const groups = new Map();

function joinGroup(conn, group) {
  if (!groups.has(group)) groups.set(group, new Set());
  groups.get(group).add(conn);
  conn.groups.add(group);
}

function leaveGroup(conn, group) {
  const members = groups.get(group);
  if (members) {
    members.delete(conn);
    if (members.size === 0) groups.delete(group);
  }
  conn.groups.delete(group);
}

function sendToClient(conn, message) {
  if (conn.reliable && message.type === 'message') {
    conn.seq += 1;
    message.sequenceId = conn.seq;
  }
  if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(JSON.stringify(message));
}

function ack(conn, ackId, error) {
  if (ackId === undefined || ackId === null) return;
  const message = error ? { type: 'ack', ackId, success: false, error } : { type: 'ack', ackId, success: true };
  sendToClient(conn, message);
}

const forbidden = (message) => ({ name: 'Forbidden', message });
const badRequest = (message) => ({ name: 'BadRequest', message });

function onClientMessage(conn, hub, text) {
  let msg;
  try {
    msg = JSON.parse(text);
  } catch (e) {
    emit({ event: 'badMessage', protocol: 'default', hub, connectionId: conn.id, reason: e.message });
    return;
  }
  const { type, group, ackId } = msg;
  switch (type) {
    case 'joinGroup':
    case 'leaveGroup': {
      const ok = typeof group === 'string' && group.length > 0 && permitted(conn.claims, 'joinLeaveGroup', group);
      emit({ event: type, hub, connectionId: conn.id, group, success: ok });
      if (typeof group !== 'string' || !group) return ack(conn, ackId, badRequest('group is required'));
      if (!ok) {
        const verb = type === 'joinGroup' ? 'join' : 'leave';
        return ack(conn, ackId, forbidden(`The client does not have permission to ${verb} group '${group}'.`));
      }
      if (type === 'joinGroup') joinGroup(conn, group);
      else leaveGroup(conn, group);
      return ack(conn, ackId);
    }
    case 'sendToGroup': {
      const ok = typeof group === 'string' && group.length > 0 && permitted(conn.claims, 'sendToGroup', group);
      emit({ event: 'sendToGroup', hub, connectionId: conn.id, group, dataType: msg.dataType, data: msg.data, noEcho: !!msg.noEcho, success: ok });
      if (typeof group !== 'string' || !group) return ack(conn, ackId, badRequest('group is required'));
      if (!['json', 'text', 'binary', 'protobuf'].includes(msg.dataType)) {
        return ack(conn, ackId, badRequest(`unsupported dataType ${JSON.stringify(msg.dataType)}`));
      }
      if (!ok) return ack(conn, ackId, forbidden(`The client does not have permission to send to group '${group}'.`));
      for (const member of groups.get(group) || []) {
        if (msg.noEcho && member === conn) continue;
        sendToClient(member, {
          type: 'message', from: 'group', fromUserId: conn.userId, group, dataType: msg.dataType, data: msg.data,
        });
      }
      return ack(conn, ackId);
    }
    case 'event':
      // No upstream event handler here: accepted and logged.
      emit({ event: 'userEvent', hub, connectionId: conn.id, name: msg.event, dataType: msg.dataType, data: msg.data });
      return ack(conn, ackId);
    case 'sequenceAck':
      return undefined;
    case 'ping':
      return sendToClient(conn, { type: 'pong' });
    default:
      emit({ event: 'badMessage', protocol: 'default', hub, connectionId: conn.id, reason: `unknown type ${JSON.stringify(type)}` });
      return undefined;
  }
}

const defaultWss = new WebSocketServer({
  noServer: true,
  handleProtocols: (protocols) => {
    if (protocols.has(RELIABLE)) return RELIABLE;
    if (protocols.has(JSON_PROTOCOL)) return JSON_PROTOCOL;
    return false; // simple WebSocket client (or an unsupported subprotocol)
  },
});

function acceptDefault(ws, hub, claims) {
  const reliable = ws.protocol === RELIABLE;
  const conn = {
    ws, hub, claims, reliable, seq: 0, groups: new Set(),
    id: crypto.randomUUID(),
    userId: typeof claims.sub === 'string' ? claims.sub : null,
  };
  for (const group of asList(claims['webpubsub.group'])) joinGroup(conn, String(group));
  emit({ event: 'connected', protocol: 'default', hub, subprotocol: ws.protocol || null, connectionId: conn.id, userId: conn.userId, groups: [...conn.groups], claims });
  if (ws.protocol) {
    const connected = { type: 'system', event: 'connected', userId: conn.userId, connectionId: conn.id };
    if (reliable) connected.reconnectionToken = crypto.randomBytes(16).toString('hex');
    ws.send(JSON.stringify(connected));
  }
  ws.on('message', (data, isBinary) => {
    if (!ws.protocol) {
      emit({ event: 'userEvent', hub, connectionId: conn.id, simple: true, data: isBinary ? Buffer.from(data).toString('base64') : data.toString() });
      return;
    }
    onClientMessage(conn, hub, data.toString());
  });
  ws.on('close', () => {
    for (const group of [...conn.groups]) leaveGroup(conn, group);
    emit({ event: 'disconnected', protocol: 'default', hub, connectionId: conn.id });
  });
}

// ------------------------------------------------------------------- MQTT --
const brokers = new Map(); // hub -> aedes broker

function brokerFor(hub) {
  if (brokers.has(hub)) return brokers.get(hub);
  const claimsOf = (client) => (client && client.req && client.req.wpsClaims) || {};
  const broker = aedesFactory({
    // Topics stand for groups, as on the service: subscribing needs
    // joinLeaveGroup, publishing needs sendToGroup (for that topic).
    authorizeSubscribe: (client, sub, done) => {
      const ok = permitted(claimsOf(client), 'joinLeaveGroup', sub.topic);
      emit({ event: 'mqttSubscribe', hub, clientId: client && client.id, topic: sub.topic, success: ok });
      done(null, ok ? sub : null); // null: refused (granted 0x80)
    },
    authorizePublish: (client, packet, done) => {
      const ok = permitted(claimsOf(client), 'sendToGroup', packet.topic);
      emit({ event: 'mqttPublish', hub, clientId: client && client.id, topic: packet.topic, success: ok });
      done(ok ? null : new Error('not authorized'));
    },
  });
  broker.on('client', (client) => {
    emit({ event: 'mqttClient', hub, clientId: client.id, version: client.version, userId: claimsOf(client).sub || null });
  });
  brokers.set(hub, broker);
  return broker;
}

const mqttWss = new WebSocketServer({
  noServer: true,
  handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
});

function acceptMqtt(ws, req, hub, claims) {
  req.wpsClaims = claims;
  emit({ event: 'connected', protocol: 'mqtt', hub, subprotocol: ws.protocol || null, userId: claims.sub || null, claims });
  const stream = createWebSocketStream(ws);
  stream.on('error', () => {});
  brokerFor(hub).handle(stream, req);
}

// ---------------------------------------------------------------- upgrade --
function onUpgrade(req, socket, head) {
  const url = new URL(req.url, 'http://localhost');
  let m;
  if ((m = /^\/client\/hubs\/([^/]+)\/?$/.exec(url.pathname))) {
    const hub = decodeURIComponent(m[1]);
    let claims;
    try {
      claims = verifyClientToken(queryToken(url), `client/hubs/${hub}`);
    } catch (e) {
      emit({ event: 'refused', protocol: 'default', hub, status: 401, reason: e.message });
      return refuseUpgrade(socket, 401, 'Unauthorized');
    }
    return defaultWss.handleUpgrade(req, socket, head, (ws) => acceptDefault(ws, hub, claims));
  }
  if ((m = /^\/clients\/mqtt\/hubs\/([^/]+)\/?$/.exec(url.pathname))) {
    const hub = decodeURIComponent(m[1]);
    let claims;
    try {
      claims = verifyClientToken(queryToken(url) || bearer(req), `clients/mqtt/hubs/${hub}`);
    } catch (e) {
      emit({ event: 'refused', protocol: 'mqtt', hub, status: 401, reason: e.message });
      return refuseUpgrade(socket, 401, 'Unauthorized');
    }
    return mqttWss.handleUpgrade(req, socket, head, (ws) => acceptMqtt(ws, req, hub, claims));
  }
  if ((m = /^\/clients\/socketio\/hubs\/([^/]+)\//.exec(url.pathname)) && SOCKETIO_HUBS.includes(decodeURIComponent(m[1]))) {
    return undefined; // engine.io of that hub answers it
  }
  emit({ event: 'refused', protocol: 'unknown', path: url.pathname, status: 404, reason: 'no such endpoint' });
  return refuseUpgrade(socket, 404, 'Not Found');
}

// ------------------------------------------------------------------- REST --
function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}

const CLIENT_PATHS = { default: 'client/hubs', mqtt: 'clients/mqtt/hubs', socketio: 'clients/socketio/hubs' };

function generateToken(req, res, hub, url) {
  const pairs = [...url.searchParams.entries()];
  const query = {};
  for (const [k, v] of pairs) {
    if (!(k in query)) query[k] = v;
    else query[k] = asList(query[k]).concat(v);
  }
  const fail = (status, reason) => {
    emit({ event: 'generateToken', hub, status, reason, query, pairs });
    sendJson(res, status, { code: status === 401 ? 'Unauthorized' : 'BadRequest', message: reason });
  };
  if (req.method !== 'POST') return fail(405, `method ${req.method} not allowed`);
  const token = bearer(req);
  const decoded = token ? jwt.decode(token) : null;
  if (!decoded || typeof decoded !== 'object') return fail(401, 'Authorization: Bearer <jwt> missing or not a JWT');
  if (ENTRA_RESOURCE && !asList(decoded.aud).includes(ENTRA_RESOURCE)) {
    return fail(401, `bearer aud ${JSON.stringify(decoded.aud)} is not ${JSON.stringify(ENTRA_RESOURCE)}`);
  }
  const single = (name) => {
    const all = url.searchParams.getAll(name);
    if (all.length > 1) throw new Error(`${name} given twice`);
    return all[0];
  };
  let userId;
  let minutes;
  let clientType;
  try {
    if (!single('api-version')) throw new Error('api-version missing');
    userId = single('userId');
    const m = single('minutesToExpire');
    minutes = m === undefined ? 60 : Number(m);
    if (!Number.isInteger(minutes) || minutes < 1) throw new Error(`minutesToExpire ${JSON.stringify(m)} invalid`);
    clientType = (single('clientType') || 'Default').toLowerCase();
    if (!(clientType in CLIENT_PATHS)) throw new Error(`clientType ${JSON.stringify(single('clientType'))} unknown`);
  } catch (e) {
    return fail(400, e.message);
  }
  const roles = url.searchParams.getAll('role');
  const groupsClaim = url.searchParams.getAll('group');
  const now = nowSeconds();
  const claims = {};
  if (userId) claims.sub = userId;
  if (roles.length) claims.role = roles;
  if (groupsClaim.length) claims['webpubsub.group'] = groupsClaim;
  Object.assign(claims, { nbf: now, exp: now + minutes * 60, iat: now, aud: `${ENDPOINT}/${CLIENT_PATHS[clientType]}/${hub}` });
  const minted = jwt.sign(claims, SECRET, { algorithm: 'HS256' }); // keeps our iat
  emit({ event: 'generateToken', hub, status: 200, query, pairs, bearerAud: decoded.aud, claims });
  return sendJson(res, 200, { token: minted });
}

function onRequest(req, res) {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/api/health' && (req.method === 'GET' || req.method === 'HEAD')) {
    res.writeHead(200);
    return res.end();
  }
  const m = /^\/api\/hubs\/([^/]+)\/:generateToken$/.exec(url.pathname);
  if (m) return generateToken(req, res, decodeURIComponent(m[1]), url);
  emit({ event: 'notFound', method: req.method, path: url.pathname });
  return sendJson(res, 404, { code: 'NotFound', message: `${req.method} ${url.pathname}` });
}

// ------------------------------------------------------------------ start --
const server = http.createServer(onRequest);
server.on('upgrade', onUpgrade);

for (const hub of SOCKETIO_HUBS) {
  const io = new SocketIOServer(server, {
    path: `/clients/socketio/hubs/${hub}`,
    destroyUpgrade: false, // other paths' upgrades are onUpgrade's
    serveClient: false,
    // The service refuses a bad token at the Engine.IO handshake (before any
    // Socket.IO packet): a refused request gets no session at all.
    allowRequest: (req, callback) => {
      const token = new URL(req.url, 'http://stand-in').searchParams.get('access_token');
      try {
        verifyClientToken(token, `clients/socketio/hubs/${hub}`);
        callback(null, true);
      } catch (e) {
        emit({ event: 'refused', protocol: 'socketio', hub, status: 401, reason: e.message });
        callback(e.message, false);
      }
    },
  });
  // The token comes as the access_token query parameter of the Engine.IO
  // handshake, as the Web PubSub for Socket.IO docs have clients send it.
  io.use((socket, next) => {
    try {
      socket.data.claims = verifyClientToken(socket.handshake.query.access_token, `clients/socketio/hubs/${hub}`);
      next();
    } catch (e) {
      emit({ event: 'refused', protocol: 'socketio', hub, reason: e.message });
      const err = new Error(e.message);
      err.data = { status: 401 };
      next(err);
    }
  });
  io.on('connection', (socket) => {
    const { claims } = socket.data;
    emit({ event: 'connected', protocol: 'socketio', hub, socketId: socket.id, userId: claims.sub || null, claims });
    socket.on('echo', (...args) => {
      const cb = typeof args[args.length - 1] === 'function' ? args.pop() : null;
      emit({ event: 'echo', protocol: 'socketio', hub, socketId: socket.id, args });
      socket.emit('echo', ...args);
      if (cb) cb(...args);
    });
    socket.on('disconnect', (reason) => emit({ event: 'disconnected', protocol: 'socketio', hub, socketId: socket.id, reason }));
  });
}

server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  const { port } = server.address();
  if (!ENDPOINT) ENDPOINT = `http://127.0.0.1:${port}`;
  emit({ port });
});

const stop = () => {
  for (const broker of brokers.values()) broker.close();
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
