// A resource server that is not gatehouse: it knows only gatehouse's JWKS URL and verifies
// access tokens with `jose` (a maintained JOSE library of another ecosystem), as any service
// behind gatehouse would. Used by tests/api/resource_server.rs.
//
//   node server.mjs <jwks-url> <port> <issuer> <audience>
//
// GET /protected with `Authorization: Bearer <token>`: 200 {"sub": ...} when the token
// verifies, 401 {"error": ...} otherwise. Prints "listening" once it accepts connections.
import http from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [jwksUrl, port, issuer, audience] = process.argv.slice(2);

// jose fetches the JWKS on first use, keeps it, and fetches again when a token names a kid it
// does not hold (at most once per cooldown). The cache age follows gatehouse's max-age.
const jwks = createRemoteJWKSet(new URL(jwksUrl), { cooldownDuration: 1000, cacheMaxAge: 300_000 });

const server = http.createServer(async (req, res) => {
  const auth = req.headers.authorization ?? '';
  const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
  try {
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer,
      audience,
      typ: 'at+jwt',
      algorithms: ['EdDSA', 'ES256'],
      clockTolerance: 0,
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ sub: payload.sub, kid: protectedHeader.kid }));
  } catch (e) {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: e.code ?? String(e) }));
  }
});

server.listen(Number(port), '127.0.0.1', () => console.log('listening'));
