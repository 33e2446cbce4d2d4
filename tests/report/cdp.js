/* cdp.js - a headless Chromium driven through the DevTools protocol over a pipe.
 *
 * Chromium's --remote-debugging-pipe reads commands on fd 3 and writes replies and
 * events on fd 4, each a JSON message ended by a NUL byte: no WebSocket, no package.
 * Browser.open() starts it with a fresh profile and the flags that keep it off the
 * network; page() opens a tab and returns a session whose send() resolves with a
 * command's result and whose events are kept in a list (and passed to on()).
 */
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-default-apps', '--disable-extensions', '--mute-audio', '--hide-scrollbars',
  '--remote-debugging-pipe'];

class Browser {
  constructor(proc, dir) {
    this.proc = proc;
    this.dir = dir;
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = [];
    this.buf = Buffer.alloc(0);
    this.stderr = '';
    proc.stdio[4].on('data', (chunk) => this.onData(chunk));
    proc.stderr.on('data', (d) => { this.stderr += d; });
    proc.on('exit', (code) => {
      for (const { reject } of this.pending.values())
        reject(new Error(`chromium exited (${code}): ${this.stderr.slice(-2000)}`));
      this.pending.clear();
    });
  }

  static open(binary) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heapsnap-chromium-'));
    const proc = spawn(binary, [...FLAGS, `--user-data-dir=${dir}`, 'about:blank'],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    return new Browser(proc, dir);
  }

  onData(chunk) {
    this.buf = Buffer.concat([this.buf, chunk]);
    let end;
    while ((end = this.buf.indexOf(0)) >= 0) {
      const msg = JSON.parse(this.buf.subarray(0, end).toString('utf8'));
      this.buf = this.buf.subarray(end + 1);
      if (msg.id && this.pending.has(msg.id)) {
        const { resolve, reject, method } = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error)
          reject(new Error(`${method}: ${msg.error.message}`));
        else
          resolve(msg.result);
      } else if (msg.method) {
        for (const l of this.listeners)
          l(msg);
      }
    }
  }

  send(method, params = {}, sessionId) {
    const id = this.nextId++;
    const msg = { id, method, params };
    if (sessionId)
      msg.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.proc.stdio[3].write(JSON.stringify(msg) + '\0');
    });
  }

  /* A new tab: {send(method, params), events, waitFor(method, timeoutMs)}. */
  async page() {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true });
    const events = [];
    const waiters = [];
    this.listeners.push((msg) => {
      if (msg.sessionId !== sessionId)
        return;
      events.push(msg);
      for (let i = waiters.length - 1; i >= 0; i--)
        if (waiters[i].method === msg.method) {
          waiters[i].resolve(msg.params);
          waiters.splice(i, 1);
        }
    });
    return {
      events,
      send: (method, params) => this.send(method, params, sessionId),
      waitFor: (method, ms = 10000) => new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timeout waiting for ${method}`)), ms);
        waiters.push({ method, resolve: (p) => { clearTimeout(t); resolve(p); } });
      }),
    };
  }

  async close() {
    try {
      await Promise.race([this.send('Browser.close'), new Promise((r) => setTimeout(r, 3000))]);
    } catch (e) { /* it may be gone already */ }
    if (this.proc.exitCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (this.proc.exitCode === null) {
        this.proc.kill('SIGKILL');
        await exited;
      }
    }
    fs.rmSync(this.dir, { recursive: true, force: true, maxRetries: 5 });
  }
}

module.exports = { Browser };
