// Preloaded into the Portkey gateway (node --require) by bench/run-proxy.sh: its server calls
// listen(port, undefined), which would bind every interface. This makes every listen on a port bind
// 127.0.0.1 instead, so the benchmark stays on loopback. Nothing else is changed.
'use strict';
const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    if (args.length < 2 || typeof args[1] !== 'string') {
      args.splice(1, args.length >= 2 && args[1] === undefined ? 1 : 0, '127.0.0.1');
    } else {
      args[1] = '127.0.0.1';
    }
  } else if (args[0] && typeof args[0] === 'object' && !Array.isArray(args[0]) && 'port' in args[0]) {
    args[0] = { ...args[0], host: '127.0.0.1' };
  }
  return listen.apply(this, args);
};
