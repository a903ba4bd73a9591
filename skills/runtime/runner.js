// Atom's Node skill runner: the same protocol as runner.py (see there), for .js / .mjs skills.
//
// Frames are a 4-byte big-endian length and UTF-8 JSON, read from --in and written to --out.
// File descriptors 1 and 2 are the skill's stdout and stderr (captured by the host); fd 0 is
// not used. CommonJS skills are compiled from their source text into a fresh Module per
// content hash; ES modules are imported with the hash in the URL, so a new hash is new code.
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const Module = require("node:module");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const { pathToFileURL } = require("node:url");

const MAX_REQUEST_BYTES = 256 * 1024 * 1024;
const MAX_TRACEBACK_CHARS = 32768;

function parseArguments(argv) {
  const options = { in: null, out: null, cacheSize: 256, sandboxed: false };
  for (let index = 0; index < argv.length; index += 2) {
    const [name, value] = [argv[index], argv[index + 1]];
    if (name === "--sandboxed") {
      options.sandboxed = true;
      index -= 1; // a flag without a value
    } else if (name === "--in") options.in = Number(value);
    else if (name === "--out") options.out = Number(value);
    else if (name === "--cache-size") options.cacheSize = Number(value);
  }
  if (!Number.isInteger(options.in) || !Number.isInteger(options.out)) {
    throw new Error("usage: runner.js --in FD --out FD [--cache-size N]");
  }
  return options;
}

class SourceUnavailable extends Error {}

// In its own PID namespace (bubblewrap), the runner kills every other process of the namespace
// after each call (kill(-1) spares itself and the namespace's init) and removes from /tmp what
// was not there before the first call: nothing a call started or wrote outlives it.
function isLive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

// Zombies are left out: the runner's own are reaped by Node between requests.
function othersInNamespace() {
  try {
    const own = String(process.pid);
    return fs
      .readdirSync("/proc")
      .some((name) => /^\d+$/.test(name) && name !== "1" && name !== own && isLive(name));
  } catch {
    return true;
  }
}

function processesSweep() {
  const deadline = Date.now() + 2000;
  while (othersInNamespace() && Date.now() < deadline) {
    try {
      process.kill(-1, "SIGKILL");
    } catch {
      return;
    }
  }
}

function tmpEntries() {
  try {
    return new Set(fs.readdirSync("/tmp").map((name) => path.join("/tmp", name)));
  } catch {
    return new Set();
  }
}

function tmpSweep(keep) {
  for (const entry of tmpEntries()) {
    if (!keep.has(entry)) fs.rmSync(entry, { recursive: true, force: true });
  }
}

class SkillLoader {
  constructor(capacity) {
    this.capacity = capacity;
    this.cache = new Map(); // skill id -> { contentHash, exports, path }, oldest first
  }

  get(skillId, contentHash) {
    const loaded = this.cache.get(skillId);
    if (!loaded || loaded.contentHash !== contentHash) return null;
    this.cache.delete(skillId);
    this.cache.set(skillId, loaded);
    return loaded;
  }

  async load(skillId, filename, contentHash, source, exact) {
    if (contentHash) {
      const hit = this.get(skillId, contentHash);
      if (hit) return [hit, "hit"];
    }
    let text = source;
    if (text === undefined || text === null) {
      try {
        text = fs.readFileSync(filename, "utf8");
      } catch (error) {
        throw new SourceUnavailable(`${filename}: ${error.message}`);
      }
    }
    const actualHash = crypto.createHash("sha256").update(text, "utf8").digest("hex");
    if (exact && contentHash && actualHash !== contentHash) {
      if (source !== undefined && source !== null) {
        throw new Error(`the source sent for ${skillId} does not have its content hash`);
      }
      throw new SourceUnavailable(`${filename} holds another version than ${contentHash}`);
    }
    const hit = this.get(skillId, actualHash);
    if (hit) return [hit, "hit"];
    const previous = this.cache.get(skillId);
    this.cache.delete(skillId);
    const moduleExports = filename.endsWith(".mjs")
      ? await importESM(filename, actualHash, source)
      : compileCommonJS(filename, text);
    const loaded = { contentHash: actualHash, exports: moduleExports, path: filename };
    this.cache.set(skillId, loaded);
    while (this.cache.size > this.capacity) {
      this.cache.delete(this.cache.keys().next().value);
    }
    return [loaded, previous ? "reloaded" : "loaded"];
  }

  unload(skillId) {
    return this.cache.delete(skillId);
  }

  clear() {
    const count = this.cache.size;
    this.cache.clear();
    return count;
  }
}

// An ES module cannot be compiled from text and still resolve its imports, so it is imported
// from its file (the hash in the URL makes a new version a new module). When the host had to
// send the source (the file is outside the sandbox's view), it is written to a private file.
async function importESM(filename, contentHash, source) {
  let target = filename;
  if (source !== undefined && source !== null) {
    const directory = path.join(os.tmpdir(), "atom-esm");
    fs.mkdirSync(directory, { recursive: true });
    target = path.join(directory, `${contentHash}.mjs`);
    fs.writeFileSync(target, source, "utf8");
  }
  return import(`${pathToFileURL(target).href}?atom=${contentHash}`);
}

function compileCommonJS(filename, source) {
  const module = new Module(filename, null);
  module.filename = filename;
  module.paths = Module._nodeModulePaths(path.dirname(filename));
  module._compile(source, filename);
  return module.exports;
}

function errorInfo(type, message, traceback = "") {
  return { type, message, traceback: String(traceback).slice(-MAX_TRACEBACK_CHARS) };
}

function exceptionInfo(error) {
  if (error instanceof Error) {
    return errorInfo(error.name || error.constructor.name, error.message, error.stack || "");
  }
  return errorInfo("Error", `the skill threw a non-Error value: ${String(error)}`);
}

function writeFrame(fd, answer) {
  const body = Buffer.from(JSON.stringify(answer), "utf8");
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length, 0);
  const frame = Buffer.concat([header, body]);
  let offset = 0;
  while (offset < frame.length) {
    offset += fs.writeSync(fd, frame, offset, frame.length - offset);
  }
}

// VmHWM, because maxRSS survives exec and would report the peak of the process that forked us.
function peakRssKb() {
  try {
    const match = /^VmHWM:\s+(\d+)/m.exec(fs.readFileSync("/proc/self/status", "utf8"));
    if (match) return Number(match[1]);
  } catch (error) {
    // not Linux: fall through
  }
  return process.resourceUsage().maxRSS;
}

class Runner {
  constructor(loader, sandboxed) {
    this.loader = loader;
    this.baseDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-runner-"));
    process.chdir(this.baseDir);
    this.sandboxed = sandboxed;
    this.tmpAtStart = sandboxed ? tmpEntries() : new Set();
  }

  async handle(request) {
    switch (request.op) {
      case "call":
        return this.call(request);
      case "load":
        return this.load(request);
      case "unload":
        return { ok: true, unloaded: this.loader.unload(request.skill_id) };
      case "clear":
        return { ok: true, cleared: this.loader.clear() };
      case "stats":
        return {
          ok: true,
          pid: process.pid,
          loaded: [...this.loader.cache].map(([id, item]) => [id, item.contentHash]),
          capacity: this.loader.capacity,
          peak_rss_kb: peakRssKb(),
        };
      case "ping":
        return { ok: true };
      default:
        return { ok: false, error: errorInfo("ProtocolError", `unknown op ${request.op}`) };
    }
  }

  async load(request) {
    try {
      const [loaded, status] = await this.loader.load(
        request.skill_id,
        request.path,
        request.content_hash,
        request.source,
        Boolean(request.exact),
      );
      return { ok: true, cache: status, content_hash: loaded.contentHash };
    } catch (error) {
      if (error instanceof SourceUnavailable) return { ok: false, need_source: true };
      return { ok: false, error: exceptionInfo(error) };
    }
  }

  async call(request) {
    const answer = { ok: false, cache: null, content_hash: null, load_seconds: 0, duration_seconds: 0 };
    const limits = request.limits || {};
    const workDir = fs.mkdtempSync(path.join(this.baseDir, "call-"));
    process.chdir(workDir);
    try {
      await this.run(request, answer, limits);
    } catch (error) {
      if (error instanceof SourceUnavailable) return { ok: false, need_source: true };
      answer.error = exceptionInfo(error);
    } finally {
      process.chdir(this.baseDir);
      fs.rmSync(workDir, { recursive: true, force: true });
      if (this.sandboxed) {
        processesSweep();
        tmpSweep(this.tmpAtStart);
      }
    }
    answer.peak_rss_kb = peakRssKb();
    return answer;
  }

  async run(request, answer, limits) {
    let started = process.hrtime.bigint();
    let loaded;
    let status;
    try {
      [loaded, status] = await this.loader.load(
        request.skill_id,
        request.path,
        request.content_hash,
        request.source,
        Boolean(request.exact),
      );
    } catch (error) {
      if (error instanceof SourceUnavailable) throw error;
      answer.error = { ...exceptionInfo(error), stage: "load" };
      return;
    }
    answer.cache = status;
    answer.content_hash = loaded.contentHash;
    answer.load_seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const entrypoint = request.entrypoint || "run";
    const moduleExports = loaded.exports;
    const candidate =
      moduleExports && typeof moduleExports[entrypoint] === "function"
        ? moduleExports[entrypoint]
        : moduleExports && moduleExports.default && typeof moduleExports.default[entrypoint] === "function"
          ? moduleExports.default[entrypoint]
          : null;
    if (!candidate) {
      answer.error = errorInfo("EntrypointNotFound", `${loaded.path} exports no function ${entrypoint}`);
      return;
    }
    started = process.hrtime.bigint();
    let result;
    try {
      result = await candidate(request.params || {});
    } finally {
      answer.duration_seconds = Number(process.hrtime.bigint() - started) / 1e9;
    }
    let encoded;
    try {
      encoded = JSON.stringify(result === undefined ? null : result);
    } catch (error) {
      answer.error = errorInfo(
        "ResultNotSerializable",
        `the skill returned a value JSON cannot encode: ${error.name}: ${error.message}`,
      );
      return;
    }
    const maxBytes = limits.max_result_bytes || 16 * 1024 * 1024;
    if (encoded !== undefined && Buffer.byteLength(encoded, "utf8") > maxBytes) {
      answer.error = errorInfo("ResultTooLarge", `the result is over the limit of ${maxBytes} bytes`);
      return;
    }
    answer.result = encoded === undefined ? null : JSON.parse(encoded);
    answer.ok = true;
  }
}

function serve(options) {
  const runner = new Runner(new SkillLoader(options.cacheSize), options.sandboxed);
  const input = new net.Socket({ fd: options.in, readable: true, writable: false });
  let pending = Buffer.alloc(0);
  let busy = Promise.resolve();

  writeFrame(options.out, { ready: true, pid: process.pid, node: process.version });

  input.on("data", (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const size = pending.readUInt32BE(0);
      if (size > MAX_REQUEST_BYTES) throw new Error(`request frame of ${size} bytes is too large`);
      if (pending.length < 4 + size) break;
      const request = JSON.parse(pending.subarray(4, 4 + size).toString("utf8"));
      pending = pending.subarray(4 + size);
      busy = busy.then(async () => writeFrame(options.out, await runner.handle(request)));
    }
  });
  input.on("end", () => busy.then(() => process.exit(0)));
}

// A skill's stray timer or unawaited promise must not take the runner down between calls.
process.on("uncaughtException", (error) => process.stderr.write(`uncaught: ${error.stack || error}\n`));
process.on("unhandledRejection", (error) => process.stderr.write(`unhandled: ${error && error.stack || error}\n`));

serve(parseArguments(process.argv.slice(2)));
