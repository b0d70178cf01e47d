// Runs the official SignalR JS client (@microsoft/signalr) against our
// negotiate function: it POSTs ${NEGOTIATE_BASE}/negotiate, follows the
// {url, accessToken} redirect to the service, opens the WebSocket, and calls
// the hub method "echo". Prints "interop ok" and exits 0 on success; prints
// the error and exits 1 on any failure or after TIMEOUT_MS.
//
// Env: NEGOTIATE_BASE (e.g. http://127.0.0.1:7071/api/chat, required),
//      ACCESS_TOKEN (optional caller token for the function),
//      TIMEOUT_MS (default 15000).
'use strict';

const signalR = require('@microsoft/signalr');

const base = process.env.NEGOTIATE_BASE;
const accessToken = process.env.ACCESS_TOKEN;
const timeoutMs = Number(process.env.TIMEOUT_MS || 15000);

function fail(err) {
  console.error(`interop failed: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
}

async function main() {
  if (!base) throw new Error('NEGOTIATE_BASE is required');
  const options = { transport: signalR.HttpTransportType.WebSockets };
  if (accessToken) options.accessTokenFactory = () => accessToken;
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(base, options)
    .configureLogging(signalR.LogLevel.Warning)
    .build();

  await connection.start();
  if (connection.state !== signalR.HubConnectionState.Connected) {
    throw new Error(`state after start() is ${connection.state}, not Connected`);
  }
  const reply = await connection.invoke('echo', 'ping');
  if (reply !== 'ping') throw new Error(`echo returned ${JSON.stringify(reply)}, not "ping"`);
  await connection.stop();
  console.log('interop ok');
  // Exit explicitly: keep-alive sockets of the client's fetch can hold the
  // event loop open for a while after stop().
  process.exit(0);
}

setTimeout(() => fail(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
main().catch(fail);
