// Stand-in for the Azure SignalR Service, on loopback, for the interop test.
// It checks the access token our negotiate function issued the way the real
// service does (HS256 over the UTF-8 bytes of the key, aud without port or
// path, iss azure-signalr, times), answers the client negotiate, accepts the
// WebSocket and speaks just enough of the JSON hub protocol: the handshake,
// pings, and an "echo" for any invocation.
//
// For Microsoft Entra ID it also plays the App Service managed-identity
// endpoint (GET /msi/token) and the two service REST APIs a function using
// Entra ID calls with the token it got there: POST
// /api/hubs/{hub}/:generateToken (a client token signed with ACCESS_KEY) and
// GET /api/v1/auth/accessKey (a temporary key; tokens signed with it carry its
// KeyId as `kid`).
//
// Env: ACCESS_KEY (required), PORT (default 0 = any free port),
//      IDENTITY_HEADER (the secret /msi/token requires in x-identity-header;
//      unset: /msi/token answers 500),
//      ENTRA_RESOURCE (the resource /msi/token accepts, the scope without
//      /.default; default https://signalr.azure.com, the public cloud's),
//      AUDIENCE_BASE (scheme://host of the instance's own Endpoint, which the
//      audience must name, as a real instance reached through a ServerEndpoint
//      or ClientEndpoint checks its own name; default http://{Host header}).
// The SDK's connection claims (asrs.s.*) are checked as the service reads
// them and applied: the transports negotiate offers and the WebSocket needs
// (htt), the handshake timeout (cht), detailed hub errors (derror), a
// diagnostic client (dc), and closing the connection when the caller's login
// ends (coae + aeo, with a close message that lets the client reconnect).
//
// Stdout: one line {"port": <n>} once listening. Stderr: "claims {...}" per
// verified token, "identity request" / "generateToken request" /
// "accessKey request" per REST request, "diagnostic client" per such
// connection, "closed on auth expiration" when it closes one, and the reason
// of every rejection.
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
const IDENTITY_HEADER = process.env.IDENTITY_HEADER;
const ENTRA_RESOURCE = process.env.ENTRA_RESOURCE || 'https://signalr.azure.com';
const AUDIENCE_BASE = process.env.AUDIENCE_BASE;
const SKEW = 5; // seconds
const RS = '\x1e'; // SignalR record separator

// connectionToken -> { hub, requestId } for every negotiate we answered
const issued = new Map();
// Entra access_token issued by /msi/token -> its expiry (unix seconds)
const entraTokens = new Map();
// KeyId -> AccessKey for every temporary key /api/v1/auth/accessKey issued
const temporaryKeys = new Map();

const nowSeconds = () => Math.floor(Date.now() / 1000);
const hostnameOf = (host) => new URL(`http://${host || 'missing-host'}`).hostname;

// The key a service token must be signed with: the temporary key named by
// the header's `kid`, else ACCESS_KEY. Both as written (UTF-8 bytes).
function signingKey(token) {
  const decoded = jwt.decode(token, { complete: true });
  // Not a JWT: jwt.verify below says why, as before.
  if (!decoded || !('kid' in decoded.header)) return SECRET;
  const kid = decoded.header.kid;
  if (typeof kid !== 'string' || !temporaryKeys.has(kid)) {
    throw new Error(`token rejected: unknown kid ${JSON.stringify(kid)}`);
  }
  return Buffer.from(temporaryKeys.get(kid), 'utf8');
}

// scheme://host the audience of a token for this instance names.
const audienceBase = (host) => AUDIENCE_BASE || `http://${hostnameOf(host)}`;

// Verifies a service access token for `hub` as seen on a request to `host`.
// Returns the claims or throws an Error whose message is the reason.
function verifyToken(token, host, hub) {
  if (!token) throw new Error('no access token');
  const audience = `${audienceBase(host)}/client/?hub=${hub}`;
  const key = signingKey(token);
  let claims;
  try {
    claims = jwt.verify(token, key, {
      algorithms: ['HS256'],
      audience,
      issuer: 'azure-signalr',
      clockTolerance: SKEW,
    });
  } catch (e) {
    const got = e.message.includes('audience') ? `, token has ${JSON.stringify((jwt.decode(token) || {}).aud)}` : '';
    throw new Error(`token rejected: ${e.message}${got}`);
  }
  const now = nowSeconds();
  for (const name of ['exp', 'iat', 'nbf']) {
    if (!Number.isInteger(claims[name])) throw new Error(`claim ${name} missing or not whole seconds`);
  }
  if (claims.exp <= now) throw new Error('token expired');
  if (claims.iat > now + SKEW) throw new Error('iat is in the future');
  if (claims.nbf > now + SKEW) throw new Error('nbf is in the future');
  console.error(`claims ${JSON.stringify(claims)}`);
  claims.options = connectionOptions(claims);
  return claims;
}

// HttpTransportType flags (ASP.NET Core) and the names negotiate offers.
const TRANSPORTS = [[1, 'WebSockets'], [2, 'ServerSentEvents'], [4, 'LongPolling']];

// The SDK's connection claims of a verified token, each a string as the SDK
// writes it (Claim values are strings), in the SDK's ranges. Throws with the
// reason on anything the SDK would not send.
function connectionOptions(claims) {
  const get = (name) => {
    if (!(name in claims)) return undefined;
    if (typeof claims[name] !== 'string') {
      throw new Error(`claim ${name} is not a string: ${JSON.stringify(claims[name])}`);
    }
    return claims[name];
  };
  const whole = (name, min, max) => {
    const value = get(name);
    if (value === undefined) return undefined;
    if (!/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new Error(`claim ${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
    }
    return Number(value);
  };
  const boolean = (name) => {
    const value = get(name);
    if (value === undefined) return false;
    if (!/^(true|false)$/i.test(value)) {
      throw new Error(`claim ${name} must be true or false, got ${JSON.stringify(value)}`);
    }
    return value.toLowerCase() === 'true';
  };
  const options = {
    detailedErrors: boolean('asrs.s.derror'),
    handshakeTimeout: whole('asrs.s.cht', 1, 30) ?? 15,
    maxPollInterval: whole('asrs.s.ttl', 1, 300),
    transports: whole('asrs.s.htt', 1, 7) ?? 7,
    endpoints: whole('asrs.s.secn', 2, 1000),
    diagnostic: boolean('asrs.s.dc'),
    closeAt: undefined,
  };
  if (boolean('asrs.s.coae')) {
    const closeAt = whole('asrs.s.aeo', 0, Number.MAX_SAFE_INTEGER);
    if (closeAt === undefined) throw new Error('claim asrs.s.coae without asrs.s.aeo');
    if (claims.exp > closeAt) {
      throw new Error(`the token (exp ${claims.exp}) outlives the login (asrs.s.aeo ${closeAt})`);
    }
    options.closeAt = closeAt;
  }
  return options;
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

// An error answered with its own status.
class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// The one value of query parameter `name`, or null; 400 if given twice.
function single(q, name) {
  if (q.getAll(name).length > 1) throw new HttpError(400, `${name} query parameter given twice`);
  return q.get(name);
}

// Runs `handle` for a REST request: logs "<what> request", answers 200 with
// its result, or the HttpError's status (logged with its reason).
function rest(what, req, res, method, handle) {
  console.error(`${what} request`);
  try {
    if (req.method !== method) throw new HttpError(405, `method ${req.method} not allowed, use ${method}`);
    sendJson(res, 200, handle());
  } catch (e) {
    const status = e.status || 500;
    console.error(`${what} ${status}: ${e.message}`);
    sendJson(res, status, { error: e.message });
  }
}

// The Entra access token of a REST API request, which must be one /msi/token
// issued and that has not expired; 401 otherwise.
function requireEntraToken(req) {
  const token = bearer(req);
  if (!token) throw new HttpError(401, 'no Authorization: Bearer header');
  const expires = entraTokens.get(token);
  if (expires === undefined) throw new HttpError(401, 'bearer token was not issued by /msi/token');
  if (expires <= nowSeconds()) throw new HttpError(401, 'bearer token expired');
  return token;
}

// App Service managed identity, REST protocol 2019-08-01.
function identityToken(req, q) {
  if (!IDENTITY_HEADER) throw new HttpError(500, 'IDENTITY_HEADER is not set in the environment of service.js');
  const apiVersion = single(q, 'api-version');
  if (apiVersion !== '2019-08-01') {
    throw new HttpError(400, `api-version must be 2019-08-01, got ${JSON.stringify(apiVersion)}`);
  }
  const resource = single(q, 'resource');
  if (resource !== ENTRA_RESOURCE) {
    throw new HttpError(400, `resource must be ${ENTRA_RESOURCE}, got ${JSON.stringify(resource)}`);
  }
  const secret = req.headers['x-identity-header'];
  if (secret === undefined) throw new HttpError(400, 'x-identity-header header missing');
  if (secret !== IDENTITY_HEADER) throw new HttpError(400, 'x-identity-header does not match IDENTITY_HEADER');
  const clientId = single(q, 'client_id');
  if (clientId !== null) console.error(`identity for client_id ${clientId}`);
  const accessToken = crypto.randomBytes(32).toString('base64url');
  const expiresOn = nowSeconds() + 3600;
  entraTokens.set(accessToken, expiresOn);
  return { access_token: accessToken, expires_on: String(expiresOn), token_type: 'Bearer', resource: ENTRA_RESOURCE };
}

// POST /api/hubs/{hub}/:generateToken: a client token signed with ACCESS_KEY.
function generateToken(req, q, hub) {
  requireEntraToken(req);
  const apiVersion = single(q, 'api-version');
  if (apiVersion !== '2022-11-01') {
    throw new HttpError(400, `api-version must be 2022-11-01, got ${JSON.stringify(apiVersion)}`);
  }
  const minutes = single(q, 'minutesToExpire');
  if (minutes === null) throw new HttpError(400, 'minutesToExpire query parameter missing');
  if (!/^[0-9]+$/.test(minutes) || Number(minutes) < 1) {
    throw new HttpError(400, `minutesToExpire must be an integer >= 1, got ${JSON.stringify(minutes)}`);
  }
  if (!hub) throw new HttpError(400, 'hub missing in the path');
  if (hub !== hub.toLowerCase()) throw new HttpError(400, `hub "${hub}" is not lower-case`);
  const userId = single(q, 'userId');
  if (userId === '') throw new HttpError(400, 'userId is empty; leave it out when there is no user');
  const now = nowSeconds();
  const claims = {
    aud: `${audienceBase(req.headers.host)}/client/?hub=${hub}`,
    iat: now,
    nbf: now,
    exp: now + Number(minutes) * 60,
    iss: 'azure-signalr',
  };
  if (userId !== null) {
    claims['asrs.s.uid'] = userId;
    claims.nameid = userId;
  }
  console.error(`generateToken claims ${JSON.stringify(claims)}`);
  return { token: jwt.sign(claims, SECRET, { algorithm: 'HS256' }) }; // keeps our iat
}

// GET /api/v1/auth/accessKey: a temporary key for Entra "access-key" mode.
function temporaryAccessKey(req) {
  requireEntraToken(req);
  const keyId = crypto.randomUUID();
  const accessKey = crypto.randomBytes(32).toString('base64'); // 44 characters
  temporaryKeys.set(keyId, accessKey);
  console.error(`accessKey issued KeyId ${keyId}`);
  return { KeyId: keyId, AccessKey: accessKey };
}

const GENERATE_TOKEN = /^\/api\/hubs\/([^/]*)\/(?::|%3[aA])generateToken$/;

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  req.resume(); // body is not needed
  if (url.pathname === '/msi/token') {
    return rest('identity', req, res, 'GET', () => identityToken(req, url.searchParams));
  }
  if (url.pathname === '/api/health') {
    // The health probe of a function with several endpoints (HEAD, no auth).
    res.writeHead(200);
    return res.end();
  }
  const gt = GENERATE_TOKEN.exec(url.pathname);
  if (gt) {
    return rest('generateToken', req, res, 'POST', () => {
      let hub;
      try {
        hub = decodeURIComponent(gt[1]);
      } catch {
        throw new HttpError(400, `hub ${gt[1]} is not valid percent-encoding`);
      }
      return generateToken(req, url.searchParams, hub);
    });
  }
  if (url.pathname === '/api/v1/auth/accessKey') {
    return rest('accessKey', req, res, 'GET', () => temporaryAccessKey(req));
  }
  if (url.pathname !== '/client/negotiate') return sendJson(res, 404, { error: `no route ${url.pathname}` });
  if (req.method !== 'POST') return sendJson(res, 405, { error: `method ${req.method} not allowed` });
  try {
    const nv = url.searchParams.get('negotiateVersion');
    if (nv !== null && nv !== '1') throw new Error(`unsupported negotiateVersion ${nv}`);
    const hub = checkQuery(url.searchParams);
    const token = bearer(req);
    if (!token) throw new Error('no Authorization: Bearer header');
    const { options } = verifyToken(token, req.headers.host, hub);
    const connectionId = crypto.randomBytes(16).toString('base64url');
    const connectionToken = crypto.randomBytes(16).toString('base64url');
    issued.set(connectionToken, { hub, requestId: url.searchParams.get('asrs_request_id') });
    // The transports the token allows; this stand-in speaks WebSockets only.
    const offered = TRANSPORTS.filter(([flag]) => options.transports & flag).map(([, name]) => name);
    if (!offered.includes('WebSockets')) {
      throw new Error(`the token allows no WebSockets (asrs.s.htt ${options.transports})`);
    }
    sendJson(res, 200, {
      negotiateVersion: 1,
      connectionId,
      connectionToken,
      availableTransports: [{ transport: 'WebSockets', transferFormats: ['Text', 'Binary'] }],
    });
  } catch (e) {
    console.error(`negotiate 401: ${e.message}`);
    // As the service (ASP.NET Core's JwtBearer) refuses a token: a challenge naming the reason,
    // and no body.
    const reason = e.message.replace(/["\\\r\n]/g, ' ');
    res.writeHead(401, { 'www-authenticate': `Bearer error="invalid_token", error_description="${reason}"` });
    res.end();
  }
});

const wss = new WebSocketServer({ noServer: true });

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'http://localhost');
  let options;
  try {
    if (url.pathname !== '/client/') throw new Error(`no WebSocket route ${url.pathname}`);
    const hub = checkQuery(url.searchParams);
    // Browsers can only send the token as ?access_token=; the Node client
    // sends it as an Authorization header instead. Accept either.
    ({ options } = verifyToken(bearer(req) || url.searchParams.get('access_token'), req.headers.host, hub));
    if (!(options.transports & 1)) {
      throw new Error(`the token does not allow WebSockets (asrs.s.htt ${options.transports})`);
    }
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
  wss.handleUpgrade(req, socket, head, (ws) => hubConnection(ws, options));
});

// The JSON hub protocol, version 1: handshake, then ping / invocation / close;
// with the connection options of the token.
function hubConnection(ws, options) {
  let buffer = '';
  let handshaken = false;
  const send = (msg) => ws.send(JSON.stringify(msg) + RS);
  const timers = [];
  ws.on('close', () => timers.forEach(clearTimeout));
  if (options.diagnostic) console.error('diagnostic client');
  timers.push(setTimeout(() => {
    if (handshaken) return;
    console.error(`handshake timed out after ${options.handshakeTimeout} s`);
    ws.close();
  }, options.handshakeTimeout * 1000));
  if (options.closeAt !== undefined) {
    // As the service does when the login ends: close, and let the client reconnect.
    timers.push(setTimeout(() => {
      console.error('closed on auth expiration');
      send({ type: 7, error: 'Connection closed because the authentication expired.', allowReconnect: true });
      ws.close();
    }, Math.max(0, options.closeAt * 1000 - Date.now())));
  }
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
      else if (msg.type === 1 && msg.invocationId && msg.target === 'fail') {
        // An exception in a hub method, reported as ASP.NET Core SignalR does:
        // its type and message only with detailed errors.
        const error = `An unexpected error occurred invoking 'fail' on the server.` +
          (options.detailedErrors ? ' InvalidOperationException: the stand-in failed on purpose.' : '');
        send({ type: 3, invocationId: msg.invocationId, error });
      } else if (msg.type === 1 && msg.invocationId) {
        send({ type: 3, invocationId: msg.invocationId, result: (msg.arguments || [])[0] });
      } else if (msg.type === 7) ws.close();
    }
  });
}

server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(`{"port": ${server.address().port}}`);
});
