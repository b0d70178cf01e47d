// The official @azure/web-pubsub SDK as an oracle for our negotiate function:
// prints what WebPubSubServiceClient.getClientAccessToken gives for a
// connection string, plus the JWT's header and payload with their keys in the
// order they were serialised (lists of [key, value] pairs).
//
// Usage: node wps-oracle.js '<connection string>' <hub> <default|mqtt|socketio>
//          [userId] [roles comma list] [groups comma list] [minutesToExpire]
// Empty arguments ('') mean "not given".
'use strict';

const { WebPubSubServiceClient } = require('@azure/web-pubsub');

// Parses a JSON object's text into [[key, value], ...] in source order (the
// values through JSON.parse). Only the top level needs the order.
function orderedPairs(text) {
  const pairs = [];
  let i = 0;
  const ws = () => { while (/\s/.test(text[i])) i += 1; };
  const expect = (c) => {
    ws();
    if (text[i] !== c) throw new Error(`expected ${c} at ${i}`);
    i += 1;
  };
  // Returns the end of the JSON value starting at i (strings, nesting).
  const skipValue = () => {
    ws();
    const start = i;
    let depth = 0;
    for (; i < text.length; i += 1) {
      const c = text[i];
      if (c === '"') {
        for (i += 1; text[i] !== '"'; i += 1) if (text[i] === '\\') i += 1;
        if (depth === 0) { i += 1; break; }
      } else if (c === '{' || c === '[') depth += 1;
      else if (c === '}' || c === ']') {
        if (depth === 0) break;
        depth -= 1;
        if (depth === 0) { i += 1; break; }
      } else if (c === ',' && depth === 0) break;
    }
    return JSON.parse(text.slice(start, i));
  };
  expect('{');
  ws();
  if (text[i] === '}') return pairs;
  for (;;) {
    ws();
    const key = skipValue();
    expect(':');
    pairs.push([key, skipValue()]);
    ws();
    if (text[i] === ',') { i += 1; continue; }
    expect('}');
    return pairs;
  }
}

const decodePart = (part) => Buffer.from(part, 'base64url').toString('utf8');

async function main() {
  const [connStr, hub, protocol = 'default', userId, roles, groups, minutes] = process.argv.slice(2);
  if (!connStr || !hub) {
    console.error('usage: node wps-oracle.js <connection string> <hub> <default|mqtt|socketio> [userId] [roles] [groups] [minutesToExpire]');
    process.exit(2);
  }
  const list = (s) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : undefined);
  const options = {};
  if (userId) options.userId = userId;
  if (list(roles)) options.roles = list(roles);
  if (list(groups)) options.groups = list(groups);
  if (minutes) options.expirationTimeInMinutes = Number(minutes);
  if (protocol !== 'default') options.clientProtocol = protocol;
  const client = new WebPubSubServiceClient(connStr, hub);
  const result = await client.getClientAccessToken(options);
  const [h, p] = result.token.split('.');
  const headerText = decodePart(h);
  const payloadText = decodePart(p);
  process.stdout.write(`${JSON.stringify({
    options,
    result,
    header: orderedPairs(headerText),
    payload: orderedPairs(payloadText),
    headerText,
    payloadText,
  })}\n`);
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ error: e.message })}\n`);
  process.exit(1);
});
