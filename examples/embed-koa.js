// pushlet-server as Koa middleware in an application's own Koa app, on the application's port.
//
//   node examples/embed-koa.js         # PORT=3000 by default; settings from PUSHLET_* as usual
//
// `pushlet.koa()` answers the protocol under /pushlet (every path ending in /pushlet.srv) and the
// bundled clients at /pushlet/lib/* and /pushlet/js/*; every other request goes on to the app's
// own middleware. Put it before any body parser: the protocol reads its own request bodies.
'use strict';
const Koa = require('koa');
const { createServer } = require('pushlet-server');

const pushlet = createServer();
const app = new Koa();

app.use(pushlet.koa({ path: '/pushlet' }));
app.use(async (ctx) => {
  if (ctx.path === '/hello') {
    const receivers = await pushlet.publish('/news', { msg: String(ctx.query.msg || 'hello') });
    ctx.body = `published to ${receivers} sessions\n`;
    return;
  }
  ctx.body = 'the application\'s own page\n';
});

async function main() {
  await pushlet.start();
  const server = app.listen(Number(process.env.PORT || 3000), process.env.HOST || '127.0.0.1', () => {
    const { address, port } = server.address();
    pushlet.log.info(`application on http://${address}:${port}/, the Pushlet protocol at http://${address}:${port}/pushlet/pushlet.srv`);
  });
  const stop = () => pushlet.close().then(() => server.close(() => process.exit(0)));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err) => {
  console.error(`embed-koa: ${err.message}`);
  process.exit(1);
});
