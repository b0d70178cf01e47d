// Stand-in for the Azure SignalR Service, on loopback, for the interop test.
// It checks the access token our negotiate function issued the way the real
// service does (HS256 over the UTF-8 bytes of ACCESS_KEY, aud without port or
// path, iss azure-signalr, times), answers the client negotiate, accepts the
// WebSocket and speaks just enough of the JSON hub protocol: the handshake,
// pings, and an "echo" for any invocation.
//
// Env: ACCESS_KEY (required), PORT (default 0 = any free port).
// Stdout: one line {"port": <n>} once listening. Stderr: "claims {...}" per
// verified token, and the reason of every rejection.
'use strict';

const http = require('http');
const crypto = require('crypto');
const jwt = require('jsonwebtoken');
const { WebSocketServer } = require('ws');

const ACCESS_KEY = process.env.ACCESS_KEY;
if (!ACCESS_KEY) {
  console.error('ACCESS_KEY is required');
  process.exit(2);
}
const SECRET = Buffer.from(ACCESS_KEY, 'utf8'); // as written, not base64-decoded
const SKEW = 5; // seconds
const RS = '\x1e'; // SignalR record separator

// connectionToken -> { hub, requestId } for every negotiate we answered
const issued = new Map();

// Verifies a service access token for `hub` as seen on a request to `host`.
// Returns the claims or throws an Error whose message is the reason.
function verifyToken(token, host, hub) {
  if (!token) throw new Error('no access token');
  const hostname = new URL(`http://${host || 'missing-host'}`).hostname;
  const audience = `http://${hostname}/client/?hub=${hub}`;
  let claims;
  try {
    claims = jwt.verify(token, SECRET, {
      algorithms: ['HS256'],
      audience,
      issuer: 'azure-signalr',
      clockTolerance: SKEW,
    });
  } catch (e) {
    const got = e.message.includes('audience') ? `, token has ${JSON.stringify((jwt.decode(token) || {}).aud)}` : '';
    throw new Error(`token rejected: ${e.message}${got}`);
  }
  const now = Math.floor(Date.now() / 1000);
  for (const name of ['exp', 'iat', 'nbf']) {
    if (!Number.isInteger(claims[name])) throw new Error(`claim ${name} missing or not whole seconds`);
  }
  if (claims.exp <= now) throw new Error('token expired');
  if (claims.iat > now + SKEW) throw new Error('iat is in the future');
  if (claims.nbf > now + SKEW) throw new Error('nbf is in the future');
  console.error(`claims ${JSON.stringify(claims)}`);
  return claims;
}

// Checks the query shared by negotiate and connect; returns the hub.
function checkQuery(q) {
  const hub = q.get('hub');
  if (!hub) throw new Error('hub query parameter missing');
  if (q.getAll('hub').length > 1) throw new Error('hub query parameter given twice');
  if (hub !== hub.toLowerCase()) throw new Error(`hub "${hub}" is not lower-case`);
  if (!q.get('asrs_request_id')) throw new Error('asrs_request_id query parameter missing or empty');
  return hub;
}

function bearer(req) {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization || '');
  return m ? m[1] : null;
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  req.resume(); // body is not needed
  if (url.pathname !== '/client/negotiate') return sendJson(res, 404, { error: `no route ${url.pathname}` });
  if (req.method !== 'POST') return sendJson(res, 405, { error: `method ${req.method} not allowed` });
  try {
    const nv = url.searchParams.get('negotiateVersion');
    if (nv !== null && nv !== '1') throw new Error(`unsupported negotiateVersion ${nv}`);
    const hub = checkQuery(url.searchParams);
    const token = bearer(req);
    if (!token) throw new Error('no Authorization: Bearer header');
    verifyToken(token, req.headers.host, hub);
    const connectionId = crypto.randomBytes(16).toString('base64url');
    const connectionToken = crypto.randomBytes(16).toString('base64url');
    issued.set(connectionToken, { hub, requestId: url.searchParams.get('asrs_request_id') });
    sendJson(res, 200, {
      negotiateVersion: 1,
      connectionId,
      connectionToken,
      availableTransports: [{ transport: 'WebSockets', transferFormats: ['Text', 'Binary'] }],
    });
  } catch (e) {
    console.error(`negotiate 401: ${e.message}`);
    sendJson(res, 401, { error: e.message });
  }
});

const wss = new WebSocketServer({ noServer: true });

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'http://localhost');
  try {
    if (url.pathname !== '/client/') throw new Error(`no WebSocket route ${url.pathname}`);
    const hub = checkQuery(url.searchParams);
    // Browsers can only send the token as ?access_token=; the Node client
    // sends it as an Authorization header instead. Accept either.
    verifyToken(bearer(req) || url.searchParams.get('access_token'), req.headers.host, hub);
    const conn = issued.get(url.searchParams.get('id'));
    if (!conn) throw new Error('id is not a connectionToken this service issued');
    if (conn.hub !== hub) throw new Error(`connectionToken was issued for hub ${conn.hub}, not ${hub}`);
    if (conn.requestId !== url.searchParams.get('asrs_request_id')) {
      throw new Error('asrs_request_id differs from the one used to negotiate');
    }
    issued.delete(url.searchParams.get('id')); // one connection per token
  } catch (e) {
    console.error(`connect 401: ${e.message}`);
    const body = JSON.stringify({ error: e.message });
    socket.end(`HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => hubConnection(ws));
});

// The JSON hub protocol, version 1: handshake, then ping / invocation / close.
function hubConnection(ws) {
  let buffer = '';
  let handshaken = false;
  const send = (msg) => ws.send(JSON.stringify(msg) + RS);
  ws.on('message', (data) => {
    buffer += data.toString('utf8');
    let end;
    while ((end = buffer.indexOf(RS)) >= 0) {
      const text = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      let msg;
      try {
        msg = JSON.parse(text);
      } catch {
        console.error(`bad frame: ${text}`);
        return ws.close(1002);
      }
      if (!handshaken) {
        if (msg.protocol !== 'json' || msg.version !== 1) {
          send({ error: `unsupported protocol ${msg.protocol} v${msg.version}` });
          return ws.close();
        }
        handshaken = true;
        send({});
        continue;
      }
      if (msg.type === 6) send({ type: 6 });
      else if (msg.type === 1 && msg.invocationId) {
        send({ type: 3, invocationId: msg.invocationId, result: (msg.arguments || [])[0] });
      } else if (msg.type === 7) ws.close();
    }
  });
}

server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(`{"port": ${server.address().port}}`);
});
