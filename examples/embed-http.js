// pushlet-server inside an application's own Node http server, on the application's port
// (as Socket.IO's `attach`). An Express app is the same: `http.createServer(expressApp)`.
//
//   node examples/embed-http.js        # PORT=3000 by default; settings from PUSHLET_* as usual
//
// The application keeps every path but these: the protocol at /pushlet/.../pushlet.srv and the
// bundled clients at /pushlet/lib/* (and /pushlet/js/*). Its own code publishes with
// pushlet.publish(); here GET /hello?msg=... does.
'use strict';
const http = require('node:http');
const { createServer } = require('pushlet-server');

const pushlet = createServer();

const app = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://app');
  if (url.pathname === '/hello') {
    pushlet.publish('/news', { msg: url.searchParams.get('msg') || 'hello' }).then(
      (receivers) => res.end(`published to ${receivers} sessions\n`),
      () => res.writeHead(503).end('not published\n'),
    );
    return;
  }
  res.end('the application\'s own page\n');
});

async function main() {
  await pushlet.attach(app, { path: '/pushlet' });
  app.listen(Number(process.env.PORT || 3000), process.env.HOST || '127.0.0.1', () => {
    const { address, port } = app.address();
    pushlet.log.info(`application on http://${address}:${port}/, the Pushlet protocol at http://${address}:${port}/pushlet/pushlet.srv`);
  });
  const stop = () => pushlet.close().then(() => app.close(() => process.exit(0)));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err) => {
  console.error(`embed-http: ${err.message}`);
  process.exit(1);
});
