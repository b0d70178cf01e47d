// Runs the official SignalR JS client (@microsoft/signalr) against our
// negotiate function: it POSTs ${NEGOTIATE_BASE}/negotiate, follows the
// {url, accessToken} redirect to the service, opens the WebSocket, and calls
// the hub method "echo". Prints "interop ok" and exits 0 on success; prints
// the error and exits 1 on any failure or after TIMEOUT_MS.
//
// Env: NEGOTIATE_BASE (e.g. http://127.0.0.1:7071/api/chat, required),
//      NEGOTIATE_QUERY (optional, appended to it, e.g. ?diagnostic=true),
//      ACCESS_TOKEN (optional caller token for the function),
//      FRESH_ACCESS_TOKEN (optional: the caller's token once the service has
//        closed the connection because ACCESS_TOKEN's login ended),
//      EXPECT_DETAILED_ERRORS (1: the hub method "fail" must report the
//        server's exception, as with detailed errors on),
//      EXPECT_CLOSE_ON_AUTH_EXPIRATION (1: after the echo, wait until the
//        service closes the connection when the login ends, reconnect with
//        FRESH_ACCESS_TOKEN and echo again),
//      TIMEOUT_MS (default 15000).
'use strict';

const signalR = require('@microsoft/signalr');

const base = process.env.NEGOTIATE_BASE;
const query = process.env.NEGOTIATE_QUERY || '';
const accessToken = process.env.ACCESS_TOKEN;
const freshAccessToken = process.env.FRESH_ACCESS_TOKEN;
const expectDetailedErrors = process.env.EXPECT_DETAILED_ERRORS === '1';
const expectCloseOnAuthExpiration = process.env.EXPECT_CLOSE_ON_AUTH_EXPIRATION === '1';
const timeoutMs = Number(process.env.TIMEOUT_MS || 15000);

function fail(err) {
  console.error(`interop failed: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
}

async function main() {
  if (!base) throw new Error('NEGOTIATE_BASE is required');
  const options = { transport: signalR.HttpTransportType.WebSockets };
  // The login the caller has: the first token until the service ends its connection.
  let loginEnded = false;
  if (accessToken) options.accessTokenFactory = () => (loginEnded && freshAccessToken) || accessToken;
  let builder = new signalR.HubConnectionBuilder()
    .withUrl(base + query, options)
    .configureLogging(signalR.LogLevel.Warning);
  if (expectCloseOnAuthExpiration) builder = builder.withAutomaticReconnect([0, 1000, 2000]);
  const connection = builder.build();
  const closed = new Promise((resolve) => connection.onreconnecting((error) => {
    loginEnded = true;
    resolve(error);
  }));
  const reconnected = new Promise((resolve) => connection.onreconnected(resolve));

  await connection.start();
  if (connection.state !== signalR.HubConnectionState.Connected) {
    throw new Error(`state after start() is ${connection.state}, not Connected`);
  }
  const echo = async () => {
    const reply = await connection.invoke('echo', 'ping');
    if (reply !== 'ping') throw new Error(`echo returned ${JSON.stringify(reply)}, not "ping"`);
  };
  await echo();
  if (expectDetailedErrors) {
    const failure = await connection.invoke('fail').then(() => null, (e) => String(e && e.message));
    if (!failure || !failure.includes('InvalidOperationException: the stand-in failed on purpose.')) {
      throw new Error(`"fail" did not report the server's exception: ${failure}`);
    }
    console.log('detailed error received');
  }
  if (expectCloseOnAuthExpiration) {
    const why = await closed;
    console.log(`closed by the service: ${why && why.message}`);
    if (!why || !/authentication expired/.test(why.message)) throw new Error(`closed for another reason: ${why}`);
    await reconnected;
    await echo();
    console.log('reconnected with a fresh login');
  }
  await connection.stop();
  console.log('interop ok');
  // Exit explicitly: keep-alive sockets of the client's fetch can hold the
  // event loop open for a while after stop().
  process.exit(0);
}

setTimeout(() => fail(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
main().catch(fail);
