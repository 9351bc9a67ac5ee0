// The reference Bluesky network (PLC, PDS, AppView with its dataplane, bsync, Ozone) from
// @atproto/dev-env, on loopback only, for ./dev integration bluesky.
//
//   node network.mjs NPM_DIR HANDLE...
// NPM_DIR is the folder where package.json beside this file was installed (the cache); the
// environment has DB_POSTGRES_URL, DB_POSTGRES_SCHEMA and REDIS_HOST.
//
// Every port is chosen when it starts (dev-env's getPort, none fixed). When the network is up
// and each HANDLE (name.test) has an account and an app password, it prints one JSON line:
//   {"ready": true, "pds": URL, "appview": URL, "plc": URL, "accounts": [{handle, did,
//    password, app_password}]}
// and then only logs to stderr. It stops cleanly on SIGTERM or SIGINT, and when its standard
// input closes (the process that started it is gone), so it never outlives its driver.
import dns from 'node:dns'
import { createRequire } from 'node:module'
import net from 'node:net'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const LOOPBACK = '127.0.0.1'
const ANY_HOST = new Set([undefined, null, '', '0.0.0.0', '::'])

// dev-env's servers listen without a host (every interface); keep them on loopback.
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  const [first, second] = args
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    if (typeof second !== 'string') args.splice(1, 0, LOOPBACK)
    else if (ANY_HOST.has(second)) args[1] = LOOPBACK
  } else if (first && typeof first === 'object' && 'port' in first && ANY_HOST.has(first.host)) {
    args[0] = { ...first, host: LOOPBACK }
  }
  return listen.apply(this, args)
}
// the services call each other at http://localhost:PORT: reach them on 127.0.0.1 first
dns.setDefaultResultOrder('ipv4first')

// standard output carries the ready line only: the services' logs (LOG_ENABLED=true) go to stderr
process.env.LOG_DESTINATION ??= '/dev/stderr'

const log = (...parts) => process.stderr.write(`network: ${parts.join(' ')}\n`)

async function xrpc(base, method, body, token) {
  const headers = { 'content-type': 'application/json' }
  if (token) headers.authorization = `Bearer ${token}`
  const res = await fetch(`${base}/xrpc/${method}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  })
  const data = await res.json().catch(() => ({}))
  if (!res.ok) throw new Error(`${method}: ${res.status} ${JSON.stringify(data)}`)
  return data
}

async function createAccount(pdsUrl, handle) {
  const name = handle.split('.')[0]
  const password = `${name}-password`
  const session = await xrpc(pdsUrl, 'com.atproto.server.createAccount', {
    handle,
    email: `${name}@example.com`,
    password,
  })
  const app = await xrpc(
    pdsUrl,
    'com.atproto.server.createAppPassword',
    { name: 'qasession' },
    session.accessJwt,
  )
  return { handle: session.handle, did: session.did, password, app_password: app.password }
}

async function main() {
  const [npmDir, ...handles] = process.argv.slice(2)
  // installed in the cache, not beside this file: resolve it from there
  const from = createRequire(path.join(path.resolve(npmDir), 'package.json'))
  const { TestNetwork } = await import(pathToFileURL(from.resolve('@atproto/dev-env')).href)
  const started = Date.now()
  const network = await TestNetwork.create({})
  log(`up in ${((Date.now() - started) / 1000).toFixed(1)} s`)

  let stopping = null
  const stop = (why) => {
    stopping ??= (async () => {
      log(`stopping (${why})`)
      const timer = setTimeout(() => {
        log('did not stop within 20 s: exiting')
        process.exit(1)
      }, 20_000)
      try {
        await network.close()
      } catch (err) {
        log(`while stopping: ${err}`)
      }
      clearTimeout(timer)
      log('stopped')
      process.exit(0)
    })()
    return stopping
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  process.stdin.on('end', () => stop('standard input closed'))
  process.stdin.on('error', () => stop('standard input closed'))
  process.stdin.resume()

  const accounts = []
  for (const handle of handles) accounts.push(await createAccount(network.pds.url, handle))
  // let the AppView index the new profiles before anyone logs in (the SDK's login reads one)
  await network.processAll()
  const ready = {
    ready: true,
    pds: network.pds.url,
    appview: network.bsky.url,
    plc: network.plc.url,
    accounts,
  }
  process.stdout.write(`${JSON.stringify(ready)}\n`)
}

main().catch((err) => {
  log(`failed: ${err?.stack ?? err}`)
  process.exit(1)
})
